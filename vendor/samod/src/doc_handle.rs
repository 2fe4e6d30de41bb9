use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use automerge::{Automerge, ReadDoc};
use futures::{Stream, StreamExt, channel::oneshot};
use samod_core::{AutomergeUrl, DocumentChanged, DocumentId, UnixTimestamp};

use crate::{
    ConnectionId, Stopped, actor_task::ActorTask, doc_actor_inner::DocActorInner,
    peer_connection_info::PeerDocState, unbounded::UnboundedSender,
};

/// The state of a single [`automerge`] document the [`Repo`](crate::Repo) is managing
///
/// [`DocHandle`]s are obtained using [`Repo::create`](crate::Repo::create) or
/// [`Repo::find`](crate::Repo::find)
///
/// Each `DocHandle` wraps an underlying `automerge::Automerge` instance in order to
/// capture local changes made to the document and publish them to any connected peers;
/// and to listen for remote changes made to the document and notify the local process.
///
/// To make local changes to a document you use [`DocHandle::with_document`] whilst
/// remote changes can be listened for using [`DocHandle::changes`].
///
/// You can also broadcast ephemeral messages to other peers using
/// [`DocHandle::broadcast`] and listen for ephemeral messages sent by other
/// peers using [`DocHandle::ephemera`].
#[derive(Clone)]
pub struct DocHandle {
    inner: Arc<Mutex<DocActorInner>>,
    document_id: DocumentId,
    task_dispatcher: DocTaskDispatcher,
}

#[derive(Clone)]
pub(crate) struct DocTaskDispatcher {
    runner: DocTaskRunner,
    /// Tasks dispatched and not yet handled: `DocActorInner::handle_task`
    /// counts them down. A document with tasks in flight is never unloaded.
    unfinished: Arc<AtomicUsize>,
}

#[derive(Clone)]
pub(crate) enum DocTaskRunner {
    Async(UnboundedSender<ActorTask>),
    #[cfg(feature = "threadpool")]
    Threadpool(Arc<crate::doc_runner::threadpool::ThreadpoolActor>),
}

impl DocTaskDispatcher {
    pub(crate) fn new(runner: DocTaskRunner, unfinished: Arc<AtomicUsize>) -> Self {
        Self { runner, unfinished }
    }

    fn dispatch(&self, task: ActorTask) -> Result<(), ActorTask> {
        self.unfinished.fetch_add(1, Ordering::SeqCst);
        let dispatched = match &self.runner {
            DocTaskRunner::Async(tx) => tx.unbounded_send(task),
            #[cfg(feature = "threadpool")]
            DocTaskRunner::Threadpool(actor) => {
                actor.dispatch(task);
                Ok(())
            }
        };
        if dispatched.is_err() {
            self.unfinished.fetch_sub(1, Ordering::SeqCst);
        }
        dispatched
    }
}

/// What became of an attempt to unload a document.
pub(crate) enum UnloadAttempt {
    Unloaded,
    InUse,
    Busy,
}

impl std::fmt::Debug for DocHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DocHandle")
            .field("document_id", &self.document_id)
            .finish()
    }
}

impl DocHandle {
    pub(crate) fn new(
        doc_id: DocumentId,
        inner: Arc<Mutex<DocActorInner>>,
        task_dispatcher: DocTaskDispatcher,
    ) -> Self {
        Self {
            document_id: doc_id,
            inner,
            task_dispatcher,
        }
    }

    pub(crate) fn dispatch_task(&self, task: ActorTask) {
        let _ = self.task_dispatcher.dispatch(task);
    }

    /// Stops the document's actor if it is idle and nothing uses it; the caller
    /// then drops this, the repo's own handle.
    ///
    /// Call with the repo's lock held: only then can no new handle appear and
    /// no task be dispatched while this decides.
    pub(crate) fn try_unload(&self, now: UnixTimestamp) -> UnloadAttempt {
        // The repo's own references: this handle (in `Inner::actors`) and the
        // runner (the threadpool mailbox, or the task driving the actor).
        const REPO_REFERENCES: usize = 2;
        if Arc::strong_count(&self.inner) > REPO_REFERENCES {
            return UnloadAttempt::InUse;
        }
        let Ok(mut inner) = self.inner.try_lock() else {
            return UnloadAttempt::Busy;
        };
        // Read under the document's lock: a runner counts a task down only
        // after handling it, with the lock held.
        if self.task_dispatcher.unfinished.load(Ordering::SeqCst) > 0 {
            return UnloadAttempt::Busy;
        }
        inner.unload(now)
    }

    /// The ID of this document
    pub fn document_id(&self) -> &DocumentId {
        &self.document_id
    }

    /// The URL of this document in a format compatible with the JS `automerge-repo` library
    pub fn url(&self) -> AutomergeUrl {
        AutomergeUrl::from(self.document_id())
    }

