//! An AVL tree of change points: each key is an instant where the number of
//! covering spans changes, holding the net change (the delta) there. Every
//! node also knows its subtree's total delta and the highest and lowest
//! running total (prefix sum) reached inside it, so "how many spans cover
//! t", "most spans at once over a range" and "first instant where the count
//! crosses a level" are all single root-to-leaf walks.
//!
//! AVL rather than a treap: its height is at most about 1.44·log2(n) for
//! every insertion order, so neither time nor the (height-deep) recursion
//! depends on luck or on times chosen by an adversary. Nodes live in a `Vec`
//! arena addressed by index, with a free list, so the tree is one allocation
//! that clones cheaply and has no pointer juggling.
//!
//! Only keys with a non-zero delta are stored. That keeps the tree minimal
//! and means the count really changes at every stored key, which
//! [`DeltaTree::after`] callers rely on to produce maximal pieces.

use std::cmp::Ordering;

use super::span::Micros;

/// The index that means "no node".
const NIL: usize = usize::MAX;

#[derive(Debug, Clone)]
struct Node {
    key: Micros,
    /// Net change in the count at `key`; never zero for a linked node.
    delta: i64,
    left: usize,
    right: usize,
    /// Height of the subtree rooted here; a leaf has height 1.
    height: u8,
    /// Sum of the deltas in this subtree.
    sum: i64,
    /// Sum of the deltas of the left subtree and this key: the prefix sum
    /// at `key` within this subtree. Kept here so that a descent does not
    /// read the left child (a likely cache miss) just for its sum.
    upto: i64,
    /// Highest prefix sum over this subtree's keys in order, counting from
    /// zero at the subtree's first key.
    max_prefix: i64,
    /// Lowest such prefix sum.
    min_prefix: i64,
}

/// What a search for the first qualifying key looks for.
#[derive(Debug, Clone, Copy)]
pub(super) enum Goal {
    /// A running total of at least this much.
    AtLeast(i64),
    /// A running total below this.
    Below(i64),
}

impl Goal {
    fn hits(self, total: i64) -> bool {
        match self {
            Goal::AtLeast(level) => total >= level,
            Goal::Below(level) => total < level,
        }
    }
}

/// A sorted map from instant to non-zero delta with prefix-sum queries.
#[derive(Debug, Clone)]
pub(super) struct DeltaTree {
    nodes: Vec<Node>,
    /// Arena slots released by removals, reused before the arena grows.
    free: Vec<usize>,
    root: usize,
}

impl Default for DeltaTree {
    fn default() -> Self {
        DeltaTree {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
        }
    }
}

impl DeltaTree {
    /// A tree holding `points`, which must be sorted by strictly increasing
    /// key with non-zero deltas. Builds a perfectly balanced tree in O(n).
    pub(super) fn from_sorted(points: &[(Micros, i64)]) -> Self {
        let mut tree = DeltaTree {
            nodes: Vec::with_capacity(points.len()),
            ..DeltaTree::default()
        };
        tree.root = tree.build(points);
        tree
    }

    fn build(&mut self, points: &[(Micros, i64)]) -> usize {
        if points.is_empty() {
            return NIL;
        }
        let mid = points.len() / 2;
        let left = self.build(&points[..mid]);
        let right = self.build(&points[mid + 1..]);
        let (key, delta) = points[mid];
        let n = self.alloc(key, delta);
        self.nodes[n].left = left;
        self.nodes[n].right = right;
        self.update(n);
        n
    }

    /// Adds `delta` to the change at `key`, creating the key or dropping it
    /// when its delta becomes zero.
    pub(super) fn add(&mut self, key: Micros, delta: i64) {
        if delta != 0 {
            self.root = self.adjust(self.root, key, delta);
        }
    }

