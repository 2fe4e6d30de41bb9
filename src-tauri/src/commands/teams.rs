//! Teams, their members, and their activity feed.

use tauri::{State, Wry};
use teamflow_protocol::TeamId;
use teamflow_protocol::api::auth::TeamMembership;
use teamflow_protocol::api::integrations::ActivityItem;
use teamflow_protocol::api::teams::{Member, Team, TeamSettings};

use crate::error::AppError;
use crate::shell::Shell;

#[tauri::command]
#[specta::specta]
pub(crate) async fn teams(shell: State<'_, Shell<Wry>>) -> Result<Vec<TeamMembership>, AppError> {
    Ok(shell.node().await?.teams().await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn create_team(shell: State<'_, Shell<Wry>>, name: String) -> Result<Team, AppError> {
    Ok(shell.node().await?.create_team(&name).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn members(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<Vec<Member>, AppError> {
    Ok(shell.node().await?.members(team_id).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn activity(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<Vec<ActivityItem>, AppError> {
    Ok(shell.node().await?.activity(team_id).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn team_settings(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<TeamSettings, AppError> {
    Ok(shell.node().await?.team_settings(team_id).await?)
}

/// Replaces the team's settings (owners and admins; the relay checks and validates).
#[tauri::command]
#[specta::specta]
pub(crate) async fn update_team_settings(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    settings: TeamSettings,
) -> Result<TeamSettings, AppError> {
    Ok(shell.node().await?.update_team_settings(team_id, &settings).await?)
}

/// Starts streaming the team's room to the window as `RoomEvent`s (a `team_state` first). Joining twice
/// is harmless.
#[tauri::command]
#[specta::specta]
pub(crate) async fn join_team(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<(), AppError> {
    Ok(shell.account().await?.session.join_room(team_id).await?)
}
