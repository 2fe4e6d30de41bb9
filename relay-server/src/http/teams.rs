//! `/api/teams`, members, settings, analytics and the document registry of a team.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use teamflow_protocol::api::invitations::InvitationCreated;
use teamflow_protocol::api::teams::{
    AddMember, Analytics, AnalyticsQuery, DeletedDocument, DocumentEntry, Member, RegisterDocument, RenameDocument,
    Team, TeamInput, TeamSettings, UpdateMember,
};
use teamflow_protocol::{DocumentUrl, ErrorBody, TeamId, UserId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::error::ApiError;
use crate::{analytics, documents, invitations, teams};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams, create_team))
        .routes(routes!(get_team, rename_team, delete_team))
        .routes(routes!(list_members, add_member))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(get_analytics))
        .routes(routes!(list_documents, register_document))
        .routes(routes!(list_deleted_documents))
        .routes(routes!(rename_document, delete_document))
        .routes(routes!(restore_document))
}

/// Teams the caller belongs to.
#[utoipa::path(get, path = "/api/teams", tag = "teams", security(("bearer" = [])), responses(
    (status = 200, body = Vec<Team>), (status = 401, body = ErrorBody),
))]
async fn list_teams(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<Vec<Team>>, ApiError> {
    Ok(Json(teams::list(&state.db, user).await?))
}

/// Create a team; the caller becomes its owner.
#[utoipa::path(post, path = "/api/teams", tag = "teams", security(("bearer" = [])), request_body = TeamInput, responses(
    (status = 201, body = Team), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
))]
async fn create_team(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<TeamInput>,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    Ok((StatusCode::CREATED, Json(teams::create(&state.db, user, body).await?)))
}

#[utoipa::path(get, path = "/api/teams/{team_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = Team), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn get_team(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<Team>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(teams::get(state.db.pool(), &member).await?))
}

/// Rename a team (owners and admins).
#[utoipa::path(put, path = "/api/teams/{team_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = TeamInput, responses(
    (status = 200, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn rename_team(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<TeamInput>,
) -> Result<Json<Team>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(teams::rename(&state.db, &state.events, &member, body).await?))
}

/// Delete a team and everything in it (owners).
#[utoipa::path(delete, path = "/api/teams/{team_id}", tag = "teams", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn delete_team(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<StatusCode, ApiError> {
    let member = state.access.member(team, user).await?;
    teams::delete(&state.db, &state.events, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/teams/{team_id}/members", tag = "members", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = Vec<Member>), (status = 404, body = ErrorBody),
))]
async fn list_members(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<Vec<Member>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(teams::members(state.db.pool(), &member).await?))
}

/// Invite someone with an account, by email (owners and admins, up to their own role): they see the
/// invitation in `GET /api/me` and become a member only by accepting it.
#[utoipa::path(post, path = "/api/teams/{team_id}/members", tag = "members", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = AddMember, responses(
    (status = 202, description = "invited: an invitation bound to that email", body = InvitationCreated),
    (status = 403, body = ErrorBody),
    (status = 404, description = "no such team, or no account with that email", body = ErrorBody),
    (status = 409, description = "already a member", body = ErrorBody), (status = 422, body = ErrorBody),
))]
async fn add_member(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<AddMember>,
) -> Result<(StatusCode, Json<InvitationCreated>), ApiError> {
    let member = state.access.member(team, user).await?;
    let invitation =
        invitations::invite_member(&state.db, &state.invitations, &state.public_url, &member, body).await?;
    Ok((StatusCode::ACCEPTED, Json(InvitationCreated { invitation })))
}

/// Change a member's role. Nobody raises their own; the last owner cannot be demoted.
#[utoipa::path(patch, path = "/api/teams/{team_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("user_id" = UserId, Path)), request_body = UpdateMember, responses(
    (status = 200, body = Member), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "would leave the team without an owner", body = ErrorBody),
))]
async fn update_member(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, target)): ApiPath<(TeamId, UserId)>,
    ApiJson(body): ApiJson<UpdateMember>,
) -> Result<Json<Member>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(teams::set_role(&state.db, &state.events, &member, target, body.role).await?))
}

