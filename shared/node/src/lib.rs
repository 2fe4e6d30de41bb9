//! The desktop's headless node: everything the app does except drawing the window, so it runs and is
//! tested without one (and backs the command-line client).
//!
//! A `Node` is one device's side of one relay: its local store and offline cache, sign-in, the outbox
//! (changes made offline, delivered exactly once and in order), documents synced with the relay and with
//! teammates' devices, and realtime rooms. A `Session` is that node as an app runs it: kept online, with
//! joined rooms and open documents, reporting everything through one stream of events.

mod api;
pub mod cli;
mod credentials;
mod device;
mod documents;
mod error;
mod forgotten;
mod integrations;
mod invitations;
mod messages;
mod notifications;
mod outbox;
pub mod p2p;
mod previews;
mod projects;
mod reading;
mod rooms;
mod search;
mod session;
mod sign_in;
mod status;
mod store;
mod teammates;
mod teams;
mod window;

use std::path::{Path, PathBuf};

use sqlx::SqlitePool;
use tokio::sync::Mutex;

pub use api::{ApiFailure, RelayApi};
pub use credentials::CredentialStore;
pub use error::NodeError;
pub use invitations::{preview_invitation, reset_password};
pub use notifications::NotificationSettings;
pub use outbox::{FlushReport, OutboxEntry, OutboxKind, OutboxState};
pub use p2p::{P2p, P2pConfig, P2pStatus, PeerLink};
pub use rooms::Room;
pub use search::{MATCH_END, MATCH_START, SearchHit, SearchTarget};
pub use session::{EventSink, Session, SessionEvent};
pub use status::Status;
pub use teamflow_sync::rich::HistoryEntry;
pub use teamflow_sync::transport::{TransportError, relay_url};
pub use teamflow_sync::view::TextUpdate;
pub use teamflow_sync::{AUTHOR_PREFIX, DocSync, Link, Presence, RELAY_PEER_ID, Splice, SyncError};
pub use window::{WINDOW_PEER_ID, WindowSink};

/// One device's node. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Node {
    db: SqlitePool,
    data_dir: PathBuf,
    api: RelayApi,
    /// The TLS configuration of every connection to the relay (REST, rooms, sync).
    tls: std::sync::Arc<rustls::ClientConfig>,
    sign_in: Mutex<Option<sign_in::SignIn>>,
    credentials: credentials::Credentials,
    status: status::StatusBoard,
    /// Tasks the node spawned (the status forwarder, the log emptier); `close` waits for them.
    tasks: tokio_util::task::TaskTracker,
    /// Empties the store's write-ahead log after words a person took back were erased.
    log_emptier: store::LogEmptier,
    /// One delivery run at a time, so the outbox drains strictly in order.
    flushing: Mutex<()>,
    /// The document sync client, created once someone is signed in.
    sync: Mutex<Option<teamflow_sync::SyncClient>>,
    /// The document store's count of writes not yet durable, once the sync client exists.
    storage_backlog: std::sync::Mutex<Option<tokio::sync::watch::Receiver<usize>>>,
    /// The current access token, which the sync dialer presents on every (re)connection.
    token: tokio::sync::watch::Sender<String>,
    /// This device's libp2p identity for peer-to-peer sync; its peer id names the device in sync peer ids.
    device_key: libp2p::identity::Keypair,
    /// Teammates' devices admitted by the peer-to-peer certificate exchange (the share policy reads it).
    admitted: tokio::sync::watch::Sender<p2p::Admitted>,
    /// Bumped whenever a document learns its team, so share decisions are taken again.
    document_teams: tokio::sync::watch::Sender<u64>,
    /// When teams were forgotten, so that an answer the relay gave before is not kept (`begin_answer_write`).
    forgets: std::sync::Mutex<forgotten::Forgets>,
    /// The peer-to-peer swarm, once started.
    p2p: Mutex<Option<P2p>>,
    /// How long a document may go unused (not open, nothing to sync) before it leaves memory.
    unload_idle: std::time::Duration,
    /// How long a document deleted in its team keeps its content here (the relay's time to restore it).
    deleted_kept: std::time::Duration,
    /// Set by `shutdown`: no sync client starts again afterwards.
    shut_down: std::sync::atomic::AtomicBool,
    /// The data directory's lock: no other node opens it until this one has shut down (or is dropped;
    /// then the store's connections and the log emptier may still be closing: `shutdown` waits for them
    /// before it lets go).
    claim: std::sync::Mutex<Option<store::DataClaim>>,
}

