//! The node's one error type: what failed, in terms a caller (the CLI, the desktop shell) can act on.

use std::path::PathBuf;

use crate::{ApiFailure, p2p};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("not signed in")]
    SignedOut,
    #[error(transparent)]
    Api(#[from] ApiFailure),
    /// The relay's address is refused (malformed, or plain http to a public host) or TLS cannot be set up.
    #[error(transparent)]
    Transport(#[from] teamflow_sync::transport::TransportError),
    #[error("local store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("local store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("credentials at {path}: {source}")]
    Credentials { path: PathBuf, source: std::io::Error },
    /// Another node (the app, or `teamflow`) has this data directory open on this device.
    #[error("the data in {} is in use by another TeamFlow on this device (the app, or `teamflow`); close it first", path.display())]
    InUse { path: PathBuf },
    /// The data directory's lock file could not be opened or locked.
    #[error("the lock of the data in {}: {source}", path.display())]
    DataLock { path: PathBuf, source: std::io::Error },
    #[error("local data is unreadable: {0}")]
    Corrupt(String),
    /// Document sync could not start or stopped.
    #[error("document sync: {0}")]
    Sync(String),
    /// Reading or editing a document failed (an edit outside the text, heads it does not know, ...).
    #[error(transparent)]
    Document(#[from] teamflow_sync::SyncError),
    /// The request itself is wrong (a malformed id or version).
    #[error("{0}")]
    Invalid(String),
    #[error("not available offline yet (never fetched): {0}")]
    NotCached(ApiFailure),
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The window's sync connection has ended (or never started); the window connects again.
    #[error("the window's sync connection is closed")]
    WindowClosed,
    #[error(transparent)]
    P2p(#[from] p2p::P2pError),
}

impl NodeError {
    /// A JSON encoding or decoding failure of data the node itself stored.
    pub(crate) fn corrupt(error: serde_json::Error) -> Self {
        NodeError::Corrupt(error.to_string())
    }
}
