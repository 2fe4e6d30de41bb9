//! Documents: the team's list, and editing one from the window (which may lag behind the document; the
//! node's session merges its edits, see `teamflow_sync::view`).

use tauri::{State, Wry};
use teamflow_node::{HistoryEntry, Splice, TextUpdate};
use teamflow_protocol::TeamId;
use teamflow_protocol::api::teams::DocumentEntry;

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

/// Opens a document in the window: its text and heads, with presence and change events from now on.
#[tauri::command]
#[specta::specta]
pub(crate) async fn open_document(shell: State<'_, Shell<Wry>>, url: String) -> Result<TextUpdate, AppError> {
    Ok(shell.account().await?.session.open_document(&url).await?)
}

/// Applies the window's edits, made on the text at `base`; answers with the merged text and how it
/// differs from the window's text with those edits applied.
#[tauri::command]
#[specta::specta]
pub(crate) async fn edit_document(
    shell: State<'_, Shell<Wry>>,
    url: String,
    base: Vec<String>,
    edits: Vec<Splice>,
) -> Result<TextUpdate, AppError> {
    Ok(shell.account().await?.session.edit_document(&url, &base, &edits).await?)
}

/// The document now, and how it differs from the text at `since`.
#[tauri::command]
#[specta::specta]
pub(crate) async fn document_since(
    shell: State<'_, Shell<Wry>>,
    url: String,
    since: Vec<String>,
) -> Result<TextUpdate, AppError> {
    Ok(shell.account().await?.session.document_since(&url, &since).await?)
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