/// How long a document may go unused before the node drops it from memory (it stays in the store).
pub const DOCUMENT_UNLOAD_IDLE: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("data_dir", &self.data_dir)
            .field("relay", &self.api.base())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Opens (creating if needed) the node's store in `data_dir`, restoring a previous sign-in. TLS trusts the
    /// operating system's roots plus `TEAMFLOW_CA_CERT` (see `teamflow_sync::transport`).
    pub async fn open(data_dir: &Path, relay_url: &str) -> Result<Node, NodeError> {
        Self::open_with_tls(data_dir, relay_url, teamflow_sync::transport::client_config()?).await
    }

    /// `open`, trusting the CA in `ca_cert` (a PEM file) besides the operating system's roots.
    pub async fn open_with_ca(data_dir: &Path, relay_url: &str, ca_cert: &Path) -> Result<Node, NodeError> {
        Self::open_with_tls(data_dir, relay_url, teamflow_sync::transport::client_config_with_ca(ca_cert)?).await
    }

    async fn open_with_tls(
        data_dir: &Path,
        relay_url: &str,
        tls: std::sync::Arc<rustls::ClientConfig>,
    ) -> Result<Node, NodeError> {
        // The store holds the user's chat, documents and outbox: readable by them alone.
        let private = |source| NodeError::Credentials { path: data_dir.to_owned(), source };
        teamflow_sync::private::private_dir(data_dir).map_err(private)?;
        // Before the store's files are touched: a second node on them would write them too.
        let claim = store::claim(data_dir).await?;
        teamflow_sync::private::private_database(&data_dir.join(store::DATABASE_FILE)).map_err(private)?;
        let db = store::open(data_dir).await?;
        let tasks = tokio_util::task::TaskTracker::new();
        let log_emptier = store::LogEmptier::spawn(db.clone(), &tasks);
        let node = Node {
            db,
            data_dir: data_dir.to_owned(),
            api: RelayApi::with_tls(relay_url, &tls)?,
            tls,
            sign_in: Mutex::new(None),
            credentials: credentials::Credentials::new(data_dir),
            status: status::StatusBoard::new(),
            tasks,
            log_emptier,
            flushing: Mutex::new(()),
            sync: Mutex::new(None),
            storage_backlog: std::sync::Mutex::new(None),
            token: tokio::sync::watch::Sender::new(String::new()),
            device_key: device::load_or_create_key(data_dir)?,
            admitted: tokio::sync::watch::Sender::new(p2p::Admitted::default()),
            document_teams: tokio::sync::watch::Sender::new(0),
            forgets: std::sync::Mutex::default(),
            p2p: Mutex::new(None),
            unload_idle: DOCUMENT_UNLOAD_IDLE,
            deleted_kept: teamflow_protocol::api::teams::DELETED_DOCUMENT_KEPT,
            shut_down: std::sync::atomic::AtomicBool::new(false),
            claim: std::sync::Mutex::new(Some(claim)),
        };
        node.restore().await?;
        node.refresh_outbox_status().await?;
        Ok(node)
    }
    /// Drops documents from memory after `idle` unused (default `DOCUMENT_UNLOAD_IDLE`) instead: a document
    /// is unused when it is not open (no handle to it is alive) and it has nothing to sync with the relay or a
    /// teammate. Takes effect when the sync client starts, so call it right after `open`.
    pub fn with_unload_idle(mut self, idle: std::time::Duration) -> Self {
        self.unload_idle = idle;
        self
    }

    /// Purges a document deleted in its team `kept` after this device learned of it, instead of after the
    /// relay's `DELETED_DOCUMENT_KEPT` (30 days), for tests of what happens then.
    pub fn with_deleted_documents_kept(mut self, kept: std::time::Duration) -> Self {
        self.deleted_kept = kept;
        self
    }

    /// Stops syncing and closes the store, waiting for writes to finish.
    pub async fn close(self) {
        self.shutdown().await;
    }

    /// What `close` does, for a node others still hold (the app quitting): stops syncing and waits until
    /// the store has written everything it was handed, then lets go of the data directory. Nothing works
    /// on the node afterwards.
    pub async fn shutdown(&self) {
        self.shut_down.store(true, std::sync::atomic::Ordering::SeqCst);
        self.stop_p2p().await;
        if let Some(sync) = self.sync.lock().await.take() {
            sync.stop().await;
        }
        // The forwarder ends once the sync client is gone, the log emptier once it served what it was asked.
        self.log_emptier.close();
        self.tasks.close();
        self.tasks.wait().await;
        self.db.close().await;
        // The store is closed: another node may open the data now, even while this one is still held.
        self.claim.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    }
}
