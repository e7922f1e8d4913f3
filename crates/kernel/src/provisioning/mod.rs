//! Provisioning: when to call a cloud provider's `start()` and `stop()` so
//! that every exam has one fresh VM per student by its start, and, when
//! the provider cannot keep up, exactly how many it will have.
//!
//! The provider is slow and shared. It allocates one VM per P (6 s at 10 a
//! minute), first come first served, so a day holds at most 14,400 VMs and
//! a morning of overlapping 2,500-student exams cannot all be served. VMs
//! are never reused, so every VM ready early is paid for while it idles.
//! The planner therefore decides, for every exam, which VMs can be ready
//! in time, gives the rest as soon as possible, and asks for everything as
//! late as that allows; and it says so as soon as an exam is known, in a
//! [`Forecast`].
//!
//! [`plan`] is a pure function of the exams, the executor's ledger of VMs
//! ([`Vm`]), `now` and a [`Profile`]. Nothing here reads a clock, performs
//! IO or panics on any input; arithmetic saturates. The executor's loop is:
//! plan; sleep until [`Plan::next_call_at`]; for each call that is due,
//! write the intent to the ledger (pending, `requested_at = now`), call the
//! provider, record the outcome; replan. Replanning after every change (a
//! new or moved exam, a VM ready or failed) is cheap: the cost depends on
//! the number of exams and ledger rows, never on the number of students.
//!
//! # The provider model
//!
//! A VM requested at `t` is allocated at `max(t, previous allocation) + P`
//! and ready at allocation + B. Calls to one endpoint are at least the
//! request interval apart (`start` and `stop` separately). The ledger's
//! pending VMs are the provider's queue, replayed in `requested_at` order;
//! a pending VM the model expected before `now` is taken to be ready at
//! `now` at the earliest and the queue behind it moves back (see
//! `pipeline.rs`). Ready VMs are ready at their `at`.
//!
//! New VMs come after the queue: the first is ready at the earliest at
//! `f = max(now, last allocation, last request + interval) + P + B`, and
//! their ready times are at least `P_eff = max(P, interval)` apart
//! ([`Profile::spacing`]). Each call is made at `ready - B - P`, the latest
//! time that still gives that ready time, so nothing is asked for earlier
//! than needed (and a cancelled exam costs fewer VMs). These calls are
//! `P_eff` apart, so the rate limit holds and each finds the queue empty:
//! any ready times `r_1 < r_2 < ...` with `r_1 >= f` and gaps of at least
//! `P_eff` are reachable, and are exactly what the provider delivers.
//! When the request interval is at most P (the defaults: 1/3 s against
//! 6 s) this is every schedule the provider allows. When it is longer,
//! calls made while a backlog drains could come out only P apart; the plan
//! does not count on that, so it is then a little pessimistic, never wrong.
//!
//! # Slots
//!
//! An exam of `students` has slots `0..students`, each the key ([`VmKey`])
//! of one VM. A slot held by a pending or ready VM gets no new start; every
//! other slot gets exactly one. Live VMs of exams not in the input
//! (cancelled, deleted), of slots at or above `students` (the exam shrank)
//! and duplicates on one key are stopped at `now`. Failed VMs hold nothing,
//! so their slot is started again.
//!
//! # The objective
//!
//! Over all new VMs, lexicographically: (a) as many ready by their exam's
//! deadline (`start - margin`) as possible; (b) then the least total
//! lateness of the others; (c) then the least total idle before the
//! deadlines, `sum (deadline - ready)` over the VMs on time. Ledger VMs are
//! fixed and add the same to every plan.
//!
//! # The algorithm
//!
//! Let `n` be the number of new VMs and `g_k = f + k * P_eff` (`k < n`) the
//! grid: the earliest ready times there are. Exam by exam (see `fill.rs`):
//!
//! 1. in deadline order, each exam takes the next grid points that are at
//!    or before its deadline (forward EDF); those VMs are on time, the rest
//!    of the exam's VMs late;
//! 2. the on-time VMs are packed backwards on the grid, latest deadline
//!    first, each exam one block as high as its deadline and the block
//!    above allow; the grid points left over are holes;
//! 3. the late VMs fill the holes from the bottom, earliest deadline first;
//! 4. above the highest hole, the blocks leave the grid and are packed
//!    backwards in continuous time: each ends at its deadline, or one
//!    `P_eff` before the block above if that is earlier. With nothing late
//!    there is no hole and the whole plan is this backward pack.
//!
//! # Why it is optimal
//!
//! *Packing.* The i-th earliest ready time of any plan is at least
//! `g_{i-1}`. If a plan has a late VM and a gap larger than `P_eff` before
//! its last late VM (or starts after `f`), moving the stretch up to that VM
//! earlier keeps every on-time VM on time and makes a late one less late,
//! so an optimal plan has all ready times up to its last late VM on the
//! grid. Moving every ready time down to its grid point never hurts (a) or
//! (b); so (a) and (b) are decided on the grid alone.
//!
//! *(a) and (b) on the grid.* With S the on-time VMs and L the late ones,
//! total lateness is `sum_L (g - d) = sum_all g - sum_all d + sum_S (d - g)`:
//! (b) asks for the largest S with the least slack `sum_S (d - g)`, that
//! is, S with small deadlines and high grid points. A VM with deadline d
//! may use grid points `0..cap(d)`, nested sets, so the sets that can be on
//! time form a matroid; forward EDF is its greedy algorithm by increasing
//! deadline, so S is as large as possible and has the smallest deadlines.
//! The backward pack gives S the highest grid points any placement of it
//! has. No exchange helps: swapping an EDF-chosen VM `a` for a rejected `b`
//! either makes S infeasible (b came first: its grid points were full) or
//! leaves the grid points as they are (b came later: the points up to
//! `cap(b)` are full of S's VMs either way) while adding `d_b - d_a >= 0`
//! of slack. The slack is an assignment valuation minus a linear term, an
//! M-concave function of S (Murota), for which a set no single exchange
//! improves is optimal. Any placement of L on the holes has the same total
//! lateness, and every hole is after the deadline of whatever VM of L it
//! gets (otherwise S was not largest); deadline order gives the earliest
//! exams their VMs first.
//!
//! *(c).* S's grid points, hence the holes and the highest hole, are the
//! same in every plan optimal for (a) and (b), and by *packing* everything
//! up to the highest hole stays on the grid. Above it every VM is on time
//! and later is strictly better for (c); the latest placement of unit jobs
//! with deadlines and a minimum gap is the backward latest-deadline-first
//! pack, and the VMs worth lifting are those with the latest deadlines,
//! which are exactly the blocks above the highest hole.
//!
//! The property tests check all of this against an exhaustive search over
//! every integer-valued schedule of small instances (`tests/oracle.rs`).
//!
//! # Cost
//!
//! O(E log E + V log V) for E exams and V ledger rows: the schedule is
//! computed per exam and per gap between exams' blocks, and comes out as
//! [`StartRun`]s (consecutive slots of one exam, one `P_eff` apart), not as
//! one row per VM. 1,000 exams of 2,500 students plan in well under a
//! millisecond (`tests/speed.rs`).

mod fill;
mod forecast;
mod model;
mod pipeline;
mod plan;
mod profile;
mod runs;
mod seats;
mod stops;

pub use crate::booking::Micros;
pub use forecast::Forecast;
pub use model::{Exam, ExamId, Vm, VmKey, VmState};
pub use plan::{Plan, plan};
pub use profile::Profile;
pub use runs::{StartCall, StartRun};
pub use stops::StopCall;

#[cfg(test)]
mod tests;
