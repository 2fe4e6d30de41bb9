//! Teams, their members, and their activity feed.

use tauri::{State, Wry};
use teamflow_protocol::api::auth::TeamMembership;
use teamflow_protocol::api::integrations::ActivityPage;
use teamflow_protocol::api::teams::{Analytics, Member, Team, TeamSettings};
use teamflow_protocol::{ProjectId, Role, TeamId, UserId};

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
pub(crate) async fn activity(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    before: Option<i64>,
) -> Result<ActivityPage, AppError> {
    Ok(shell.node().await?.activity(team_id, before).await?)
}

/// A team's analytics over `from..=to` (`YYYY-MM-DD`; by default the last 30 days), cached for offline.
#[tauri::command]
#[specta::specta]
pub(crate) async fn analytics(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    from: Option<String>,
    to: Option<String>,
) -> Result<Analytics, AppError> {
    Ok(shell.node().await?.analytics(team_id, from.as_deref(), to.as_deref()).await?)
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

/// Renames the team (owners and admins).
#[tauri::command]
#[specta::specta]
pub(crate) async fn rename_team(shell: State<'_, Shell<Wry>>, team_id: TeamId, name: String) -> Result<Team, AppError> {
    Ok(shell.node().await?.rename_team(team_id, &name).await?)
}

/// Deletes the team and everything in it (owners only). The window asks for its name first.
#[tauri::command]
#[specta::specta]
pub(crate) async fn delete_team(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<(), AppError> {
    let account = shell.account().await?;
    account.session.node().delete_team(team_id).await?;
    account.session.leave_room(team_id);
    Ok(())
}

/// Gives a member another role (never above the caller's; the last owner stays owner).
#[tauri::command]
#[specta::specta]
pub(crate) async fn change_role(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    user_id: UserId,
    role: Role,
) -> Result<Member, AppError> {
    Ok(shell.node().await?.change_role(team_id, user_id, role).await?)
}

/// Removes a member from the team (owners and admins; never someone above the caller).
#[tauri::command]
#[specta::specta]
pub(crate) async fn remove_member(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    user_id: UserId,
) -> Result<(), AppError> {
    Ok(shell.node().await?.remove_member(team_id, user_id).await?)
}

/// Leaves the team (refused while the caller is its last owner).
#[tauri::command]
#[specta::specta]
pub(crate) async fn leave_team(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<(), AppError> {
    let account = shell.account().await?;
    account.session.node().leave_team(team_id).await?;
    account.session.leave_room(team_id);
    Ok(())
}

/// Deletes a project (admins and owners).
#[tauri::command]
#[specta::specta]
pub(crate) async fn delete_project(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
) -> Result<(), AppError> {
    Ok(shell.node().await?.delete_project(team_id, project_id).await?)
}
