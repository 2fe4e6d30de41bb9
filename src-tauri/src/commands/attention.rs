//! Being told when one is needed: read positions and unread counts (the node's), notification settings
//! (the node's, per device), and the two things only the shell can do: show a native notification (the
//! Tauri notification plugin) and put the unread total on the window's title and the dock/taskbar badge.
//! Whether a message notifies is decided in the window (`ui/src/features/notify/decide.ts`).

use tauri::{AppHandle, Manager, State, Wry};
use tauri_plugin_notification::NotificationExt;
use teamflow_node::NotificationSettings;
use teamflow_protocol::TeamId;
use teamflow_protocol::api::messages::ReadState;

use crate::error::AppError;
use crate::shell::Shell;

/// The app's name, as the window's title shows it after the unread count.
const TITLE: &str = "TeamFlow";

/// Where this person stands in every team: read position, unread messages and mentions.
#[tauri::command]
#[specta::specta]
pub(crate) async fn read_states(shell: State<'_, Shell<Wry>>) -> Result<Vec<ReadState>, AppError> {
    Ok(shell.node().await?.read_states().await?)
}

/// Where this person stands in one team (after a message there was edited or deleted, say).
#[tauri::command]
#[specta::specta]
pub(crate) async fn read_state(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<ReadState, AppError> {
    Ok(shell.node().await?.read_state(team_id).await?)
}

/// Marks a team's chat read up to `seq` (kept at once, sent to the relay when it answers).
#[tauri::command]
#[specta::specta]
pub(crate) async fn mark_read(shell: State<'_, Shell<Wry>>, team_id: TeamId, seq: i64) -> Result<ReadState, AppError> {
    Ok(shell.node().await?.mark_read(team_id, seq).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn notification_settings(shell: State<'_, Shell<Wry>>) -> Result<NotificationSettings, AppError> {
    Ok(shell.node().await?.notification_settings().await?)
}

/// Every message (not only mentions) notifies while the window is not focused, or not.
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_every_message_unfocused(
    shell: State<'_, Shell<Wry>>,
    on: bool,
) -> Result<NotificationSettings, AppError> {
    Ok(shell.node().await?.set_every_message_unfocused(on).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn set_team_muted(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    muted: bool,
) -> Result<NotificationSettings, AppError> {
    Ok(shell.node().await?.set_team_muted(team_id, muted).await?)
}

/// Shows a native notification. Desktop platforms report no click on it to the plugin: the window opens
/// the conversation when it is focused next instead (docs/desktop.md).
#[tauri::command]
#[specta::specta]
pub(crate) fn notify(app: AppHandle<Wry>, title: String, body: String) -> Result<(), AppError> {
    if title.trim().is_empty() {
        return Err(AppError::invalid("a notification needs a title"));
    }
    app.notification()
        .builder()
        .title(title)
        .body(body)
        .show()
        .map_err(|e| AppError::Local { message: format!("notification: {e}") })
}

/// Puts the unread total on the window's title ("(3) TeamFlow") and on the dock or taskbar badge where the
/// platform has one (macOS; Linux desktops with the Unity launcher API). Zero clears both.
#[tauri::command]
#[specta::specta]
pub(crate) fn set_unread_total(app: AppHandle<Wry>, total: u32) -> Result<(), AppError> {
    let Some(window) = app.get_webview_window("main") else { return Err(AppError::not_found("window")) };
    let title = if total == 0 { TITLE.to_owned() } else { format!("({total}) {TITLE}") };
    window.set_title(&title).map_err(|e| AppError::Local { message: e.to_string() })?;
    if let Err(e) = window.set_badge_count((total > 0).then_some(i64::from(total))) {
        // Platforms without a badge (Windows, most Linux desktops) say so; the title still tells.
        tracing::debug!(error = %e, "no badge on this platform");
    }
    Ok(())
}
