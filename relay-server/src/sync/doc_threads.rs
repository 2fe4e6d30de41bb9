//! The threads the relay's documents run on (samod's `DocExecutor`): threads that sleep on one queue when
//! there is nothing to do. A document gets a short job per message (a keystroke; acknowledgements of the
//! document's heads are handled on samod's task instead, see `handles_light_messages_inline`), so the
//! thread goes idle after nearly every job, and how it waits is paid per message: rayon's workers spun for a while after every job (5% of the relay's CPU with 16 people typing
//! into one document), and so does a crossbeam channel's `recv` before it sleeps (spin, then
//! `sched_yield`: a quarter of a document thread's samples). Here an idle thread sleeps on a condition
//! variable at once, and a job wakes one only when one is asleep (docs/benchmarks.md).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Barrier, Condvar, Mutex, MutexGuard, PoisonError};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed number of named threads taking jobs from one queue, in order. The threads end once every handle
/// is dropped (the repo's and the relay's) and the queue is drained.
#[derive(Clone, Debug)]
pub(super) struct DocThreads {
    owner: Arc<Owner>,
    threads: usize,
    /// See [`DocThreads::with_sync_interval`].
    sync_interval: Option<(std::time::Duration, tokio::runtime::Handle)>,
}

/// Held by the handles only: its drop, with the last handle, closes the queue.
#[derive(Debug)]
struct Owner(Arc<Queue>);

#[derive(Default)]
struct Queue {
    state: Mutex<State>,
    ready: Condvar,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads asleep on `ready`: a job queued while none is needs no wake-up (a system call).
    asleep: usize,
    closed: bool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock, so a panic never leaves the queue half changed.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next job, or `None` once the queue is closed and drained.
    fn next(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Some(job);
            }
            if state.closed {
                return None;
            }
            state.asleep += 1;
            state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
            state.asleep -= 1;
        }
    }

    fn push(&self, job: Job) {
        let mut state = self.lock();
        // Each job queued before this one has a sleeper woken for it already (or a thread that is awake).
        let queued_before = state.jobs.len();
        state.jobs.push_back(job);
        let wake = state.asleep > queued_before;
        drop(state);
        if wake {
            self.ready.notify_one();
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.ready.notify_all();
    }
}

impl DocThreads {
    /// `threads` threads (at least one), the `i`th named `name(i)`.
    pub(super) fn new(threads: usize, name: impl Fn(usize) -> String) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let queue = Arc::new(Queue::default());
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new().name(name(i)).spawn(move || {
                while let Some(job) = queue.next() {
                    // A job that panics is a bug in samod or the relay; the thread stays, or the pool would
                    // shrink by one and `broadcast` would wait for it forever.
                    if catch_unwind(AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a document job panicked");
                    }
                }
            })?;
        }
        Ok(Self { owner: Arc::new(Owner(queue)), threads, sync_interval: None })
    }

    /// Spaces a document's rounds of sync messages by at least `interval` (samod's
    /// `DocExecutor::sync_interval`), the held messages sent by a timer on `timers`. A timer is a task that
    /// sleeps until its time and queues its job here; it ends then, or with the runtime.
    pub(super) fn with_sync_interval(mut self, interval: std::time::Duration, timers: tokio::runtime::Handle) -> Self {
        self.sync_interval = Some((interval, timers));
        self
    }

    /// Runs `f` once on every thread (after the jobs queued before), and returns once all have. Each
    /// thread's run waits for the others', so no thread takes two. Never call it from one of these threads.
    pub(super) fn broadcast(&self, f: impl Fn() + Send + Sync + 'static) {
        let f = Arc::new(f);
        let all = Arc::new(Barrier::new(self.threads + 1));
        for _ in 0..self.threads {
            let (f, all) = (f.clone(), all.clone());
            samod::DocExecutor::spawn_fifo(
                self,
                Box::new(move || {
                    f();
                    all.wait();
                }),
            );
        }
        all.wait();
    }
}

impl samod::DocExecutor for DocThreads {
    fn spawn_fifo(&self, job: Job) {
        self.owner.0.push(job);
    }

    /// A peer's acknowledgement of a document's heads costs less than the two wake-ups of handing it to
    /// these threads and back, and 15 of the 16 messages a keystroke brings with 16 typists are those
    /// (docs/benchmarks.md, issue 19, ninth session); changes, requests and anything that may walk a history
    /// still come here.
    fn handles_light_messages_inline(&self) -> bool {
        true
    }

    fn sync_interval(&self) -> Option<std::time::Duration> {
        self.sync_interval.as_ref().map(|(interval, _)| *interval)
    }

