//! Quitting without losing an edit. The window's repo hands its edits to the node a moment after they are
//! made, so the window closing, or the system asking the app to end (SIGTERM, SIGINT), first asks the
//! window to hand over whatever it still holds ([`QuitRequested`]); it answers with [`quit`] once the node
//! has confirmed, or the app quits anyway after [`GRACE`] (a window that hangs must not keep it open). The
//! node then stops and its store finishes writing (`Shell::close`, on `RunEvent::Exit`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use tauri::{AppHandle, Runtime, Wry};
use tauri_specta::Event as _;

/// How long the window may take to hand its edits over before the app quits regardless.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// How long the node may take to stop and finish its writes once the app exits: a hung network call must
/// not keep the process alive.
pub(crate) const CLOSE_LIMIT: Duration = Duration::from_secs(10);

/// The app is about to quit: hand the node every edit not yet confirmed, then call `quit`.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub(crate) struct QuitRequested;

/// Set once a quit was asked for: asking again (a second click on close) changes nothing.
static ASKED: AtomicBool = AtomicBool::new(false);

/// Asks the window to hand its edits over and quits once it has, or after [`GRACE`].
pub(crate) fn request<R: Runtime>(app: &AppHandle<R>) {
    if ASKED.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Err(e) = QuitRequested.emit(app) {
        tracing::warn!(error = %e, "the window could not be asked to save before quitting");
        app.exit(0);
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(GRACE).await;
        tracing::warn!("the window did not answer the quit in time; quitting");
        app.exit(0);
    });
}

/// Quits the app; the window calls it once the node holds its edits.
#[tauri::command]
#[specta::specta]
pub(crate) fn quit(app: AppHandle<Wry>) {
    app.exit(0);
}

/// Treats the system's requests to end (SIGTERM and SIGINT; Ctrl-C elsewhere) as a click on close. A
/// second request while the first is being handled ends the app at once, saved or not: a person pressing
/// Ctrl-C twice means it.
pub(crate) fn on_signals<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        let mut ends = match Ends::listen() {
            Ok(ends) => ends,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for the system's requests to end");
                return;
            }
        };
        let first = ends.next().await;
        tracing::info!(signal = first, "asked to end; saving first");
        request(&app);
        let second = ends.next().await;
        tracing::warn!(signal = second, "asked to end again; ending now");
        std::process::exit(1);
    });
}

/// The system's requests to end, one after another.
#[cfg(unix)]
struct Ends {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Ends {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Ends { term: signal(SignalKind::terminate())?, interrupt: signal(SignalKind::interrupt())? })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct Ends;

#[cfg(not(unix))]
impl Ends {
    fn listen() -> std::io::Result<Self> {
        Ok(Ends)
    }

    async fn next(&mut self) -> &'static str {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        "Ctrl-C"
    }
}
