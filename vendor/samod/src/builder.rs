use std::sync::Arc;

use samod_core::{IdleUnload, PeerId, ShareConfig};

use crate::{
    Repo,
    observer::RepoObserver,
    runtime::{LocalRuntimeHandle, RuntimeHandle},
    share_policy::{LocalSharePolicy, SharePolicy},
    storage::{InMemoryStorage, LocalStorage, Storage},
};

/// How to run concurrent documents
///
/// See the [concurrency section](./index.html#concurrency) of the module level
/// documentation
pub enum ConcurrencyConfig {
    /// Run each document in a separate task on the async runtime
    AsyncRuntime,
    /// Run each document on a rayon threadpool
    #[cfg(feature = "threadpool")]
    Threadpool(rayon::ThreadPool),
    /// Run each document on threads of the application's own (see
    /// [`DocExecutor`]), as with a threadpool: one document at a time per
    /// thread, each document's tasks in order. The application keeps its
    /// handle, for work of its own on the documents' threads (returning an
    /// allocator's thread-local memory once documents are unloaded, say); an
    /// `Arc<rayon::ThreadPool>` is such an executor
    #[cfg(feature = "threadpool")]
    Executor(Arc<dyn DocExecutor>),
}

/// Threads to run documents on, for [`ConcurrencyConfig::Executor`].
///
/// rayon's workers spin (yielding the CPU in a loop) for a while after their
/// last job before they sleep. A server whose documents each get a short job
/// per message (a keystroke and every peer's acknowledgement of it) pays that
/// spin after nearly every job; an executor whose threads block on a queue
/// does not.
#[cfg(feature = "threadpool")]
pub trait DocExecutor: Send + Sync + 'static {
    /// Runs `job` on one of the executor's threads, after the jobs spawned
    /// before it have started.
    fn spawn_fifo(&self, job: Box<dyn FnOnce() + Send + 'static>);

    /// Whether a light message for an idle document (a peer's acknowledgement
    /// of the document's current heads, presence; see
    /// [`DocumentActor::is_light`](samod_core::actors::document::DocumentActor::is_light))
    /// is handled right where it arrives, on the repo's own task, instead of
    /// being handed to one of these threads. The hand-over costs two thread
    /// wake-ups per message, more than such a message's own work; what is not
    /// light still runs here, so one expensive message never holds the repo's
    /// task. Off unless the executor says so.
    fn handles_light_messages_inline(&self) -> bool {
        false
    }

    /// The shortest time between two rounds of sync messages from one
    /// document. A document that changes again within this time of its last
    /// round holds its peers' messages back until the time is up and then
    /// sends each peer one message carrying everything since: with many peers
    /// typing into one document, each peer gets at most one message per
    /// interval instead of one per keystroke (automerge-repo in JavaScript
    /// throttles its sync messages the same way, by 100 ms). A document that
    /// changes less often than this sends at once, as without it. `None` (the
    /// default): every batch of inputs is answered at once.
    fn sync_interval(&self) -> Option<std::time::Duration> {
        None
    }

    /// Runs `job` like [`spawn_fifo`](Self::spawn_fifo), once `at` has passed.
    /// Called only when [`sync_interval`](Self::sync_interval) is set; the
    /// default runs it at once (the interval is then not kept).
    fn spawn_at(&self, _at: std::time::Instant, job: Box<dyn FnOnce() + Send + 'static>) {
        self.spawn_fifo(job);
    }
}

#[cfg(feature = "threadpool")]
impl DocExecutor for rayon::ThreadPool {
    fn spawn_fifo(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        rayon::ThreadPool::spawn_fifo(self, job);
    }
}

/// A struct for configuring a [`Repo`](crate::Repo)
///
/// ## `Send` and non-`Send` futures
///
/// Once you've finished configuring the builder, you call either [`load`](Self::load) or
/// [`load_local`](Self::load_local) to create a [`Repo`]. The difference between the two is that
/// [`load`](Self::load) is only available for runtimes which implement `RuntimeHandle` and
/// thus require `Send` futures (such as tokio). [`load_local`](Self::load_local) on the other
/// hand works with runtimes that implement [`LocalRuntimeHandle`] and thus does
/// not require [`Send`] futures. If you want to use
/// [`load_local`](Self::load_local) you need to configure the storage and
/// share policy implementations to be implementations of [`LocalStorage`]
/// and [`LocalSharePolicy`] respectively. See the [module level
/// documentation on runtimes](./index.html#runtimes) for more details.
pub struct RepoBuilder<S, R, A> {
    pub(crate) storage: S,
    pub(crate) runtime: R,
    pub(crate) share_policy: A,
    pub(crate) peer_id: Option<PeerId>,
    pub(crate) concurrency: ConcurrencyConfig,
    pub(crate) observer: Option<Arc<dyn RepoObserver>>,
    pub(crate) idle_unload: Option<IdleUnload>,
    pub(crate) saves: bool,
}

