//! Projects: listing, creating and editing through the outbox, and each project's document.

use tauri::{State, Wry};
use teamflow_node::OutboxEntry;
use teamflow_protocol::api::teams::{Project, ProjectInput};
use teamflow_protocol::{ProjectId, TeamId};

use crate::error::AppError;
use crate::shell::Shell;

#[tauri::command]
#[specta::specta]
pub(crate) async fn projects(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<Vec<Project>, AppError> {
    Ok(shell.node().await?.projects(team_id).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn create_project(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project: ProjectInput,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.create_project(team_id, project).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn update_project(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
    project: ProjectInput,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.update_project(team_id, project_id, project).await?)
}

/// The project's document URL, creating the document (and linking it) on first use.
#[tauri::command]
#[specta::specta]
pub(crate) async fn project_document(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
) -> Result<String, AppError> {
    Ok(shell.node().await?.project_document(team_id, project_id).await?.to_string())
}
