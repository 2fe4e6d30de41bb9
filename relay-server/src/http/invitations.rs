//! `/api/teams/{team_id}/invitations` and `/api/invitations/{token}`: inviting people, and answering an
//! invitation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use teamflow_protocol::api::auth::TeamMembership;
use teamflow_protocol::api::invitations::{Invitation, InvitationInput, InvitationPreview};
use teamflow_protocol::{ErrorBody, TeamId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::extract::{ApiJson, ApiPath, AuthUser};
use crate::error::ApiError;
use crate::invitations;

/// Answering for an invitation needs no sign-in: the token is the secret.
pub(super) fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept))
        .routes(routes!(decline))
}

/// Invite someone to the team (owners and admins; never a role above the caller's). The answer is the only
/// time the token and link are shown.
#[utoipa::path(post, path = "/api/teams/{team_id}/invitations", tag = "invitations", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = InvitationInput, responses(
    (status = 201, body = Invitation), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn create_invitation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<InvitationInput>,
) -> Result<(StatusCode, Json<Invitation>), ApiError> {
    let member = state.access.member(team, user).await?;
    let invitation = invitations::create(&state.db, &state.invitations, &state.public_url, &member, body).await?;
    Ok((StatusCode::CREATED, Json(invitation)))
}

/// The team's pending invitations (owners and admins), without tokens.
#[utoipa::path(get, path = "/api/teams/{team_id}/invitations", tag = "invitations", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = Vec<Invitation>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn list_invitations(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<Vec<Invitation>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(invitations::list(&state.db, &member).await?))
}

/// Revoke a pending invitation (owners and admins).
#[utoipa::path(delete, path = "/api/teams/{team_id}/invitations/{invitation_id}", tag = "invitations",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("invitation_id" = Uuid, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn revoke_invitation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, id)): ApiPath<(TeamId, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let member = state.access.member(team, user).await?;
    invitations::revoke(&state.db, &member, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an invitation offers. One answer (404) for unknown, used, revoked and expired.
#[utoipa::path(get, path = "/api/invitations/{token}", tag = "invitations",
    params(("token" = String, Path)), responses(
    (status = 200, body = InvitationPreview), (status = 404, body = ErrorBody),
))]
async fn preview(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<InvitationPreview>, ApiError> {
    Ok(Json(invitations::preview(&state.db, &token).await?))
}

/// Join the invitation's team with its role (an email-bound invitation only for that account).
#[utoipa::path(post, path = "/api/invitations/{token}/accept", tag = "invitations", security(("bearer" = [])),
    params(("token" = String, Path)), responses(
    (status = 200, body = TeamMembership), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "already a member", body = ErrorBody),
))]
async fn accept(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(token): ApiPath<String>,
) -> Result<Json<TeamMembership>, ApiError> {
    Ok(Json(invitations::accept(&state.db, &state.events, user, &token).await?))
}

/// Decline the invitation: it is dropped and nobody joins.
#[utoipa::path(post, path = "/api/invitations/{token}/decline", tag = "invitations", security(("bearer" = [])),
    params(("token" = String, Path)), responses(
    (status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn decline(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(token): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    invitations::decline(&state.db, user, &token).await?;
    Ok(StatusCode::NO_CONTENT)
}
