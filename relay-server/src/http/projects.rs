//! `/api/teams/{team_id}/projects`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use teamflow_protocol::api::teams::{Project, ProjectInput};
use teamflow_protocol::{ErrorBody, ProjectId, TeamId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::error::ApiError;
use crate::projects;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_projects, create_project)).routes(routes!(
        get_project,
        update_project,
        delete_project
    ))
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
    Ok(Json(projects::list(&state.db, &member).await?))
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

/// Replace a project's fields (an omitted `status` is kept).
#[utoipa::path(put, path = "/api/teams/{team_id}/projects/{project_id}", tag = "projects", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("project_id" = ProjectId, Path)), request_body = ProjectInput, responses(
    (status = 200, body = Project), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn update_project(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, project)): ApiPath<(TeamId, ProjectId)>,
    ApiJson(body): ApiJson<ProjectInput>,
) -> Result<Json<Project>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(projects::update(&state.db, &state.events, &member, project, body).await?))
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