    /// Sum of the deltas at keys `<= t`: the count at instant `t`.
    pub(super) fn prefix_at(&self, t: Micros) -> i64 {
        let mut total = 0;
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n];
            if node.key <= t {
                total += node.upto;
                n = node.right;
            } else {
                n = node.left;
            }
        }
        total
    }

    /// The highest prefix sum at any key `k` with `lo < k < hi`, or `None`
    /// if there is no such key.
    pub(super) fn max_prefix_between(&self, lo: Micros, hi: Micros) -> Option<i64> {
        // Walk down to the highest node inside the interval; everything in
        // the interval is in its subtree.
        let mut base = 0;
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n];
            if node.key <= lo {
                base += node.upto;
                n = node.right;
            } else if node.key >= hi {
                n = node.left;
            } else {
                break;
            }
        }
        if n == NIL {
            return None;
        }
        let split = &self.nodes[n];
        let own = base + split.upto;
        let mut best = own;
        // Left of the split node every key is below `hi`; keep those above
        // `lo`: at each node above `lo`, it and its whole right subtree
        // count.
        let mut total = base;
        let mut m = split.left;
        while m != NIL {
            let node = &self.nodes[m];
            let at = total + node.upto;
            if node.key <= lo {
                total = at;
                m = node.right;
            } else {
                best = best.max(at);
                if node.right != NIL {
                    best = best.max(at + self.nodes[node.right].max_prefix);
                }
                m = node.left;
            }
        }
        // Right of it every key is above `lo`; keep those below `hi`.
        let mut total = own;
        let mut m = split.right;
        while m != NIL {
            let node = &self.nodes[m];
            if node.key >= hi {
                m = node.left;
            } else {
                if node.left != NIL {
                    best = best.max(total + self.nodes[node.left].max_prefix);
                }
                total += node.upto;
                best = best.max(total);
                m = node.right;
            }
        }
        Some(best)
    }

    /// The first instant `t` in `[from, until)` whose count (the prefix sum
    /// at `t`) meets `goal`: `from` itself, or else a key after it, since
    /// the count only changes at keys. `until = None` searches on to the
    /// end.
    pub(super) fn first_from(
        &self,
        from: Micros,
        until: Option<Micros>,
        goal: Goal,
    ) -> Option<Micros> {
        self.first_from_in(self.root, 0, from, until, goal)
            .filter(|&t| until.is_none_or(|u| t < u))
    }

    /// [`DeltaTree::first_from`] within the subtree `n`, whose keys start
    /// from the running total `base`. The recursion follows the search path
    /// for `from`, so its depth is at most the tree's height, and the path
    /// ends (at `NIL`) with `base` equal to the count at `from`: checking
    /// `from` costs no second walk. Nothing at or after `until` is looked
    /// at beyond the path: an admission check that fits costs one descent,
    /// not a second one to find the next overflow somewhere later.
    fn first_from_in(
        &self,
        n: usize,
        base: i64,
        from: Micros,
        until: Option<Micros>,
        goal: Goal,
    ) -> Option<Micros> {
        if n == NIL {
            return goal.hits(base).then_some(from);
        }
        let node = &self.nodes[n];
        let own = base + node.upto;
        if node.key <= from {
            return self.first_from_in(node.right, own, from, until, goal);
        }
        // Everything in the left subtree above `from` comes first, then this
        // key, then the whole right subtree.
        if let Some(t) = self.first_from_in(node.left, base, from, until, goal) {
            return Some(t);
        }
        if until.is_some_and(|u| node.key >= u) {
            return None;
        }
        if goal.hits(own) {
            return Some(node.key);
        }
        self.first_in(node.right, own, goal)
    }

    /// The first key in the whole subtree `n` whose prefix sum (starting
    /// from `base`) meets `goal`. The subtree extremes say exactly whether
    /// a subtree holds one, so this never backtracks.
    fn first_in(&self, mut n: usize, mut base: i64, goal: Goal) -> Option<Micros> {
        if !self.reaches(n, base, goal) {
            return None;
        }
        while n != NIL {
            let node = &self.nodes[n];
            if self.reaches(node.left, base, goal) {
                n = node.left;
                continue;
            }
            let own = base + node.upto;
            if goal.hits(own) {
                return Some(node.key);
            }
            base = own;
            n = node.right;
        }
        None
    }

    /// Whether some prefix sum in subtree `n`, starting from `base`, meets
    /// `goal`.
    fn reaches(&self, n: usize, base: i64, goal: Goal) -> bool {
        if n == NIL {
            return false;
        }
        let node = &self.nodes[n];
        match goal {
            Goal::AtLeast(_) => goal.hits(base + node.max_prefix),
            Goal::Below(_) => goal.hits(base + node.min_prefix),
        }
    }

    /// The keys above `lo` in increasing order, with their deltas.
    pub(super) fn after(&self, lo: Micros) -> After<'_> {
        let mut stack = Vec::new();
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n];
            if node.key > lo {
                stack.push(n);
                n = node.left;
            } else {
                n = node.right;
            }
        }
        After { tree: self, stack }
    }

    /// Number of keys held.
    #[cfg(test)]
    pub(super) fn key_count(&self) -> usize {
        self.nodes.len() - self.free.len()
    }

    fn sum(&self, n: usize) -> i64 {
        if n == NIL { 0 } else { self.nodes[n].sum }
    }

    fn height(&self, n: usize) -> u8 {
        if n == NIL { 0 } else { self.nodes[n].height }
    }

    fn alloc(&mut self, key: Micros, delta: i64) -> usize {
        let node = Node {
            key,
            delta,
            left: NIL,
            right: NIL,
            height: 1,
            sum: delta,
            upto: delta,
            max_prefix: delta,
            min_prefix: delta,
        };
        match self.free.pop() {
            Some(n) => {
                self.nodes[n] = node;
                n
            }
            None => {
                self.nodes.push(node);
                self.nodes.len() - 1
            }
        }
    }

    /// Adds `delta` at `key` inside subtree `n`; returns the subtree's new
    /// root.
    fn adjust(&mut self, n: usize, key: Micros, delta: i64) -> usize {
        if n == NIL {
            return self.alloc(key, delta);
        }
        match key.cmp(&self.nodes[n].key) {
            Ordering::Less => {
                let left = self.adjust(self.nodes[n].left, key, delta);
                self.nodes[n].left = left;
            }
            Ordering::Greater => {
                let right = self.adjust(self.nodes[n].right, key, delta);
                self.nodes[n].right = right;
            }
            Ordering::Equal => {
                let merged = self.nodes[n].delta + delta;
                if merged == 0 {
                    return self.unlink(n);
                }
                self.nodes[n].delta = merged;
            }
        }
        self.rebalance(n)
    }

    /// Removes node `n` from its subtree; returns the subtree's new root.
    fn unlink(&mut self, n: usize) -> usize {
        let (left, right) = (self.nodes[n].left, self.nodes[n].right);
        self.free.push(n);
        if left == NIL {
            return right;
        }
        if right == NIL {
            return left;
        }
        let (rest, successor) = self.detach_min(right);
        self.nodes[successor].left = left;
        self.nodes[successor].right = rest;
        self.rebalance(successor)
    }

    /// Detaches the smallest node of subtree `n`; returns the subtree's new
    /// root and the detached node.
    fn detach_min(&mut self, n: usize) -> (usize, usize) {
        let left = self.nodes[n].left;
        if left == NIL {
            return (self.nodes[n].right, n);
        }
        let (rest, min) = self.detach_min(left);
        self.nodes[n].left = rest;
        (self.rebalance(n), min)
    }

    /// Recomputes `n` from its children and restores the AVL balance at
    /// `n`; returns the subtree's new root.
    fn rebalance(&mut self, n: usize) -> usize {
        self.update(n);
        let (left, right) = (self.nodes[n].left, self.nodes[n].right);
        let (hl, hr) = (self.height(left), self.height(right));
        if hl > hr + 1 {
            if self.height(self.nodes[left].left) < self.height(self.nodes[left].right) {
                self.nodes[n].left = self.rotate_left(left);
            }
            self.rotate_right(n)
        } else if hr > hl + 1 {
            if self.height(self.nodes[right].right) < self.height(self.nodes[right].left) {
                self.nodes[n].right = self.rotate_right(right);
            }
            self.rotate_left(n)
        } else {
            n
        }
    }

    fn rotate_left(&mut self, n: usize) -> usize {
        let up = self.nodes[n].right;
        self.nodes[n].right = self.nodes[up].left;
        self.nodes[up].left = n;
        self.update(n);
        self.update(up);
        up
    }

    fn rotate_right(&mut self, n: usize) -> usize {
        let up = self.nodes[n].left;
        self.nodes[n].left = self.nodes[up].right;
        self.nodes[up].right = n;
        self.update(n);
        self.update(up);
        up
    }

    /// Recomputes `n`'s height and aggregates from its children.
    fn update(&mut self, n: usize) {
        let (left, right, delta) = {
            let node = &self.nodes[n];
            (node.left, node.right, node.delta)
        };
        let own = self.sum(left) + delta;
        let mut max_prefix = own;
        let mut min_prefix = own;
        if left != NIL {
            max_prefix = max_prefix.max(self.nodes[left].max_prefix);
            min_prefix = min_prefix.min(self.nodes[left].min_prefix);
        }
        if right != NIL {
            max_prefix = max_prefix.max(own + self.nodes[right].max_prefix);
            min_prefix = min_prefix.min(own + self.nodes[right].min_prefix);
        }
        let height = 1 + self.height(left).max(self.height(right));
        let sum = own + self.sum(right);
        let node = &mut self.nodes[n];
        node.height = height;
        node.sum = sum;
        node.upto = own;
        node.max_prefix = max_prefix;
        node.min_prefix = min_prefix;
    }

    /// Checks order, balance, stored aggregates and the arena bookkeeping;
    /// returns the keys in order with their deltas.
    #[cfg(test)]
    pub(super) fn assert_invariants(&self) -> Vec<(Micros, i64)> {
        let mut keys = Vec::new();
        let mut seen = vec![false; self.nodes.len()];
        self.check_subtree(self.root, &mut keys, &mut seen);
        for &n in &self.free {
            assert!(!seen[n], "a freed node is still linked");
            seen[n] = true;
        }
        assert!(
            seen.iter().all(|&s| s),
            "an arena slot is neither linked nor free"
        );
        assert!(
            keys.windows(2).all(|w| w[0].0 < w[1].0),
            "keys out of order"
        );
        assert!(keys.iter().all(|&(_, d)| d != 0), "a zero delta is stored");
        keys
    }

    /// Returns (height, sum, max_prefix, min_prefix) of subtree `n`.
    #[cfg(test)]
    fn check_subtree(
        &self,
        n: usize,
        keys: &mut Vec<(Micros, i64)>,
        seen: &mut [bool],
    ) -> Option<(u8, i64, i64, i64)> {
        if n == NIL {
            return None;
        }
        assert!(!seen[n], "a node is linked twice");
        seen[n] = true;
        let node = &self.nodes[n];
        let left = self.check_subtree(node.left, keys, seen);
        keys.push((node.key, node.delta));
        let right = self.check_subtree(node.right, keys, seen);
        let (hl, sl, maxl, minl) = left.map_or((0, 0, None, None), |(h, s, mx, mn)| {
            (h, s, Some(mx), Some(mn))
        });
        let own = sl + node.delta;
        let (hr, sr, maxr, minr) = right.map_or((0, 0, None, None), |(h, s, mx, mn)| {
            (h, s, Some(own + mx), Some(own + mn))
        });
        assert!(hl.abs_diff(hr) <= 1, "unbalanced at key {}", node.key);
        let height = 1 + hl.max(hr);
        let max = [maxl, Some(own), maxr].into_iter().flatten().max();
        let min = [minl, Some(own), minr].into_iter().flatten().min();
        assert_eq!(node.height, height);
        assert_eq!(node.sum, own + sr);
        assert_eq!(node.upto, own);
        assert_eq!(Some(node.max_prefix), max);
        assert_eq!(Some(node.min_prefix), min);
        Some((height, own + sr, node.max_prefix, node.min_prefix))
    }
}

/// In-order iterator over the keys above a bound; see [`DeltaTree::after`].
pub(super) struct After<'t> {
    tree: &'t DeltaTree,
    /// Nodes whose own key and right subtree are still to come, the next
    /// one on top; at most the tree's height deep.
    stack: Vec<usize>,
}

impl Iterator for After<'_> {
    type Item = (Micros, i64);

    fn next(&mut self) -> Option<Self::Item> {
        let n = self.stack.pop()?;
        let node = &self.tree.nodes[n];
        let mut m = node.right;
        while m != NIL {
            self.stack.push(m);
            m = self.tree.nodes[m].left;
        }
        Some((node.key, node.delta))
    }
}
