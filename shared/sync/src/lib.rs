//! The client side of document sync: a samod repo that dials the relay's `/sync` endpoint, reconnecting
//! with backoff, plus helpers to create, open and edit text documents and to exchange presence.
//!
//! This is the one module of the desktop side that knows samod; the headless node builds on it.

pub mod backoff;
mod dialer;
mod presence;
pub mod preview;
pub mod private;
pub mod rich;
mod status;
mod storage;
mod text;
pub mod transport;
pub mod view;
pub mod wire;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use samod::{BackoffConfig, ConnectionId, DialerHandle, DocHandle, DocumentId, PeerId, Repo, RepoBuilder};
use teamflow_protocol::{DocumentUrl, UserId};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use automerge;
pub use backoff::Backoff;
pub use dialer::RelayDialer;
pub use presence::{Cursor, Presence, PresenceConfig, PresenceSession, Stamped, stamp as stamp_presence};
pub use samod;
pub use status::{DocSync, Link, SyncStatus};
pub use storage::{SqliteStorage, retry_storage};
pub use text::{
    AUTHOR_PREFIX, Splice, TEXT_FIELD, TextWriter, author_message, heads, read_text, splice_text, splice_text_by,
};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("the sync repo has stopped")]
    Stopped,
    #[error("invalid relay URL: {0}")]
    RelayUrl(String),
    #[error("document: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("{0} is not a document URL")]
    DocumentUrl(String),
    #[error("the document has no text")]
    NoText,
    #[error("the document has no such version (heads from another document, or not synced here)")]
    UnknownHeads,
    #[error("an edit at {position} deleting {delete} is outside the text ({length} characters)")]
    OutOfRange { position: usize, delete: usize, length: usize },
}

impl From<samod::Stopped> for SyncError {
    fn from(_: samod::Stopped) -> Self {
        SyncError::Stopped
    }
}

/// The relay's peer id in every sync handshake.
pub const RELAY_PEER_ID: &str = "teamflow-relay";

/// Where to sync and as whom.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The relay's base URL, `http://host:port` (or `https://`).
    pub relay_url: String,
    pub user: UserId,
    /// Names this device; the peer id becomes `<user>:<device>`.
    pub device: String,
    /// Reconnection backoff.
    pub backoff: BackoffConfig,
    /// The TLS configuration for an `https` relay, instead of the process's own (`transport::client_config`:
    /// the OS roots plus `TEAMFLOW_CA_CERT`); for a program that trusts one CA of its own.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Documents nothing uses for this long are dropped from memory (`None`: kept until the client stops):
    /// no handle is open on them, the relay has all their changes and they have all the relay's. The next
    /// `open`, or the next change a peer sends, loads them again from storage.
    pub unload_idle: Option<Duration>,
    /// Whether documents are written to the client's storage (the default). A simulated device of a test
    /// or a load generator whose documents live only in memory sets it to `false` (samod's
    /// `without_saving`): receiving a change then costs only applying and answering it, and such a
    /// client's documents are never dropped from memory.
    pub saves: bool,
}

impl ClientConfig {
    pub fn new(relay_url: impl Into<String>, user: UserId, device: impl Into<String>) -> Self {
        Self {
            relay_url: relay_url.into(),
            user,
            device: device.into(),
            backoff: BackoffConfig {
                initial_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(10),
                max_retries: None,
            },
            tls: None,
            unload_idle: None,
            saves: true,
        }
    }

    pub fn peer_id(&self) -> PeerId {
        PeerId::from(format!("{}:{}", self.user, self.device))
    }
}

/// A repo of documents on this device, synced with the relay while online.
pub struct SyncClient {
    repo: Repo,
    config: ClientConfig,
    token: watch::Receiver<String>,
    dialer: Option<DialerHandle<std::convert::Infallible>>,
    status: watch::Sender<SyncStatus>,
    /// The relay connection's id, for the document watchers.
    relay: watch::Sender<Option<ConnectionId>>,
    /// Documents watched for `status`.
    tracked: Tracking,
    /// The documents in memory, as they load and unload.
    loaded: watch::Sender<std::collections::HashSet<DocumentId>>,
    /// The status tasks; `stop` ends them all, `dialer_stop` only the current dialer's.
    tasks: TaskTracker,
    stop: CancellationToken,
    dialer_stop: CancellationToken,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient").field("peer", &self.config.peer_id()).field("online", &self.is_online()).finish()
    }
}

impl SyncClient {
    /// A client with documents in memory. `token` carries the current access token; replace its value when
    /// the token is refreshed and the next reconnection uses it.
    pub async fn in_memory(config: ClientConfig, token: watch::Receiver<String>) -> Self {
        let loaded = watch::Sender::default();
        let repo = memory(Repo::build_tokio(), &config, &loaded).load().await;
        Self::new(repo, config, token, loaded)
    }

