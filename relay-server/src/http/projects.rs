//! `/api/teams/{team_id}/projects`: projects, their task lists and their history.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use teamflow_protocol::api::projects::{ProjectChange, ProjectPatch, Task, TaskInput, TaskPatch};
use teamflow_protocol::api::teams::{Project, ProjectInput};
use teamflow_protocol::{ErrorBody, ProjectId, TaskId, TeamId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::error::ApiError;
use crate::projects;
use crate::projects::{history, tasks};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(get_project, replace_project, patch_project, delete_project))
        .routes(routes!(project_history))
        .routes(routes!(list_tasks, create_task))
        .routes(routes!(patch_task, delete_task))
}

#[utoipa::path(get, path = "/api/teams/{team_id}/projects", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = Vec<Project>), (status = 404, body = ErrorBody),
))]
async fn list_projects(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<Vec<Project>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(projects::list(state.db.pool(), &member).await?))
}

/// Create a project (not viewers; plain members only if the team's settings allow). Repeating a create with
/// the same `client_id` returns the project already created, with 200.
#[utoipa::path(post, path = "/api/teams/{team_id}/projects", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = ProjectInput, responses(
    (status = 201, body = Project), (status = 200, description = "already created under this client_id", body = Project),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn create_project(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<ProjectInput>,
) -> Result<(StatusCode, Json<Project>), ApiError> {
    let member = state.access.member(team, user).await?;
    let (project, created) = projects::create(&state.db, &state.events, &member, body).await?;
    let status = match created {
        projects::Created::New => StatusCode::CREATED,
        projects::Created::Existing => StatusCode::OK,
    };
    Ok((status, Json(project)))
}

#[utoipa::path(get, path = "/api/teams/{team_id}/projects/{project_id}", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path)), responses(
    (status = 200, body = Project), (status = 404, body = ErrorBody),
))]
async fn get_project(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project)): ApiPath<(TeamId, ProjectId)>,
) -> Result<Json<Project>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(projects::get(&state.db, &member, project).await?))
}

/// Change a project's fields: the same as `PATCH` (fields left out are kept; `null` clears `document_id`,
/// `owner_id` or `due_date`).
#[utoipa::path(put, path = "/api/teams/{team_id}/projects/{project_id}", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path)), request_body = ProjectPatch, responses(
    (status = 200, body = Project), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn replace_project(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project)): ApiPath<(TeamId, ProjectId)>,
    ApiJson(body): ApiJson<ProjectPatch>,
) -> Result<Json<Project>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(projects::patch(&state.db, &state.events, &member, project, body).await?))
}

/// Change the fields present and keep the others (not viewers). With `base` (the `versions` the edit was
/// made on), a field someone else changed meanwhile is merged: the later edit wins and the other is kept
/// in the project's history. Repeating an edit with the same `client_id` applies it once.
#[utoipa::path(patch, path = "/api/teams/{team_id}/projects/{project_id}", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path)), request_body = ProjectPatch, responses(
    (status = 200, body = Project), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn patch_project(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project)): ApiPath<(TeamId, ProjectId)>,
    ApiJson(body): ApiJson<ProjectPatch>,
) -> Result<Json<Project>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(projects::patch(&state.db, &state.events, &member, project, body).await?))
}

/// The project's latest 200 changes, newest first: each field's old and new value, including values a
/// concurrent edit overwrote (`overwrote`) and edits that lost (`lost`).
#[utoipa::path(get, path = "/api/teams/{team_id}/projects/{project_id}/history", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path)), responses(
    (status = 200, body = Vec<ProjectChange>), (status = 404, body = ErrorBody),
))]
async fn project_history(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project)): ApiPath<(TeamId, ProjectId)>,
) -> Result<Json<Vec<ProjectChange>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(history::list(&state.db, &member, project).await?))
}

#[utoipa::path(get, path = "/api/teams/{team_id}/projects/{project_id}/tasks", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path)), responses(
    (status = 200, body = Vec<Task>), (status = 404, body = ErrorBody),
))]
async fn list_tasks(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project)): ApiPath<(TeamId, ProjectId)>,
) -> Result<Json<Vec<Task>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(tasks::list(&state.db, &member, project).await?))
}

/// Add a task (not viewers). Creating again with the same `id` returns the task already created, with 200.
#[utoipa::path(post, path = "/api/teams/{team_id}/projects/{project_id}/tasks", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path)), request_body = TaskInput, responses(
    (status = 201, body = Task), (status = 200, description = "already created under this id", body = Task),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn create_task(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project)): ApiPath<(TeamId, ProjectId)>,
    ApiJson(body): ApiJson<TaskInput>,
) -> Result<(StatusCode, Json<Task>), ApiError> {
    let member = state.access.member(team, user).await?;
    let (task, created) = tasks::create(&state.db, &state.events, &member, project, body).await?;
    let status = match created {
        projects::Created::New => StatusCode::CREATED,
        projects::Created::Existing => StatusCode::OK,
    };
    Ok((status, Json(task)))
}

/// Change a task's fields (not viewers), merged per field as project edits are. An edit of a task deleted
/// meanwhile changes nothing, is recorded as lost, and answers the task with `deleted: true`.
#[utoipa::path(patch, path = "/api/teams/{team_id}/projects/{project_id}/tasks/{task_id}", tag = "projects",
    security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path), ("task_id" = TaskId, Path)),
    request_body = TaskPatch, responses(
    (status = 200, body = Task), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn patch_task(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project, task)): ApiPath<(TeamId, ProjectId, TaskId)>,
    ApiJson(body): ApiJson<TaskPatch>,
) -> Result<Json<Task>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(tasks::patch(&state.db, &state.events, &member, project, task, body).await?))
}

/// Delete a task (not viewers); deleting it again answers 204 as well.
#[utoipa::path(delete, path = "/api/teams/{team_id}/projects/{project_id}/tasks/{task_id}", tag = "projects",
    security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path), ("task_id" = TaskId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn delete_task(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project, task)): ApiPath<(TeamId, ProjectId, TaskId)>,
) -> Result<StatusCode, ApiError> {
    let member = state.access.member(team, user).await?;
    tasks::delete(&state.db, &state.events, &member, project, task).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/teams/{team_id}/projects/{project_id}", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn delete_project(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project)): ApiPath<(TeamId, ProjectId)>,
) -> Result<StatusCode, ApiError> {
    let member = state.access.member(team, user).await?;
    projects::delete(&state.db, &state.events, &member, project).await?;
    Ok(StatusCode::NO_CONTENT)
}
