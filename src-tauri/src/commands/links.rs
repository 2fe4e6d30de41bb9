//! Links out of the app: opened in the system browser, never inside the app's webview, and only
//! `http(s)` (`teamflow_protocol::api::integrations::is_web_link`), whatever the page asks.

use tauri::{AppHandle, Wry};
use tauri_plugin_opener::OpenerExt as _;
use teamflow_protocol::api::integrations::is_web_link;

use crate::error::AppError;

/// Opens `url` in the system browser; anything but an `http(s)` link is refused.
#[tauri::command]
#[specta::specta]
pub(crate) fn open_link(app: AppHandle<Wry>, url: String) -> Result<(), AppError> {
    if !is_web_link(&url) {
        return Err(AppError::invalid("only http and https links open"));
    }
    app.opener().open_url(url, None::<&str>).map_err(|e| AppError::Local { message: e.to_string() })
}