    fn spawn_at(&self, at: std::time::Instant, job: Job) {
        let Some((_, timers)) = &self.sync_interval else {
            self.owner.0.push(job);
            return;
        };
        // The queue, not the owner: a pending timer does not keep the threads from ending.
        let queue = self.owner.0.clone();
        timers.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            queue.push(job);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc;

    use samod::DocExecutor as _;

    use super::*;

    /// Queues a job that sends `value` to `tx`.
    fn send_in_a_job<T: Send + 'static>(pool: &DocThreads, tx: &mpsc::Sender<T>, value: T) {
        let tx = tx.clone();
        pool.spawn_fifo(Box::new(move || tx.send(value).expect("receiver")));
    }

    #[test]
    fn jobs_run_in_order_on_the_named_threads() {
        let pool = DocThreads::new(1, |i| format!("doc-test-{i}")).expect("threads");
        let (tx, rx) = mpsc::channel();
        for n in 0..100 {
            let tx = tx.clone();
            pool.spawn_fifo(Box::new(move || {
                tx.send((n, std::thread::current().name().map(str::to_owned))).expect("receiver");
            }));
        }
        let seen: Vec<_> = rx.iter().take(100).collect();
        assert_eq!(seen.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (0..100).collect::<Vec<_>>());
        assert!(seen.iter().all(|(_, name)| name.as_deref() == Some("doc-test-0")));
    }

    #[test]
    fn every_job_queued_from_many_threads_at_once_runs() {
        // Producers racing the threads as they fall asleep and wake: a lost wake-up leaves jobs queued
        // with every thread asleep, and the count below never completes.
        for threads in [1, 2] {
            every_job_runs(&DocThreads::new(threads, |i| format!("doc-test-{i}")).expect("threads"));
        }
    }

    fn every_job_runs(pool: &DocThreads) {
        let (tx, rx) = mpsc::channel();
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let (pool, tx) = (pool.clone(), tx.clone());
                std::thread::spawn(move || {
                    for n in 0..2_000 {
                        send_in_a_job(&pool, &tx, (p, n));
                    }
                })
            })
            .collect();
        for producer in producers {
            producer.join().expect("producer");
        }
        let mut seen = 0;
        while seen < 8_000 {
            rx.recv_timeout(std::time::Duration::from_secs(20)).expect("every job runs");
            seen += 1;
        }
    }

    #[test]
    fn jobs_queued_before_the_last_handle_is_dropped_still_run() {
        let pool = DocThreads::new(2, |i| format!("doc-test-{i}")).expect("threads");
        let (tx, rx) = mpsc::channel();
        for n in 0..50 {
            send_in_a_job(&pool, &tx, n);
        }
        drop((pool, tx));
        // Ends once every job has run and dropped its sender.
        let mut ran: Vec<i32> = rx.iter().collect();
        ran.sort_unstable();
        assert_eq!(ran, (0..50).collect::<Vec<_>>());
    }

    #[test]
    fn broadcast_runs_once_on_every_thread_and_a_panic_loses_no_thread() {
        let pool = DocThreads::new(3, |i| format!("doc-test-{i}")).expect("threads");
        pool.spawn_fifo(Box::new(|| panic!("a bug in a job")));
        let names = Arc::new(Mutex::new(Vec::new()));
        let seen = names.clone();
        let (done, finished) = mpsc::channel();
        // On a thread of its own: were a thread lost, the broadcast would wait forever.
        std::thread::spawn(move || {
            pool.broadcast(move || {
                let name = std::thread::current().name().map(str::to_owned);
                seen.lock().expect("names").push(name);
            });
            done.send(()).expect("the test waits");
        });
        finished.recv_timeout(std::time::Duration::from_secs(20)).expect("the broadcast reached every thread");
        let mut names = names.lock().expect("names").clone();
        names.sort();
        let expected: Vec<_> = (0..3).map(|i| Some(format!("doc-test-{i}"))).collect();
        assert_eq!(names, expected, "each thread once, the one whose job panicked included");
    }

    #[tokio::test]
    async fn a_job_spawned_for_a_time_runs_on_the_threads_once_that_time_has_passed() {
        let pool = DocThreads::new(1, |i| format!("doc-test-{i}"))
            .expect("threads")
            .with_sync_interval(std::time::Duration::from_millis(10), tokio::runtime::Handle::current());
        assert_eq!(pool.sync_interval(), Some(std::time::Duration::from_millis(10)));
        let at = std::time::Instant::now() + std::time::Duration::from_millis(50);
        let (tx, rx) = tokio::sync::oneshot::channel();
        pool.spawn_at(
            at,
            Box::new(move || {
                let ran = (std::time::Instant::now(), std::thread::current().name().map(str::to_owned));
                tx.send(ran).expect("the test waits");
            }),
        );
        let (when, name) =
            tokio::time::timeout(std::time::Duration::from_secs(20), rx).await.expect("the job ran").expect("sent");
        assert!(when >= at, "not before its time");
        assert_eq!(name.as_deref(), Some("doc-test-0"));
    }
}
