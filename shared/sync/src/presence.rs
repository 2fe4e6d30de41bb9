//! Presence and cursors on a document, carried as automerge-repo ephemeral messages (CBOR maps, as the
//! JavaScript client encodes them) that name the user as well as the peer.

use futures::{Stream, StreamExt};
use samod::DocHandle;
use serde::{Deserialize, Serialize};
use teamflow_protocol::UserId;

/// A selection in the document's text, in character positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub anchor: usize,
    pub head: usize,
}

/// One peer's presence on one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    #[serde(rename = "userId")]
    pub user_id: UserId,
    #[serde(rename = "peerId")]
    pub peer_id: String,
    pub name: String,
    pub color: String,
    pub cursor: Option<Cursor>,
}

/// Ephemeral frames are wrapped so unrelated ephemeral traffic on a document is told apart.
#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(rename = "__presence")]
    presence: Presence,
}

impl Presence {
    /// Sends this presence to every peer allowed to see the document.
    pub fn broadcast(&self, handle: &DocHandle) {
        let mut bytes = Vec::new();
        match ciborium::into_writer(&Envelope { presence: self.clone() }, &mut bytes) {
            Ok(()) => handle.broadcast(bytes),
            Err(e) => tracing::error!(error = %e, "presence did not encode"),
        }
    }

    /// Presence messages from other peers on the document; other ephemeral traffic is skipped.
    pub fn stream(handle: &DocHandle) -> impl Stream<Item = Presence> + 'static {
        handle.ephemera().filter_map(|bytes| async move {
            ciborium::from_reader::<Envelope, _>(bytes.as_slice()).ok().map(|e| e.presence)
        })
    }
}
