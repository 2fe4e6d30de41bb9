//! A window whose web process ended (it crashed, or the system ended it for its memory) is drawn again
//! instead of staying frozen on its last frame until the app is restarted. The session lives in the node,
//! not the page, so the page loaded again picks it up: signed in, the same teams, every message and edit
//! the node took. WebKitGTK only: wry reports no such end on macOS and Windows yet.

// Elsewhere than Linux only the tests use the budget.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tauri::{Runtime, WebviewWindow};

/// How many times within `CRASH_WINDOW` the page is loaded again: a page that ends on every load (a bug in
/// it) is left, and logged, rather than loaded in a loop that takes the machine's processors.
const RELOADS: usize = 3;
const CRASH_WINDOW: Duration = Duration::from_secs(60);

/// The reloads of the last `CRASH_WINDOW`, and whether another may follow.
#[derive(Debug, Default)]
struct ReloadBudget {
    recent: VecDeque<Instant>,
}

impl ReloadBudget {
    /// Whether the page may be loaded again at `now`; counts it when it may.
    fn take(&mut self, now: Instant) -> bool {
        self.recent.retain(|at| now.saturating_duration_since(*at) < CRASH_WINDOW);
        if self.recent.len() >= RELOADS {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// Loads the window's page again each time its web process ends, other than by the app's own request.
#[cfg(target_os = "linux")]
pub(crate) fn reload_when_the_page_ends<R: Runtime>(window: &WebviewWindow<R>) {
    if let Err(error) = window.with_webview(|webview| {
        use webkit2gtk::{WebProcessTerminationReason, WebViewExt};
        // On GTK's main thread alone, so a cell is enough.
        let budget = std::cell::RefCell::new(ReloadBudget::default());
        webview.inner().connect_web_process_terminated(move |view, reason| {
            if reason == WebProcessTerminationReason::TerminatedByApi {
                return;
            }
            if !budget.borrow_mut().take(Instant::now()) {
                tracing::error!(?reason, "the window's web process ended again; not loading the page once more");
                return;
            }
            tracing::warn!(?reason, "the window's web process ended; loading the page again");
            view.reload();
        });
    }) {
        tracing::warn!(%error, "the window will not be drawn again if its web process ends");
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn reload_when_the_page_ends<R: Runtime>(_window: &WebviewWindow<R>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_loaded_again_three_times_a_minute_at_most() {
        let start = Instant::now();
        let mut budget = ReloadBudget::default();
        let at = |seconds| start + Duration::from_secs(seconds);
        assert!(budget.take(at(0)) && budget.take(at(10)) && budget.take(at(20)), "the first three");
        assert!(!budget.take(at(30)), "a fourth within the minute is refused");
        assert!(!budget.take(at(59)), "and is not counted: the first is still within the minute");
        assert!(budget.take(at(61)), "once the first is a minute old, one more");
        assert!(!budget.take(at(62)));
    }
}
