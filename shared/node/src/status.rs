//! The node's one observable status: sign-in, the relay link, connected peers, the outbox, and each open
//! document's sync state. The app's sync indicator is drawn from this and nothing else.
//!
//! Two inputs feed it: the sync client's own status (link, peers, documents), forwarded by a task that ends
//! with the sync client, and the outbox, re-read after every change to it. A document whose registration is
//! still queued is shown as local-only whatever the sync client thinks: the relay does not take it yet.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use teamflow_protocol::DocumentUrl;
use teamflow_sync::{DocSync, Link, SyncStatus};
use tokio::sync::watch;

use crate::{CredentialStore, Node, NodeError};

/// What the app shows at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Status {
    pub signed_in: bool,
    /// Where the refresh token is kept while signed in.
    pub credentials: Option<CredentialStore>,
    /// The document-sync link to the relay.
    pub link: Link,
    /// Sync peers connected right now (the relay's peer id while online).
    pub peers: Vec<String>,
    /// Outbox entries waiting for the relay.
    pub pending: i64,
    /// Outbox entries the relay refused (see `Node::outbox` for the reasons).
    pub failed: i64,
    /// Every document opened or created in this session.
    pub documents: BTreeMap<DocumentUrl, DocSync>,
}

/// The inputs `Status` is computed from.
#[derive(Debug, Default)]
struct Inputs {
    sync: SyncStatus,
    /// Documents whose registration is still in the outbox (pending or failed).
    unregistered: HashSet<DocumentUrl>,
}

/// Owns the status value and recomputes it whenever an input changes. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct StatusBoard {
    value: watch::Sender<Status>,
    inputs: Arc<Mutex<Inputs>>,
}

impl StatusBoard {
    pub(crate) fn new() -> Self {
        Self { value: watch::Sender::new(Status::default()), inputs: Arc::default() }
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Status> {
        self.value.subscribe()
    }

    pub(crate) fn current(&self) -> Status {
        self.value.borrow().clone()
    }

    pub(crate) fn set_credentials(&self, store: Option<CredentialStore>) {
        self.value.send_if_modified(|s| {
            let changed = s.credentials != store || s.signed_in != store.is_some();
            s.credentials = store;
            s.signed_in = store.is_some();
            changed
        });
    }

    pub(crate) fn set_outbox(&self, pending: i64, failed: i64, unregistered: HashSet<DocumentUrl>) {
        let mut inputs = self.inputs.lock().unwrap_or_else(PoisonError::into_inner);
        inputs.unregistered = unregistered;
        self.publish(&inputs, Some((pending, failed)));
    }

    fn set_sync(&self, sync: SyncStatus) {
        let mut inputs = self.inputs.lock().unwrap_or_else(PoisonError::into_inner);
        inputs.sync = sync;
        self.publish(&inputs, None);
    }

    /// Back to signed out: nothing synced, nothing queued.
    pub(crate) fn reset(&self) {
        let mut inputs = self.inputs.lock().unwrap_or_else(PoisonError::into_inner);
        *inputs = Inputs::default();
        self.value.send_replace(Status::default());
    }

    fn publish(&self, inputs: &Inputs, outbox: Option<(i64, i64)>) {
        let documents: BTreeMap<DocumentUrl, DocSync> = inputs
            .sync
            .documents
            .iter()
            .map(|(url, state)| {
                let state = if inputs.unregistered.contains(url) { DocSync::LocalOnly } else { *state };
                (url.clone(), state)
            })
            .collect();
        self.value.send_if_modified(|s| {
            let before = s.clone();
            s.link = inputs.sync.link;
            s.peers.clone_from(&inputs.sync.peers);
            s.documents = documents;
            if let Some((pending, failed)) = outbox {
                (s.pending, s.failed) = (pending, failed);
            }
            *s != before
        });
    }

    /// Forwards a sync client's status until the client is gone.
    pub(crate) async fn follow(self, mut sync: watch::Receiver<SyncStatus>) {
        loop {
            let snapshot = sync.borrow_and_update().clone();
            self.set_sync(snapshot);
            if sync.changed().await.is_err() {
                break;
            }
        }
    }
}

impl Node {
    /// The status now, with the outbox freshly counted.
    pub async fn status(&self) -> Result<Status, NodeError> {
        self.refresh_outbox_status().await?;
        Ok(self.status.current())
    }

    /// The status as it changes: the app subscribes once and redraws on every change.
    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// Re-reads the outbox into the status (after anything that changes it).
    pub(crate) async fn refresh_outbox_status(&self) -> Result<(), NodeError> {
        let (pending, failed): (i64, i64) = sqlx::query_as(
            "SELECT COALESCE(SUM(state = 'pending'), 0), COALESCE(SUM(state = 'failed'), 0) FROM outbox",
        )
        .fetch_one(&self.db)
        .await?;
        let queued: Vec<String> =
            sqlx::query_scalar("SELECT body_json ->> '$.document_id' FROM outbox WHERE kind = 'document'")
                .fetch_all(&self.db)
                .await?;
        let unregistered = queued.iter().filter_map(|id| id.parse().ok()).collect();
        self.status.set_outbox(pending, failed, unregistered);
        Ok(())
    }
}
