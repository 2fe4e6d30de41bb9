//! Events the shell pushes to the window. Each carries what changed, typed for the UI.

use serde::Serialize;
use teamflow_node::Presence;
use teamflow_node::Status;
use teamflow_protocol::TeamId;
use teamflow_protocol::realtime::ServerMessage;

/// The node's status changed (link, peers, outbox counts, a document's sync state, sign-in).
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct StatusChanged(pub Status);

/// A frame from a joined team's room: chat, typing, presence, project and membership changes.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct RoomEvent {
    pub team_id: TeamId,
    pub frame: ServerMessage,
}

/// An open document changed (a local or a teammate's edit); the window's editor hears of it through its own
/// repo, this tells anything else that shows the document.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct DocumentChanged {
    pub url: String,
}

/// Who else is on an open document, and where their cursors are.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub struct PresenceChanged {
    pub url: String,
    pub peers: Vec<Presence>,
}
