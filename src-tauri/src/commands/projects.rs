//! Projects: listing, creating and editing per field through the outbox (merged on the relay), each
//! project's task list and history, and its document.

use tauri::{State, Wry};
use teamflow_node::OutboxEntry;
use teamflow_protocol::api::projects::{ProjectChange, ProjectPatch, Task, TaskInput, TaskPatch};
use teamflow_protocol::api::teams::{Project, ProjectInput};
use teamflow_protocol::{ProjectId, TaskId, TeamId};

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

/// Queues an edit of the fields `patch` names; the relay merges it with others' edits per field.
#[tauri::command]
#[specta::specta]
pub(crate) async fn patch_project(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
    patch: ProjectPatch,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.patch_project(team_id, project_id, patch).await?)
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

#[tauri::command]
#[specta::specta]
pub(crate) async fn tasks(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
) -> Result<Vec<Task>, AppError> {
    Ok(shell.node().await?.tasks(team_id, project_id).await?)
}

/// Queues adding a task; answers the id it was given, so it can be edited at once (offline too).
#[tauri::command]
#[specta::specta]
pub(crate) async fn create_task(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
    task: TaskInput,
) -> Result<TaskId, AppError> {
    Ok(shell.node().await?.create_task(team_id, project_id, task).await?.0)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn patch_task(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
    task_id: TaskId,
    patch: TaskPatch,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.patch_task(team_id, project_id, task_id, patch).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn delete_task(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
    task_id: TaskId,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.delete_task(team_id, project_id, task_id).await?)
}

/// The project's changes, newest first, with overwritten values and edits that lost.
#[tauri::command]
#[specta::specta]
pub(crate) async fn project_history(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    project_id: ProjectId,
) -> Result<Vec<ProjectChange>, AppError> {
    Ok(shell.node().await?.project_history(team_id, project_id).await?)
}