    /// A client over any samod storage (the desktop node passes its SQLite storage) that decides what each
    /// peer may sync with `policy` (the node shares with teammates directly as well as with the relay).
    pub async fn with_storage_and_policy<S: samod::storage::Storage, P: samod::SharePolicy>(
        config: ClientConfig,
        token: watch::Receiver<String>,
        storage: S,
        policy: P,
    ) -> Self {
        let loaded = watch::Sender::default();
        let builder = Repo::build_tokio().with_storage(storage).with_share_policy(policy);
        let repo = memory(builder, &config, &loaded).load().await;
        Self::new(repo, config, token, loaded)
    }

    fn new(
        repo: Repo,
        config: ClientConfig,
        token: watch::Receiver<String>,
        loaded: watch::Sender<std::collections::HashSet<DocumentId>>,
    ) -> Self {
        let status = watch::Sender::new(SyncStatus::default());
        let (tasks, stop) = (TaskTracker::new(), CancellationToken::new());
        tasks.spawn(status::follow_peers(repo.clone(), status.clone(), stop.clone()));
        let tracked = Tracking { followed: Arc::default(), status: status.clone() };
        Self {
            repo,
            config,
            token,
            dialer: None,
            status,
            relay: watch::Sender::new(None),
            tracked,
            loaded,
            tasks,
            dialer_stop: stop.child_token(),
            stop,
        }
    }

    /// The link, the connected peers and the state of every tracked document, as they change.
    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    /// Adds a document to `status` (once; later calls for the same document do nothing). Tracking keeps the
    /// document in memory only until the relay and this device have each other's changes.
    pub fn track(&self, handle: &DocHandle) -> Result<(), SyncError> {
        let url = document_url(handle)?;
        let mut followed = self.tracked.followed();
        if let std::collections::hash_map::Entry::Vacant(entry) = followed.entry(url.clone()) {
            let stop = entry.insert(self.stop.child_token()).clone();
            let task = status::follow_document(
                url,
                handle.clone(),
                status::Followers {
                    repo: self.repo.clone(),
                    loaded: self.loaded.subscribe(),
                    relay: self.relay.subscribe(),
                    status: self.status.clone(),
                    stop,
                    tracking: self.tracked.clone(),
                },
            );
            self.tasks.spawn(task);
        }
        Ok(())
    }

    /// The documents `status` follows, to let go of one without the client at hand.
    pub fn tracking(&self) -> Tracking {
        self.tracked.clone()
    }

    /// Cancelled when the client stops: the end of tasks that follow it (document handles, which keep the
    /// repo and its watches alive, may outlive it).
    pub fn stopping(&self) -> CancellationToken {
        self.stop.child_token()
    }

    /// The documents in memory, as they load and unload (see `ClientConfig::unload_idle`).
    pub fn loaded_documents(&self) -> watch::Receiver<std::collections::HashSet<DocumentId>> {
        self.loaded.subscribe()
    }

    /// Starts dialing the relay (and redialing with backoff whenever the link drops) and waits for the first
    /// connection.
    pub async fn go_online(&mut self) -> Result<(), SyncError> {
        if self.dialer.is_none() {
            let dialer = RelayDialer::new(&self.config, self.token.clone())?;
            let dialer = self.repo.dial(self.config.backoff.clone(), Arc::new(dialer))?;
            self.dialer_stop = self.stop.child_token();
            let follow = status::follow_dialer(
                dialer.clone(),
                self.relay.clone(),
                self.status.clone(),
                self.dialer_stop.clone(),
            );
            self.tasks.spawn(follow);
            self.dialer = Some(dialer);
        }
        if let Some(dialer) = &self.dialer {
            // An error here means the dialer gave up, which with unlimited retries only happens on stop.
            dialer.established().await.map_err(|_| SyncError::Stopped)?;
        }
        Ok(())
    }

    /// Drops the link to the relay; documents stay editable locally.
    pub fn go_offline(&mut self) {
        if let Some(dialer) = self.dialer.take() {
            dialer.close();
            self.dialer_stop.cancel();
            self.relay.send_replace(None);
            self.status.send_if_modified(|s| std::mem::replace(&mut s.link, Link::Offline) != Link::Offline);
        }
    }

    /// Restarts the link to the relay. Call it after registering a document created while the link was up:
    /// the relay refused it then, and only a fresh handshake (which re-announces every document) tells it
    /// about the document again.
    pub async fn reconnect(&mut self) -> Result<(), SyncError> {
        if self.dialer.is_some() {
            self.go_offline();
            self.go_online().await?;
        }
        Ok(())
    }

    pub fn is_online(&self) -> bool {
        self.dialer.as_ref().is_some_and(DialerHandle::is_connected)
    }

    /// Creates a text document (the `text` field holds `initial`).
    pub async fn create_text(&self, initial: &str) -> Result<(DocumentUrl, DocHandle), SyncError> {
        self.create_text_by(initial, None).await
    }

