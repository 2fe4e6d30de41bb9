//! Integrations and activity (`/api/teams/{team_id}/...`), and the public webhook receivers
//! (`/api/webhooks/{service}/{integration_id}`), which authenticate by signature instead of token.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use teamflow_protocol::api::integrations::{
    ActivityPage, ActivityQuery, Integration, IntegrationCreated, IntegrationInput,
};
use teamflow_protocol::{ErrorBody, TeamId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::error::ApiError;
use crate::webhooks::{self, Receipt};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(delete_integration))
        .routes(routes!(list_activity))
}

/// The receivers take bodies up to GitHub's 25 MB; everything else keeps the API's small limit.
pub(super) fn receivers() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive, check_callback)).layer(DefaultBodyLimit::max(webhooks::MAX_BODY_BYTES))
}

/// Integrations of the team, without their secrets (owners and admins).
#[utoipa::path(get, path = "/api/teams/{team_id}/integrations", tag = "integrations", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = Vec<Integration>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn list_integrations(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<Vec<Integration>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(webhooks::list(&state.db, &member).await?))
}

/// Connect a service. The answer holds the webhook URL to give the provider and, this once, the secret.
#[utoipa::path(post, path = "/api/teams/{team_id}/integrations", tag = "integrations", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = IntegrationInput, responses(
    (status = 201, body = IntegrationCreated), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn create_integration(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<IntegrationInput>,
) -> Result<(StatusCode, Json<IntegrationCreated>), ApiError> {
    let member = state.access.member(team, user).await?;
    let created = webhooks::create(&state.db, &state.public_url, &member, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(delete, path = "/api/teams/{team_id}/integrations/{integration_id}", tag = "integrations",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("integration_id" = String, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn delete_integration(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, integration)): ApiPath<(TeamId, String)>,
) -> Result<StatusCode, ApiError> {
    let member = state.access.member(team, user).await?;
    webhooks::delete(&state.db, &member, &integration).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The team's activity from connected services, newest first.
#[utoipa::path(get, path = "/api/teams/{team_id}/activity", tag = "integrations", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), ActivityQuery), responses(
    (status = 200, body = ActivityPage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
async fn list_activity(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> Result<Json<ActivityPage>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(webhooks::activity(&state.db, &member, query).await?))
}

/// A provider delivers an event. Verified on the raw body, stored, then acknowledged; see docs/webhooks.md.
#[utoipa::path(post, path = "/api/webhooks/{service}/{integration_id}", tag = "webhooks",
    params(("service" = String, Path, description = "github, slack or trello"), ("integration_id" = String, Path)),
    request_body(content = String, description = "the provider's payload, as sent"),
    responses(
        (status = 200, description = "stored (or already stored, or a ping), or Slack's challenge echoed"),
        (status = 400, body = ErrorBody), (status = 401, description = "invalid_signature", body = ErrorBody),
        (status = 404, description = "service_not_supported, or no such integration", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
async fn receive(
    State(state): State<AppState>,
    ApiPath((service, integration)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::Malformed(e.body_text())
        }
    })?;
    let receipt = webhooks::receive(&state.db, &state.webhooks, &service, &integration, &headers, body)
        .await
        .inspect_err(|e| {
            if matches!(e, ApiError::InvalidSignature) {
                tracing::warn!(service, integration, "webhook refused: invalid signature");
            }
        })?;
    Ok(Json(match receipt {
        Receipt::Stored => json!({ "status": "stored" }),
        Receipt::Duplicate => json!({ "status": "duplicate" }),
        Receipt::Pong => json!({ "status": "pong" }),
        Receipt::Challenge(challenge) => json!({ "challenge": challenge }),
    }))
}

/// Trello checks a callback URL with `HEAD` when the webhook is created.
#[utoipa::path(head, path = "/api/webhooks/{service}/{integration_id}", tag = "webhooks",
    params(("service" = String, Path), ("integration_id" = String, Path)),
    responses((status = 200), (status = 404, body = ErrorBody)))]
async fn check_callback(
    State(state): State<AppState>,
    ApiPath((service, integration)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    webhooks::exists(&state.db, &service, &integration).await?;
    Ok(StatusCode::OK)
}