impl<S, R, A> RepoBuilder<S, R, A> {
    pub fn with_storage<S2>(self, storage: S2) -> RepoBuilder<S2, R, A> {
        RepoBuilder {
            storage,
            peer_id: self.peer_id,
            runtime: self.runtime,
            share_policy: self.share_policy,
            concurrency: self.concurrency,
            observer: self.observer,
            idle_unload: self.idle_unload,
            saves: self.saves,
        }
    }

    pub fn with_runtime<R2>(self, runtime: R2) -> RepoBuilder<S, R2, A> {
        RepoBuilder {
            runtime,
            peer_id: self.peer_id,
            storage: self.storage,
            share_policy: self.share_policy,
            concurrency: self.concurrency,
            observer: self.observer,
            idle_unload: self.idle_unload,
            saves: self.saves,
        }
    }

    pub fn with_peer_id(mut self, peer_id: PeerId) -> Self {
        self.peer_id = Some(peer_id);
        self
    }

    /// Configure document access and announcements for each remote peer.
    /// Defaults to read-write access with announcements enabled.
    pub fn with_share_policy<A2>(self, share_policy: A2) -> RepoBuilder<S, R, A2> {
        RepoBuilder {
            runtime: self.runtime,
            peer_id: self.peer_id,
            storage: self.storage,
            share_policy,
            concurrency: self.concurrency,
            observer: self.observer,
            idle_unload: self.idle_unload,
            saves: self.saves,
        }
    }

    /// Configure how the repository should process concurrent documents
    ///
    /// See the [concurrency section](./index.html#concurrency) of the module level
    /// documentation
    pub fn with_concurrency(mut self, concurrency: ConcurrencyConfig) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Set an observer for receiving structured observability events.
    pub fn with_observer(mut self, observer: impl RepoObserver) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Unload documents nothing has used for a while, to free their memory.
    ///
    /// A document is unloaded once it has been idle for [`IdleUnload::after`]:
    /// no [`DocHandle`](crate::DocHandle) for it is alive and no
    /// [`Repo::search`](crate::Repo::search) for it is listening, everything it
    /// holds is in storage, and no connected peer keeps it loaded (see
    /// [`KeepForPeers`](crate::KeepForPeers)). It is loaded from storage again
    /// by the next [`Repo::find`](crate::Repo::find) or the next message a peer
    /// sends about it. Streams obtained from a handle ([`DocHandle::changes`](crate::DocHandle::changes)
    /// and the like) end when the document is unloaded: keep the handle to keep
    /// the document loaded.
    ///
    /// By default documents stay loaded until the repo stops.
    pub fn with_idle_unload(mut self, idle_unload: IdleUnload) -> Self {
        self.idle_unload = Some(idle_unload);
        self
    }

    /// Keep documents in memory only, as automerge-repo does without a storage
    /// adapter: nothing of them is written to storage (no incremental chunks,
    /// no compaction), so receiving a change costs only applying and answering
    /// it. Documents are still looked up in storage when first opened, and are
    /// never unloaded (they could not be loaded again). Meant for clients whose
    /// documents live elsewhere, such as the simulated devices of a test or a
    /// load generator.
    pub fn without_saving(mut self) -> Self {
        self.saves = false;
        self
    }
}

impl<R> RepoBuilder<InMemoryStorage, R, ShareConfig> {
    pub fn new(runtime: R) -> RepoBuilder<InMemoryStorage, R, ShareConfig> {
        RepoBuilder {
            storage: InMemoryStorage::new(),
            runtime,
            peer_id: None,
            share_policy: ShareConfig::default(),
            concurrency: ConcurrencyConfig::AsyncRuntime,
            observer: None,
            idle_unload: None,
            saves: true,
        }
    }
}

impl<S: Storage, R: RuntimeHandle + Clone + Send, A: SharePolicy> RepoBuilder<S, R, A> {
    /// Create the repository
    pub async fn load(self) -> Repo {
        Repo::load(self).await
    }
}

impl<S: LocalStorage, R: LocalRuntimeHandle + Clone + 'static, A: LocalSharePolicy>
    RepoBuilder<S, R, A>
{
    /// Create the repository
    pub async fn load_local(self) -> Repo {
        Repo::load_local(self).await
    }
}
