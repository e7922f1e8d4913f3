//! Group commit: concurrent requests queued and decided in batches, one
//! transaction per batch.
//!
//! Booking inserts and calendar auto-placements lock what they touch from
//! their reads to commit, and at a few thousand requests per second the
//! round trips and commits of one transaction each were the whole cost. A
//! [`GroupCommit`] queues the requests; a batch loop takes every request
//! queued (up to a maximum) and hands them to the module's batch function,
//! which decides them in arrival order inside one transaction and returns
//! one answer per request. A request waits at most for the batch in
//! progress; a lone request is a batch of one.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};

use crate::http::problem::Problem;

type Job<J, A> = (J, oneshot::Sender<A>);

/// How a queue forms its batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchShape {
    /// Most requests decided in one batch.
    pub max: usize,
    /// Batch loops (more than one lets PostgreSQL work on one batch while
    /// the next is decided).
    pub workers: usize,
    /// When fewer requests are queued than half the last batch had, wait
    /// up to this long for the rest: the clients the last batch answered
    /// send their next requests a moment later, and without the wait a
    /// batch of one (a whole transaction) runs in front of each full one.
    /// A lone client (last batch of one) never waits.
    pub linger: Option<Duration>,
    /// Run the batch loops on a runtime of their own, in a thread of its
    /// own, rather than among the caller's tasks (see [`GroupCommit::start`]).
    pub own_thread: bool,
}

pub struct GroupCommit<J, A> {
    queue: mpsc::Sender<Job<J, A>>,
}

impl<J, A> Clone for GroupCommit<J, A> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<J: Send + 'static, A: Send + 'static> GroupCommit<J, A> {
    /// Starts the batch loops; must be called inside a tokio runtime.
    /// `decide` gets the batch in arrival order and must return one answer
    /// per request, in the same order.
    pub fn start<F, Fut>(shape: BatchShape, decide: F) -> Self
    where
        F: Fn(Vec<J>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<A>> + Send,
    {
        let max = shape.max.max(1);
        let (queue, receiver) = mpsc::channel::<Job<J, A>>(4 * max);
        let receiver = Arc::new(Mutex::new(receiver));
        let decide = Arc::new(decide);
        let loops = (0..shape.workers.max(1)).map(|_| {
            let (receiver, decide) = (receiver.clone(), decide.clone());
            async move {
                let mut last = 1;
                loop {
                    let batch = {
                        let mut rx = receiver.lock().await;
                        let Some(first) = rx.recv().await else {
                            return;
                        };
                        collect(&mut rx, first, last, max, shape.linger).await
                    };
                    last = batch.len();
                    let (jobs, replies): (Vec<J>, Vec<_>) = batch.into_iter().unzip();
                    let answers = decide(jobs).await;
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        // The requester may have gone (client disconnected).
                        let _ = reply.send(answer);
                    }
                }
            }
        });
        let loops: Vec<_> = loops.collect();
        if shape.own_thread {
            spawn_own_thread(loops);
        } else {
            for l in loops {
                tokio::spawn(l);
            }
        }
        Self { queue }
    }

    /// Queues `job` and waits for its batch's answer.
    pub async fn submit(&self, job: J) -> Result<A, Problem> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((job, reply))
            .await
            .map_err(|_| Problem::unavailable("the server is shutting down"))?;
        answer
            .await
            .map_err(|_| Problem::internal(&"the batch holding this request was dropped"))
    }
}

/// Runs `loops` to their end (when every sender of their queue is gone) on
/// a single-threaded runtime in a new thread. A batch holds its calendars'
/// locks across several round trips, and among the HTTP tasks each of its
/// wake-ups waited for a worker thread to come free: on a busy two-core
/// machine, a third of a batch's time under the locks.
fn spawn_own_thread<L: Future<Output = ()> + Send + 'static>(loops: Vec<L>) {
    // Either the new thread takes the loops, or (no thread or runtime to
    // be had) they run among the caller's tasks: never lost.
    let handed = Arc::new(std::sync::Mutex::new(Some(loops)));
    let taken = handed.clone();
    let started = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| {
            std::thread::Builder::new()
                .name("allot-batches".into())
                .spawn(move || {
                    let loops = taken.lock().map(|mut l| l.take()).ok().flatten();
                    runtime.block_on(async move {
                        let tasks: Vec<_> = loops.into_iter().flatten().map(tokio::spawn).collect();
                        for t in tasks {
                            let _ = t.await;
                        }
                    })
                })
                .map_err(|e| e.to_string())
        });
    if let Err(error) = started {
        tracing::warn!(%error, "no thread for the batch loops; they run on the caller's runtime");
        let loops = handed.lock().map(|mut l| l.take()).ok().flatten();
        for l in loops.into_iter().flatten() {
            tokio::spawn(l);
        }
    }
}

/// Takes what is queued after `first`, lingering as [`BatchShape`] says.
async fn collect<T>(
    rx: &mut mpsc::Receiver<T>,
    first: T,
    last: usize,
    max: usize,
    linger: Option<Duration>,
) -> Vec<T> {
    let mut batch = vec![first];
    let deadline = linger.map(|l| tokio::time::Instant::now() + l);
    while batch.len() < max {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => match deadline {
                Some(deadline) if batch.len() * 2 <= last => {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(job)) => batch.push(job),
                        _ => break,
                    }
                }
                _ => break,
            },
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_go_back_to_their_requests_in_batches() {
        answers_in_batches(false).await;
    }

    #[tokio::test]
    async fn loops_on_their_own_thread_answer_the_same() {
        answers_in_batches(true).await;
    }

    async fn answers_in_batches(own_thread: bool) {
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let queue: GroupCommit<u32, u32> = GroupCommit::start(
            BatchShape {
                max: 8,
                workers: 1,
                linger: Some(Duration::from_millis(5)),
                own_thread,
            },
            move |jobs: Vec<u32>| {
                seen.lock().unwrap().push(jobs.len());
                async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    jobs.iter().map(|j| j * 10).collect()
                }
            },
        );
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let q = queue.clone();
                tokio::spawn(async move { q.submit(i).await })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), i as u32 * 10);
        }
        let sizes = sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes.iter().all(|n| *n <= 8), "{sizes:?}");
        assert!(sizes.len() < 20, "requests were batched: {sizes:?}");
    }
}
