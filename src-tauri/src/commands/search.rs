//! Search over everything this device holds (messages, projects, documents of all the user's teams),
//! answered from the node's local index, so it works offline.

use tauri::{State, Wry};
use teamflow_node::SearchHit;

use crate::error::AppError;
use crate::shell::Shell;

/// The best matches for `query`, at most `limit` (capped at 50); matches in titles and snippets sit between
/// U+0002 and U+0003.
#[tauri::command]
#[specta::specta]
pub(crate) async fn search(
    shell: State<'_, Shell<Wry>>,
    query: String,
    limit: u32,
) -> Result<Vec<SearchHit>, AppError> {
    Ok(shell.node().await?.search(&query, limit).await?)
}
