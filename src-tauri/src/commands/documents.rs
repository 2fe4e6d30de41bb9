//! Documents: the team's list, renaming and deleting (with restore), opening one (presence, history), and
//! the window's own sync connection, over which its editor reads and writes documents (see
//! `teamflow_node::Session::connect_window`).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tauri::ipc::Channel;
use tauri::{State, Wry};
use teamflow_node::{HistoryEntry, TextUpdate, WindowSink};
use teamflow_protocol::api::teams::{DeletedDocument, DocumentEntry};
use teamflow_protocol::{DocumentUrl, TeamId};

use crate::error::AppError;
use crate::shell::Shell;

#[tauri::command]
#[specta::specta]
pub(crate) async fn documents(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<Vec<DocumentEntry>, AppError> {
    Ok(shell.node().await?.documents(team_id).await?)
}

/// A new, empty document of the team (works offline; registered when the relay answers).
#[tauri::command]
#[specta::specta]
pub(crate) async fn create_document(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    title: String,
) -> Result<String, AppError> {
    let (url, _) = shell.node().await?.create_document(team_id, &title, "").await?;
    Ok(url.to_string())
}

/// A document URL from the window, checked before it reaches a path on the relay.
fn document_url(url: &str) -> Result<DocumentUrl, AppError> {
    url.parse().map_err(|_| AppError::invalid(format!("not a document URL: {url:?}")))
}

/// Renames a document (needs the relay; teammates see it at once).
#[tauri::command]
#[specta::specta]
pub(crate) async fn rename_document(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    url: String,
    title: String,
) -> Result<DocumentEntry, AppError> {
    let url = document_url(&url)?;
    Ok(shell.node().await?.rename_document(team_id, &url, &title).await?)
}

/// Deletes a document; `restore_document` brings it back for 30 days.
#[tauri::command]
#[specta::specta]
pub(crate) async fn delete_document(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    url: String,
) -> Result<(), AppError> {
    let url = document_url(&url)?;
    Ok(shell.node().await?.delete_document(team_id, &url).await?)
}

/// The team's deleted documents this user may restore, most recently deleted first (needs the relay).
#[tauri::command]
#[specta::specta]
pub(crate) async fn deleted_documents(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
) -> Result<Vec<DeletedDocument>, AppError> {
    Ok(shell.node().await?.deleted_documents(team_id).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn restore_document(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    url: String,
) -> Result<DocumentEntry, AppError> {
    let url = document_url(&url)?;
    Ok(shell.node().await?.restore_document(team_id, &url).await?)
}

/// Opens a document on the node (the window's repo then fetches it through `connect_window`): its text and
/// heads, with presence and change events from now on.
#[tauri::command]
#[specta::specta]
pub(crate) async fn open_document(shell: State<'_, Shell<Wry>>, url: String) -> Result<TextUpdate, AppError> {
    Ok(shell.account().await?.session.open_document(&url).await?)
}

/// The document as last seen on this device (its rich text's spans, JSON), if any: drawn at once while the
/// document itself loads.
#[tauri::command]
#[specta::specta]
pub(crate) async fn document_preview(shell: State<'_, Shell<Wry>>, url: String) -> Result<Option<String>, AppError> {
    Ok(shell.account().await?.session.document_preview(&url).await?)
}

/// The whole document, saved (base64): the window's repo loads it in one piece before it syncs.
#[tauri::command]
#[specta::specta]
pub(crate) async fn document_saved(shell: State<'_, Shell<Wry>>, url: String) -> Result<String, AppError> {
    Ok(BASE64.encode(shell.account().await?.session.document_saved(&url).await?))
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn close_document(shell: State<'_, Shell<Wry>>, url: String) -> Result<(), AppError> {
    shell.account().await?.session.close_document(&url).await;
    Ok(())
}

/// Moves this person's cursor (or selection) on an open document; teammates see it at once.
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_cursor(
    shell: State<'_, Shell<Wry>>,
    url: String,
    anchor: u32,
    head: u32,
) -> Result<(), AppError> {
    Ok(shell.account().await?.session.set_cursor(&url, anchor as usize, head as usize).await?)
}

/// Every change to the document, oldest first.
#[tauri::command]
#[specta::specta]
pub(crate) async fn document_history(shell: State<'_, Shell<Wry>>, url: String) -> Result<Vec<HistoryEntry>, AppError> {
    Ok(shell.account().await?.session.document_history(&url).await?)
}

/// The text as it was at a version (a history entry's hash, or any heads).
#[tauri::command]
#[specta::specta]
pub(crate) async fn document_at(
    shell: State<'_, Shell<Wry>>,
    url: String,
    heads: Vec<String>,
) -> Result<String, AppError> {
    Ok(shell.account().await?.session.document_at(&url, &heads).await?)
}

/// Connects the window's in-memory automerge-repo to the node's as a sync peer: the node's frames arrive on
/// `frames` (base64, in order), the window's go through `window_frame`. Replaces an earlier connection.
#[tauri::command]
#[specta::specta]
pub(crate) async fn connect_window(shell: State<'_, Shell<Wry>>, frames: Channel<String>) -> Result<(), AppError> {
    let sink: WindowSink = Arc::new(move |frame: Vec<u8>| {
        if let Err(e) = frames.send(BASE64.encode(frame)) {
            // The window went away; the node ends the connection when the next one replaces it.
            tracing::debug!(error = %e, "a sync frame for the window was not delivered");
        }
    });
    Ok(shell.account().await?.session.connect_window(sink).await?)
}

/// One frame (base64) from the window's repo to the node's, in the order the window sends them.
#[tauri::command]
#[specta::specta]
pub(crate) async fn window_frame(shell: State<'_, Shell<Wry>>, frame: String) -> Result<(), AppError> {
    let frame =
        BASE64.decode(frame.as_bytes()).map_err(|e| AppError::invalid(format!("a sync frame is not base64: {e}")))?;
    Ok(shell.account().await?.session.window_frame(frame).await?)
}
