//! The one error every command returns: tagged by `kind` so the UI branches on it, never on message text.

use serde::Serialize;
use teamflow_node::SyncError;
use teamflow_node::{ApiFailure, NodeError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    /// Nobody is signed in (or the sign-in was revoked): show the sign-in screen.
    #[error("not signed in")]
    SignedOut,
    /// The relay did not answer; what was asked for needs it.
    #[error("the relay is unreachable: {message}")]
    Offline { message: String },
    /// The relay's TLS certificate was refused (untrusted, expired, another name): `message` says which,
    /// and how to trust a private CA.
    #[error("{message}")]
    Certificate { message: String },
    /// The relay answered no; `code` is its stable machine code (`validation_failed`, `forbidden`, ...).
    #[error("{message}")]
    Refused { status: u16, code: String, message: String },
    /// Offline, and this was never fetched while online.
    #[error("not available offline yet")]
    NotCached,
    #[error("{what} not found")]
    NotFound { what: String },
    /// The request itself is wrong (a malformed id, an edit outside the text).
    #[error("{message}")]
    Invalid { message: String },
    /// The window's sync connection has ended (replaced, signed out, or ended after a malformed frame):
    /// the window connects again.
    #[error("the window's document link is closed")]
    Disconnected,
    /// Another TeamFlow on this device (a second app, or `teamflow`) has this relay's data open: `path`
    /// is its directory. Closing that one is enough; the app opens the data on its next use.
    #[error("the data in {path} is in use by another TeamFlow")]
    DataInUse { path: String },
    /// Something failed on this device (its store, its files); details are in the log.
    #[error("{message}")]
    Local { message: String },
}

impl AppError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        AppError::Invalid { message: message.into() }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound { what: what.into() }
    }
}

impl From<NodeError> for AppError {
    fn from(error: NodeError) -> Self {
        match error {
            NodeError::SignedOut => AppError::SignedOut,
            NodeError::Api(ApiFailure::Unreachable(message)) => AppError::Offline { message },
            NodeError::Api(ApiFailure::Certificate(message)) => AppError::Certificate { message },
            NodeError::Transport(error) => AppError::Invalid { message: error.to_string() },
            NodeError::Api(ApiFailure::Refused { status, code, message }) => {
                AppError::Refused { status, code, message }
            }
            NodeError::NotCached(_) => AppError::NotCached,
            NodeError::NotFound(what) => AppError::not_found(what),
            NodeError::Invalid(message) => AppError::Invalid { message },
            NodeError::WindowClosed => AppError::Disconnected,
            NodeError::InUse { path } => AppError::DataInUse { path: path.display().to_string() },
            NodeError::Document(
                error @ (SyncError::UnknownHeads | SyncError::OutOfRange { .. } | SyncError::DocumentUrl(_)),
            ) => AppError::Invalid { message: error.to_string() },
            other => {
                tracing::error!(error = %other, "local failure");
                AppError::Local { message: other.to_string() }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_tagged_by_kind_with_the_relays_code() {
        let refused: AppError = NodeError::Api(ApiFailure::Refused {
            status: 403,
            code: "forbidden".into(),
            message: "owners and admins only".into(),
        })
        .into();
        assert_eq!(
            serde_json::to_value(&refused).expect("json"),
            serde_json::json!({"kind": "refused", "status": 403, "code": "forbidden", "message": "owners and admins only"})
        );
        assert_eq!(serde_json::to_value(AppError::SignedOut).expect("json"), serde_json::json!({"kind": "signed_out"}));
        let offline: AppError = NodeError::Api(ApiFailure::Unreachable("connection refused".into())).into();
        assert!(matches!(offline, AppError::Offline { .. }));
        let closed: AppError = NodeError::WindowClosed.into();
        assert_eq!(serde_json::to_value(&closed).expect("json"), serde_json::json!({"kind": "disconnected"}));
        let in_use: AppError = NodeError::InUse { path: "/data/relays/relay.example.com".into() }.into();
        assert_eq!(
            serde_json::to_value(&in_use).expect("json"),
            serde_json::json!({"kind": "data_in_use", "path": "/data/relays/relay.example.com"})
        );
        let stale: AppError = NodeError::Document(SyncError::UnknownHeads).into();
        assert!(matches!(stale, AppError::Invalid { .. }));
    }
}