    /// Creates a text document whose first change names `author` (a user id) as its author
    /// ([`author_message`]).
    pub async fn create_text_by(
        &self,
        initial: &str,
        author: Option<&str>,
    ) -> Result<(DocumentUrl, DocHandle), SyncError> {
        let doc = text::new_text_document(initial, author)?;
        let handle = self.repo.create(doc).await?;
        let url = document_url(&handle)?;
        Ok((url, handle))
    }

    /// Adds a document saved elsewhere (an `.automerge` file, with its whole history) under a new id.
    pub async fn import(&self, saved: &[u8]) -> Result<(DocumentUrl, DocHandle), SyncError> {
        let doc = automerge::Automerge::load(saved)?;
        let handle = self.repo.create(doc).await?;
        let url = document_url(&handle)?;
        Ok((url, handle))
    }

    /// Finds a document locally or from the relay; `None` when nobody we may sync with has it.
    pub async fn open(&self, url: &DocumentUrl) -> Result<Option<DocHandle>, SyncError> {
        let id: samod::DocumentId = url.document_id().parse().map_err(|_| SyncError::DocumentUrl(url.to_string()))?;
        Ok(self.repo.find(id).await?)
    }

    /// Resolves once the relay has every change this device made to the document so far; `false` when
    /// offline (there is no relay to have them).
    pub async fn synced_with_relay(&self, handle: &DocHandle) -> bool {
        match self.dialer.as_ref().and_then(DialerHandle::connection_id) {
            Some(connection) => {
                handle.they_have_our_changes(connection).await;
                true
            }
            None => false,
        }
    }

    /// Resolves once this device has every change the relay has announced for the document on this
    /// connection (the heads it last sent); `false` when offline. On a fresh connection that is what the
    /// relay holds; on a long-lived one, the relay may hold more than it has said yet (a share it stopped
    /// and allowed again has its changes on their way, after this answered): wait on the content then.
    pub async fn caught_up_with_relay(&self, handle: &DocHandle) -> bool {
        match self.dialer.as_ref().and_then(DialerHandle::connection_id) {
            Some(connection) => {
                handle.we_have_their_changes(connection).await;
                true
            }
            None => false,
        }
    }

    pub fn repo(&self) -> &Repo {
        &self.repo
    }

    pub fn peer_id(&self) -> PeerId {
        self.config.peer_id()
    }

    pub fn user(&self) -> UserId {
        self.config.user
    }

    pub async fn stop(mut self) {
        self.go_offline();
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.repo.stop().await;
    }
}

/// The documents a client's `status` follows (`SyncClient::track`), each with what stops its task.
#[derive(Clone, Debug)]
pub struct Tracking {
    followed: Arc<std::sync::Mutex<std::collections::HashMap<DocumentUrl, CancellationToken>>>,
    status: watch::Sender<SyncStatus>,
}

impl Tracking {
    fn followed(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<DocumentUrl, CancellationToken>> {
        self.followed.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `url` is followed (tracked and not untracked since).
    pub fn is_tracked(&self, url: &DocumentUrl) -> bool {
        self.followed().contains_key(url)
    }

    /// Stops following `url`: its task lets go of the document (which holds it in memory while the relay
    /// lacks some of its changes, for good once the relay no longer takes them), and `status` forgets it.
    /// Tracking it again starts over.
    pub fn untrack(&self, url: &DocumentUrl) {
        if let Some(stop) = self.followed().remove(url) {
            stop.cancel();
        }
        self.status.send_if_modified(|s| s.documents.remove(url).is_some());
    }
}

/// The repo settings every client shares: its peer id, the loaded-documents watch and idle unloading.
fn memory<S, R, A>(
    builder: RepoBuilder<S, R, A>,
    config: &ClientConfig,
    loaded: &watch::Sender<std::collections::HashSet<DocumentId>>,
) -> RepoBuilder<S, R, A> {
    let mut builder = builder.with_peer_id(config.peer_id()).with_observer(status::LoadedDocuments(loaded.clone()));
    if !config.saves {
        builder = builder.without_saving();
    }
    match config.unload_idle {
        // The relay (and a teammate's device) sends this device the changes of every document it has
        // announced, so a connected peer needs a document loaded only while they are still syncing it:
        // their next change loads it again.
        Some(idle) => {
            builder.with_idle_unload(samod::IdleUnload::after(idle).keep_for_peers(samod::KeepForPeers::WhileSyncing))
        }
        None => builder,
    }
}

/// Our URL type for a samod handle.
pub fn document_url(handle: &DocHandle) -> Result<DocumentUrl, SyncError> {
    let url = format!("{}{}", DocumentUrl::PREFIX, handle.document_id());
    url.parse().map_err(|_| SyncError::DocumentUrl(url))
}
