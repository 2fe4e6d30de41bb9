//! Exporting a document to a file: the editor makes the Markdown or HTML, the person picks where it goes in
//! the system's save dialog, and this writes it. The window never names a path; only the dialog does.

use serde::Deserialize;
use tauri::{AppHandle, Wry};
use tauri_plugin_dialog::DialogExt as _;

use crate::error::AppError;

/// Far above any document a person writes (the automerge-paper's text is 105 KB as Markdown), and a bound
/// on what a confused window can ask to be written.
const MAX_EXPORT_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExportFormat {
    Markdown,
    Html,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::Html => "html",
        }
    }

    fn filter_name(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "Markdown",
            ExportFormat::Html => "Web page",
        }
    }
}

/// Asks where to save an export of the document titled `title`, and saves `contents` there. Answers the
/// file's path, or nothing when the person cancelled the dialog.
#[tauri::command]
#[specta::specta]
pub(crate) async fn export_document(
    app: AppHandle<Wry>,
    title: String,
    format: ExportFormat,
    contents: String,
) -> Result<Option<String>, AppError> {
    if contents.len() > MAX_EXPORT_BYTES {
        return Err(AppError::invalid(format!(
            "the export is {} MB; at most {} MB can be saved",
            contents.len() / (1024 * 1024),
            MAX_EXPORT_BYTES / (1024 * 1024)
        )));
    }
    let (chosen, picked) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Export document")
        .set_file_name(file_name(&title, format))
        .add_filter(format.filter_name(), &[format.extension()])
        .save_file(move |path| {
            if chosen.send(path).is_err() {
                tracing::debug!("the export was abandoned before its dialog closed");
            }
        });
    let Some(path) = picked.await.map_err(|_| AppError::Local { message: "the save dialog closed".into() })? else {
        return Ok(None);
    };
    let path = path.into_path().map_err(|e| AppError::invalid(format!("not a file on this device: {e}")))?;
    tokio::fs::write(&path, contents)
        .await
        .map_err(|e| AppError::Local { message: format!("could not write {}: {e}", path.display()) })?;
    Ok(Some(path.display().to_string()))
}

/// The file name the dialog suggests: the title without what file systems refuse, or "Document".
fn file_name(title: &str, format: ExportFormat) -> String {
    let cleaned: String =
        title.chars().map(|c| if c.is_control() || "<>:\"/\\|?*".contains(c) { ' ' } else { c }).collect();
    // Words of dots alone (`..`) name directories, not documents.
    let words = cleaned.split_whitespace().filter(|w| !w.chars().all(|c| c == '.')).collect::<Vec<_>>().join(" ");
    let stem: String = words.trim_matches('.').trim().chars().take(100).collect();
    let stem = if stem.is_empty() { "Document".to_owned() } else { stem };
    format!("{stem}.{}", format.extension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suggested_name_is_the_title_without_what_file_systems_refuse() {
        assert_eq!(file_name("Ops runbook", ExportFormat::Markdown), "Ops runbook.md");
        assert_eq!(file_name("Q3: plan/draft?", ExportFormat::Html), "Q3 plan draft.html");
        assert_eq!(file_name("../../etc/passwd", ExportFormat::Markdown), "etc passwd.md");
        assert_eq!(file_name("  \u{7}\n ", ExportFormat::Markdown), "Document.md");
        assert_eq!(file_name(&"x".repeat(300), ExportFormat::Markdown).len(), 103);
    }
}
