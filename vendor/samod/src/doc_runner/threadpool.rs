use std::{
    collections::VecDeque,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{actor_task::ActorTask, builder::DocExecutor, doc_actor_inner::DocActorInner};

/// A document's FIFO mailbox, shared by hub/IO dispatch and DocHandle operations.
/// Only one runner drains it, so Rayon scheduling cannot reorder actor tasks.
/// Idle documents do not occupy a worker thread.
pub(crate) struct ThreadpoolActor {
    inner: Arc<Mutex<DocActorInner>>,
    pool: Arc<dyn DocExecutor>,
    /// The executor's [`DocExecutor::sync_interval`] when the document was
    /// spawned: it holds for the document's life.
    interval: Option<Duration>,
    mailbox: Mutex<Mailbox>,
}

#[derive(Default)]
struct Mailbox {
    tasks: VecDeque<ActorTask>,
    running: bool,
    /// When the document last sent sync messages (kept only with a
    /// [`DocExecutor::sync_interval`]).
    last_sent: Option<Instant>,
    /// Sync messages are held back and a timer will send them.
    timer_armed: bool,
    /// The timer fired while the mailbox had an owner: the owner sends the held
    /// messages before it lets go.
    flush_due: bool,
}

impl Mailbox {
    /// Whether sync messages may go out at `now`, or wait for the interval since
    /// the last ones to pass.
    fn may_send(&self, interval: Duration, now: Instant) -> bool {
        self.flush_due
            || (!self.timer_armed && self.last_sent.is_none_or(|last| now >= last + interval))
    }
}

impl ThreadpoolActor {
    pub(crate) fn new(inner: Arc<Mutex<DocActorInner>>, pool: Arc<dyn DocExecutor>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            interval: pool.sync_interval(),
            pool,
            mailbox: Mutex::new(Mailbox::default()),
        })
    }

    pub(crate) fn dispatch(self: &Arc<Self>, task: ActorTask) {
        let mut mailbox = self.mailbox.lock().unwrap();
        if mailbox.running {
            mailbox.tasks.push_back(task);
            return;
        }
        mailbox.running = true;
        drop(mailbox);
        // This caller owns the mailbox now, as a runner would: tasks dispatched
        // meanwhile queue behind this one.
        let not_handled = self.handle_if_light(task).err();
        let mut mailbox = self.mailbox.lock().unwrap();
        if let Some(task) = not_handled {
            mailbox.tasks.push_front(task);
        }
        if mailbox.tasks.is_empty() && !mailbox.flush_due {
            mailbox.running = false;
            return;
        }
        drop(mailbox);
        self.schedule();
    }

    /// Handles `task` on the calling thread if the executor allows it and the
    /// document calls it light (see [`DocExecutor::handles_light_messages_inline`]);
    /// gives it back otherwise. The caller owns the mailbox.
    fn handle_if_light(self: &Arc<Self>, task: ActorTask) -> Result<(), ActorTask> {
        if !self.pool.handles_light_messages_inline() {
            return Err(task);
        }
        let ActorTask::HandleMessage(message) = &task else {
            return Err(task);
        };
        // Never wait for the document here: a `DocHandle` user may hold it and
        // wait for the repo, whose lock the hub may hold while it dispatches.
        let Ok(inner) = self.inner.try_lock() else {
            return Err(task);
        };
        if !inner.is_light(message) {
            return Err(task);
        }
        // The caller holds the repo's lock: a panic here would poison it and
        // stop every document. As with a runner's job on an executor that
        // catches panics, the task is lost and the document's lock poisoned
        // (the guard is dropped while unwinding), nothing more.
        let handled = catch_unwind(AssertUnwindSafe(move || {
            let mut inner = inner;
            self.handle(&mut inner, task, false, true);
        }));
        if handled.is_err() {
            tracing::error!("a document task handled inline panicked");
        }
        Ok(())
    }

    /// Handles `task` as the mailbox's owner. Tasks queued behind it (`more`)
    /// join its batch: each peer gets one sync message after the last of them
    /// instead of one per task, so under load the queued changes of many peers
    /// go out together. A task with none behind it that may send at once is
    /// handled as it always was. `inline`: on the thread the message arrived
    /// on (see [`Self::handle_if_light`]).
    fn handle(
        self: &Arc<Self>,
        inner: &mut DocActorInner,
        task: ActorTask,
        more: bool,
        inline: bool,
    ) {
        let before = inner.sync_messages_generated();
        let held = self.interval.is_some_and(|interval| {
            !self
                .mailbox
                .lock()
                .unwrap()
                .may_send(interval, Instant::now())
        });
        if more || held {
            inner.defer_sync_messages();
        }
        inner.handle_task(task);
        if !more {
            self.end_batch(inner, before, inline);
        }
    }

    /// Ends a batch as the mailbox's owner: sends the sync messages held back
    /// or, within the sync interval of the last ones, keeps holding them and
    /// makes sure a timer will send them. `before`: the document's count of
    /// generated messages when the batch started. `inline`: on the thread the
    /// message arrived on, where a held round is never sent (a runner is
    /// asked to, through `flush_due`).
    fn end_batch(self: &Arc<Self>, inner: &mut DocActorInner, before: u64, inline: bool) {
        let Some(interval) = self.interval else {
            inner.flush_sync_messages();
            return;
        };
        let now = Instant::now();
        let mut mailbox = self.mailbox.lock().unwrap();
        if inner.owes_sync_messages() && !mailbox.may_send(interval, now) {
            let arm = (!mailbox.timer_armed)
                .then(|| mailbox.last_sent.map_or(now, |last| last + interval));
            mailbox.timer_armed = true;
            drop(mailbox);
            if let Some(at) = arm {
                let actor = self.clone();
                self.pool
                    .spawn_at(at, Box::new(move || actor.timer_fired()));
            }
            // A peer whose own change was just stored hears so now, not at
            // the interval's end: only the other peers' messages wait.
            inner.flush_released_answers();
            return;
        }
        if inline && inner.owes_sync_messages() {
            // The held round may be large: it goes out from a runner, which
            // `dispatch` schedules because of `flush_due`.
            mailbox.flush_due = true;
            drop(mailbox);
            inner.flush_released_answers();
            return;
        }
        mailbox.flush_due = false;
        drop(mailbox);
        inner.flush_sync_messages();
        if inner.sync_messages_generated() != before {
            self.mailbox.lock().unwrap().last_sent = Some(now);
        }
    }

    /// The sync interval is up: the held messages go out, from a runner.
    fn timer_fired(self: &Arc<Self>) {
        let mut mailbox = self.mailbox.lock().unwrap();
        mailbox.timer_armed = false;
        mailbox.flush_due = true;
        if mailbox.running {
            // Its owner flushes before it lets go.
            return;
        }
        mailbox.running = true;
        drop(mailbox);
        self.clone().run();
    }

    fn schedule(self: &Arc<Self>) {
        let actor = self.clone();
        self.pool.spawn_fifo(Box::new(move || actor.run()));
    }

    fn run(self: Arc<Self>) {
        // Yield between batches so a busy document does not monopolize the pool.
        // spawn_fifo also avoids putting this actor ahead of other queued actors
        // when rescheduling from within a Rayon worker.
        const BATCH_SIZE: usize = 64;
        for _ in 0..BATCH_SIZE {
            let (task, more) = {
                let mut mailbox = self.mailbox.lock().unwrap();
                match mailbox.tasks.pop_front() {
                    Some(task) => (task, !mailbox.tasks.is_empty()),
                    None => break,
                }
            };
            // Never hold the mailbox lock while executing user code or waiting
            // for synchronous DocHandle access to release the document lock.
            let mut inner = self.inner.lock().unwrap();
            self.handle(&mut inner, task, more, false);
        }
        // A batch cut at its size, or the timer's flush: ended while this runner
        // still owns the mailbox, so a document whose runner has stopped never
        // owes its peers a message without a timer armed to send it.
        {
            let mut inner = self.inner.lock().unwrap();
            let before = inner.sync_messages_generated();
            self.end_batch(&mut inner, before, false);
        }
        let mut mailbox = self.mailbox.lock().unwrap();
        // Empty detection and relinquishing the runner must be atomic with
        // dispatch (and the timer), otherwise an arriving task could be stranded.
        if mailbox.tasks.is_empty() && !mailbox.flush_due {
            mailbox.running = false;
            return;
        }
        drop(mailbox);
        self.schedule();
    }
}