/// Remove a member, or leave the team by naming yourself. The last owner cannot leave.
#[utoipa::path(delete, path = "/api/teams/{team_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ("user_id" = UserId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "the last owner cannot leave", body = ErrorBody),
))]
async fn remove_member(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, target)): ApiPath<(TeamId, UserId)>,
) -> Result<StatusCode, ApiError> {
    let member = state.access.member(team, user).await?;
    teams::remove_member(&state.db, &state.events, &member, target).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/teams/{team_id}/settings", tag = "teams", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = TeamSettings), (status = 404, body = ErrorBody),
))]
async fn get_settings(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<TeamSettings>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(teams::settings(&state.db, &member).await?))
}

/// Replace the team's settings (owners and admins).
#[utoipa::path(put, path = "/api/teams/{team_id}/settings", tag = "teams", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = TeamSettings, responses(
    (status = 200, body = TeamSettings), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn put_settings(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<TeamSettings>,
) -> Result<Json<TeamSettings>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(teams::update_settings(&state.db, &member, body).await?))
}

/// Activity over a range of at most 366 days.
#[utoipa::path(get, path = "/api/teams/{team_id}/analytics", tag = "teams", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), AnalyticsQuery), responses(
    (status = 200, body = Analytics), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
async fn get_analytics(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiQuery(query): ApiQuery<AnalyticsQuery>,
) -> Result<Json<Analytics>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(analytics::team(&state.db, &member, query).await?))
}

#[utoipa::path(get, path = "/api/teams/{team_id}/documents", tag = "documents", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = Vec<DocumentEntry>), (status = 404, body = ErrorBody),
))]
async fn list_documents(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<Vec<DocumentEntry>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(documents::list(&state.db, &member).await?))
}

/// The team's deleted documents the caller may restore (admins and owners: all; members: their own), most
/// recently deleted first, each with when it is purged.
#[utoipa::path(get, path = "/api/teams/{team_id}/documents/deleted", tag = "documents", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = Vec<DeletedDocument>), (status = 404, body = ErrorBody),
))]
async fn list_deleted_documents(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<Vec<DeletedDocument>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(documents::deleted(&state.db, &member).await?))
}

/// Register an Automerge document to the team. A document id can be registered once, anywhere.
#[utoipa::path(post, path = "/api/teams/{team_id}/documents", tag = "documents", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = RegisterDocument, responses(
    (status = 201, body = DocumentEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "already registered", body = ErrorBody), (status = 422, body = ErrorBody),
))]
async fn register_document(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<RegisterDocument>,
) -> Result<(StatusCode, Json<DocumentEntry>), ApiError> {
    let member = state.access.member(team, user).await?;
    Ok((StatusCode::CREATED, Json(documents::register(&state.db, &state.events, &member, body).await?)))
}

/// Rename a document (not viewers). Teammates' rooms get `document_updated`.
#[utoipa::path(patch, path = "/api/teams/{team_id}/documents/{document_id}", tag = "documents",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("document_id" = String, Path)),
    request_body = RenameDocument, responses(
    (status = 200, body = DocumentEntry), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 410, description = "deleted (`gone`); restore it first", body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn rename_document(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, document)): ApiPath<(TeamId, DocumentUrl)>,
    ApiJson(body): ApiJson<RenameDocument>,
) -> Result<Json<DocumentEntry>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(documents::rename(&state.db, &state.events, &member, &document, body).await?))
}

/// Delete a document (admins, owners and its creator). It leaves lists and sync at once and can be restored
/// for 30 days, then it is purged. Teammates' rooms get `document_deleted`.
#[utoipa::path(delete, path = "/api/teams/{team_id}/documents/{document_id}", tag = "documents",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("document_id" = String, Path)), responses(
    (status = 204, description = "deleted (or already deleted)"), (status = 403, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
async fn delete_document(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, document)): ApiPath<(TeamId, DocumentUrl)>,
) -> Result<StatusCode, ApiError> {
    let member = state.access.member(team, user).await?;
    documents::delete(&state.db, &state.events, &member, &document).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restore a deleted document (the people who may delete it), within 30 days of its deletion.
#[utoipa::path(post, path = "/api/teams/{team_id}/documents/{document_id}/restore", tag = "documents",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("document_id" = String, Path)), responses(
    (status = 200, body = DocumentEntry), (status = 403, body = ErrorBody),
    (status = 404, description = "no such document, or purged", body = ErrorBody),
))]
async fn restore_document(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, document)): ApiPath<(TeamId, DocumentUrl)>,
) -> Result<Json<DocumentEntry>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(documents::restore(&state.db, &state.events, &member, &document).await?))
}
