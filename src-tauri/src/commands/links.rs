//! Links out of the app: opened in the system browser, never inside the app's webview, and only
//! `http(s)` (`teamflow_protocol::api::integrations::is_web_link`), whatever the page asks. And links into
//! it: the `teamflow://` link the app was last opened with (`deep_links`).

use tauri::{AppHandle, State, Wry};
use tauri_plugin_opener::OpenerExt as _;
use teamflow_protocol::api::integrations::is_web_link;

use crate::deep_links::{OpenedLink, Pending};
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

/// The link the app was last opened with and the window has not taken yet, if any: asked when the window
/// starts and on `LinkOpened`. Taking it clears it, so one link fills one form once.
#[tauri::command]
#[specta::specta]
pub(crate) fn take_opened_link(pending: State<'_, Pending>) -> Option<OpenedLink> {
    pending.take()
}