#[cfg(all(test, feature = "tokio"))]
mod tests {
    use std::{sync::mpsc, time::Duration};

    use automerge::Automerge;
    use futures::{
        FutureExt, StreamExt,
        channel::{mpsc as async_mpsc, oneshot},
    };

    use super::*;
    use crate::{ConcurrencyConfig, Repo, doc_runner::DocRunner};

    async fn repo(threads: usize) -> Repo {
        Repo::build_tokio()
            .with_concurrency(ConcurrencyConfig::Threadpool(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap(),
            ))
            .load()
            .await
    }

    #[tokio::test]
    async fn hub_and_handle_tasks_share_fifo_order_even_when_submitted_from_a_worker() {
        tokio::time::timeout(Duration::from_secs(5), async {
            let repo = repo(1).await;
            let doc = repo.create(Automerge::new()).await.unwrap();
            let (pool, actor_id) = {
                let inner = repo.inner.lock().unwrap();
                let DocRunner::Threadpool(pool) = &inner.doc_runner else {
                    unreachable!()
                };
                (pool.clone(), *inner.actors.keys().next().unwrap())
            };
            // Repeat to exercise both active and idle mailbox dispatch. More than
            // one batch also checks ordering across rescheduling boundaries.
            for _ in 0..3 {
                let (tx, mut rx) = async_mpsc::unbounded();
                let inner = repo.inner.clone();
                let doc = doc.clone();
                pool.spawn_fifo(Box::new(move || {
                    for index in 0..200 {
                        let tx = tx.clone();
                        if index % 2 == 0 {
                            // Poll once to submit the DocHandle task without waiting
                            // for the only worker (this one) to execute it.
                            assert!(
                                doc.with_document_async(move |_| {
                                    tx.unbounded_send(index).unwrap();
                                })
                                .now_or_never()
                                .is_none()
                            );
                        } else {
                            inner.lock().unwrap().dispatch_task(
                                actor_id,
                                ActorTask::WithDocument(Box::new(move |_| {
                                    tx.unbounded_send(index).unwrap();
                                })),
                            );
                        }
                    }
                }));
                let mut actual = Vec::new();
                while let Some(index) = rx.next().await {
                    actual.push(index);
                }
                assert_eq!(actual, (0..200).collect::<Vec<_>>());
            }
            repo.stop().await;
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn queued_tasks_for_a_busy_actor_do_not_occupy_other_workers() {
        tokio::time::timeout(Duration::from_secs(5), async {
            let repo = repo(2).await;
            let busy = repo.create(Automerge::new()).await.unwrap();
            let other = repo.create(Automerge::new()).await.unwrap();
            let (started, ready) = oneshot::channel();
            let (release, wait) = mpsc::channel();
            let mut blocked = Box::pin(busy.with_document_async(move |_| {
                let _ = started.send(());
                // Bound failures even if the async test times out.
                let _ = wait.recv_timeout(Duration::from_secs(5));
            }));
            assert!(futures::poll!(&mut blocked).is_pending());
            ready.await.unwrap();
            let mut queued = Vec::new();
            for _ in 0..100 {
                let mut task = Box::pin(busy.with_document_async(|_| ()));
                assert!(futures::poll!(&mut task).is_pending());
                queued.push(task);
            }
            other.with_document_async(|_| ()).await.unwrap();
            release.send(()).unwrap();
            blocked.await.unwrap();
            for task in queued {
                task.await.unwrap();
            }
            repo.stop().await;
        })
        .await
        .unwrap();
    }
}
