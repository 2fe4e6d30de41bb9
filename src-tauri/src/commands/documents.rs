//! Documents: the team's list, and editing one from the window (which may lag behind the document; see
//! `teamflow_sync::view`).

use std::str::FromStr;

use tauri::{State, Wry};
use teamflow_protocol::TeamId;
use teamflow_protocol::api::teams::DocumentEntry;
use teamflow_sync::automerge::ChangeHash;
use teamflow_sync::rich::HistoryEntry;
use teamflow_sync::view::{TextUpdate, edit_at, text_since};
use teamflow_sync::{Cursor, Splice};

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
    let document = shell.account().await?.document(shell.app(), &url).await?;
    let heads = teamflow_sync::heads(&document.handle);
    Ok(text_since(&document.handle, &heads)?)
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
    let document = shell.account().await?.document(shell.app(), &url).await?;
    Ok(edit_at(&document.handle, &parse_heads(&base)?, &edits)?)
}

/// The document now, and how it differs from the text at `since`.
#[tauri::command]
#[specta::specta]
pub(crate) async fn document_since(
    shell: State<'_, Shell<Wry>>,
    url: String,
    since: Vec<String>,
) -> Result<TextUpdate, AppError> {
    let document = shell.account().await?.document(shell.app(), &url).await?;
    Ok(text_since(&document.handle, &parse_heads(&since)?)?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn close_document(shell: State<'_, Shell<Wry>>, url: String) -> Result<(), AppError> {
    shell.account().await?.close_document(&url).await;
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
    let document = shell.account().await?.document(shell.app(), &url).await?;
    document.presence.set_cursor(Some(Cursor { anchor: anchor as usize, head: head as usize }));
    Ok(())
}

/// Every change to the document, oldest first.
#[tauri::command]
#[specta::specta]
pub(crate) async fn document_history(shell: State<'_, Shell<Wry>>, url: String) -> Result<Vec<HistoryEntry>, AppError> {
    let document = shell.account().await?.document(shell.app(), &url).await?;
    Ok(teamflow_sync::rich::history(&document.handle))
}

/// The text as it was at a version (a history entry's hash, or any heads).
#[tauri::command]
#[specta::specta]
pub(crate) async fn document_at(
    shell: State<'_, Shell<Wry>>,
    url: String,
    heads: Vec<String>,
) -> Result<String, AppError> {
    let document = shell.account().await?.document(shell.app(), &url).await?;
    Ok(teamflow_sync::rich::text_at(&document.handle, &parse_heads(&heads)?)?)
}

fn parse_heads(heads: &[String]) -> Result<Vec<ChangeHash>, AppError> {
    heads
        .iter()
        .map(|h| ChangeHash::from_str(h).map_err(|_| AppError::invalid(format!("{h} is not a change hash"))))
        .collect()
}
