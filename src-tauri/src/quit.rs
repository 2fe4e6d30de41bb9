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

/// Treats the system's requests to end (SIGTERM and SIGINT; Ctrl-C elsewhere) as a click on close.
pub(crate) fn on_signals<R: Runtime>(app: AppHandle<R>) {
    tauri::async_runtime::spawn(async move {
        match ended().await {
            Ok(signal) => {
                tracing::info!(signal, "asked to end; saving first");
                request(&app);
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for the system's requests to end"),
        }
    });
}

#[cfg(unix)]
async fn ended() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    })
}

#[cfg(not(unix))]
async fn ended() -> std::io::Result<&'static str> {
    tokio::signal::ctrl_c().await?;
    Ok("Ctrl-C")
}
