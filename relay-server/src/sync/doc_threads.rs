//! The threads the relay's documents run on (samod's `DocExecutor`): threads that block on one queue when
//! there is nothing to do. rayon's workers, which ran them before, spin for a while after every job, and a
//! document gets a short job per message (a keystroke, then each peer's acknowledgement of it): with 16
//! people typing into one document that spinning was 5% of the relay's CPU (docs/benchmarks.md).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Barrier};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A fixed number of named threads taking jobs from one queue, in order. The threads end once every handle
/// is dropped (the repo's and the relay's) and the queue is drained.
#[derive(Clone, Debug)]
pub(super) struct DocThreads {
    jobs: crossbeam_channel::Sender<Job>,
    threads: usize,
}

impl DocThreads {
    /// `threads` threads (at least one), the `i`th named `name(i)`.
    pub(super) fn new(threads: usize, name: impl Fn(usize) -> String) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new().name(name(i)).spawn(move || {
                for job in queue {
                    // A job that panics is a bug in samod or the relay; the thread stays, or the pool would
                    // shrink by one and `broadcast` would wait for it forever.
                    if catch_unwind(AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a document job panicked");
                    }
                }
            })?;
        }
        Ok(Self { jobs, threads })
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
        // The receivers live as long as the threads, which outlive every sender but end only with them.
        if self.jobs.send(job).is_err() {
            tracing::error!("the document threads are gone; a document job was dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::mpsc;

    use samod::DocExecutor as _;

    use super::*;

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
}
