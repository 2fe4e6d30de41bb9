//! A window whose web process ended (it crashed, or the system ended it for its memory) is drawn again
//! instead of staying blank until the app is restarted. The session lives in the node, not the page, so
//! the page loaded again picks it up: signed in, the same teams, every message and edit the node took.
//! WebKitGTK only: wry reports no such end on macOS and Windows yet.

use tauri::{Runtime, WebviewWindow};

/// How many times within `CRASH_WINDOW` the page is loaded again: a page that ends on every load (a bug in
/// it) is left, and logged, rather than loaded in a loop that takes the machine's processors.
#[cfg(target_os = "linux")]
const RELOADS: usize = 3;
#[cfg(target_os = "linux")]
const CRASH_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Loads the window's page again each time its web process ends, other than by the app's own request.
#[cfg(target_os = "linux")]
pub(crate) fn reload_when_the_page_ends<R: Runtime>(window: &WebviewWindow<R>) {
    if let Err(error) = window.with_webview(|webview| {
        use webkit2gtk::{WebProcessTerminationReason, WebViewExt};
        // On GTK's main thread alone, so a cell is enough.
        let recent = std::cell::RefCell::new(std::collections::VecDeque::<std::time::Instant>::new());
        webview.inner().connect_web_process_terminated(move |view, reason| {
            if reason == WebProcessTerminationReason::TerminatedByApi {
                return;
            }
            let mut recent = recent.borrow_mut();
            let now = std::time::Instant::now();
            recent.retain(|at| now.duration_since(*at) < CRASH_WINDOW);
            if recent.len() >= RELOADS {
                tracing::error!(?reason, "the window's web process ended again; not loading the page once more");
                return;
            }
            recent.push_back(now);
            tracing::warn!(?reason, "the window's web process ended; loading the page again");
            view.reload();
        });
    }) {
        tracing::warn!(%error, "the window will not be drawn again if its web process ends");
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn reload_when_the_page_ends<R: Runtime>(_window: &WebviewWindow<R>) {}