    /// Make a change to the underlying `automerge::Automerge` document
    ///
    /// Note that this method blocks the current thread until the document is
    /// available. There are two major reasons that the document might be
    /// unavailable:
    ///
    /// * Another caller is currently calling `with_document` and doing something
    ///   which takes a long time
    /// * We are receiving a sync message which is taking a long time to process
    ///
    /// This means it's probably best to run calls to this method inside
    /// `spawn_blocking` or similar constructions
    pub fn with_document<F, R>(&self, f: F) -> R
    where
        F: FnOnce(&mut Automerge) -> R,
    {
        self.inner.lock().unwrap().with_document(f)
    }

    /// Make a change to the underlying `automerge::Automerge` document without
    /// blocking the calling task.
    ///
    /// When polled, this queues the work on the document actor and resolves when
    /// the actor has applied the change. Queued tasks are processed in submission
    /// order in both async and threadpool modes. Synchronous [`Self::with_document`]
    /// calls acquire the document directly and do not participate in that ordering.
    /// If you created this repo using
    /// [`ConcurrencyConfig::ThreadPool`] then the closure runs on the
    /// threadpool and doesn't block the current async task. Otherwise, the
    /// closure runs in the document actor task, so long-running closures can
    /// still occupy an executor worker; use threadpool concurrency for
    /// CPU-heavy document work.
    pub fn with_document_async<F, R>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<R, Stopped>> + Send + 'static
    where
        F: FnOnce(&mut Automerge) -> R + Send + 'static,
        R: Send + 'static,
    {
        let dispatcher = self.task_dispatcher.clone();
        async move {
            let (tx, rx) = oneshot::channel();
            let task = ActorTask::WithDocument(Box::new(move |inner| {
                let result = inner.with_document(f);
                let _ = tx.send(result);
            }));
            dispatcher.dispatch(task).map_err(|_| Stopped)?;
            rx.await.map_err(|_| Stopped)
        }
    }

    /// Listen to ephemeral messages sent by other peers to this document
    pub fn ephemera(&self) -> impl Stream<Item = Vec<u8>> + 'static {
        self.inner.lock().unwrap().create_ephemera_listener()
    }

    /// Listen for changes to the document
    pub fn changes(&self) -> impl Stream<Item = DocumentChanged> + 'static {
        self.inner.lock().unwrap().create_change_listener()
    }

    /// Send an ephemeral message which will be broadcast to all other peers who have this document open
    ///
    /// Note that whilst you can send any binary payload, the JS implementation
    /// will only process payloads which are valid CBOR
    pub fn broadcast(&self, message: Vec<u8>) {
        self.inner
            .lock()
            .unwrap()
            .broadcast_ephemeral_message(message);
    }

    /// Get the current state of all peers connected to this document, and a stream of changes to that set
    ///
    /// The returned stream will receive updates in the form of a map from
    /// connection IDs which have changed to the new state for that connection
    pub fn peers(
        &self,
    ) -> (
        HashMap<ConnectionId, PeerDocState>,
        impl Stream<Item = HashMap<ConnectionId, PeerDocState>> + 'static + use<>,
    ) {
        self.inner.lock().unwrap().peers()
    }

    /// Wait for a connection to have said they have everything we have.
    ///
    /// This may remain pending if sharing is denied or the peer refuses our changes.
    pub fn they_have_our_changes(&self, conn: ConnectionId) -> impl Future<Output = ()> + 'static {
        let inner = self.inner.clone();
        async move {
            let mut state_changes = {
                let mut inner = inner.lock().unwrap();
                let local_heads = inner.document().get_heads();
                let (current, state_changes) = inner.peers();
                if (current
                    .get(&conn)
                    .map(|c| c.shared_heads == Some(local_heads)))
                .unwrap_or(false)
                {
                    return;
                }
                state_changes
            };
            while let Some(changes) = state_changes.next().await {
                let Some(change) = changes.get(&conn) else {
                    continue;
                };
                let local_heads = inner.lock().unwrap().document().get_heads();
                if change.shared_heads == Some(local_heads) {
                    break;
                }
            }
        }
    }

    /// Wait until we have all the changes advertised by this connection.
    ///
    /// This may remain pending when our share policy denies the peer write access.
    pub fn we_have_their_changes(&self, conn: ConnectionId) -> impl Future<Output = ()> + 'static {
        let inner = self.inner.clone();
        async move {
            let mut state_changes = {
                let mut inner = inner.lock().unwrap();
                let (current, state_changes) = inner.peers();
                if let Some(their_heads) = current.get(&conn).and_then(|c| c.their_heads.as_ref())
                    && their_heads
                        .iter()
                        .all(|h| inner.document().get_change_by_hash(h).is_some())
                {
                    return;
                }
                state_changes
            };
            while let Some(changes) = state_changes.next().await {
                let Some(change) = changes.get(&conn) else {
                    continue;
                };
                let Some(their_heads) = change.their_heads.as_ref() else {
                    continue;
                };
                {
                    let inner = inner.lock().unwrap();
                    if their_heads
                        .iter()
                        .all(|h| inner.document().get_change_by_hash(h).is_some())
                    {
                        return;
                    }
                }
            }
        }
    }
}
