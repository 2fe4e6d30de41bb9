//! Integrations and activity (`/api/teams/{team_id}/...`), and the public webhook receivers
//! (`/api/webhooks/{service}/{integration_id}`), which authenticate by signature instead of token.

use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use futures::StreamExt as _;
use serde_json::{Value, json};
use teamflow_protocol::api::integrations::{
    ActivityPage, ActivityQuery, Integration, IntegrationCreated, IntegrationInput, RotateSecret, WebhookFailure,
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
        .routes(routes!(rotate_integration))
        .routes(routes!(list_failures))
        .routes(routes!(list_activity))
}

/// The receivers read their bodies themselves, against their service's cap (see [`receive`]).
pub(super) fn receivers() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive, check_callback))
}

/// How long a provider may take to send a body; a slower sender holds a receive slot no longer.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Replace an integration's secret; the caller becomes its creator and a disabled one is enabled again.
#[utoipa::path(post, path = "/api/teams/{team_id}/integrations/{integration_id}/rotate", tag = "integrations",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("integration_id" = String, Path)),
    request_body = RotateSecret, responses(
    (status = 200, body = IntegrationCreated), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn rotate_integration(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, integration)): ApiPath<(TeamId, String)>,
    ApiJson(body): ApiJson<RotateSecret>,
) -> Result<Json<IntegrationCreated>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(webhooks::rotate(&state.db, &member, &integration, body).await?))
}

/// Events of the integration that failed for good, with why (owners and admins), newest first.
#[utoipa::path(get, path = "/api/teams/{team_id}/integrations/{integration_id}/failures", tag = "integrations",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("integration_id" = String, Path)), responses(
    (status = 200, body = Vec<WebhookFailure>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn list_failures(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, integration)): ApiPath<(TeamId, String)>,
) -> Result<Json<Vec<WebhookFailure>>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(webhooks::failures(&state.db, &member, &integration).await?))
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
        (status = 413, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn receive(
    State(state): State<AppState>,
    ApiPath((service, integration)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    // Nothing of the body is read for an unknown, disabled or other service's integration.
    let target = webhooks::target(&state.db, &service, &integration).await?;
    // Unauthenticated work is bounded: a receive that finds no free slot is told to come back.
    let _slot =
        state.webhook_receives.clone().try_acquire_owned().map_err(|_| ApiError::Busy { retry_after_secs: 1 })?;
    let body = read_capped(&headers, body, target.max_body_bytes()).await?;
    let receipt = webhooks::receive(&state.db, &state.webhooks, &target, &headers, body).await.inspect_err(|e| {
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

/// Reads a body of at most `cap` bytes: refused at once when its declared length is larger, and as soon as
/// what has arrived goes past it otherwise, so an oversized body is never held whole.
async fn read_capped(headers: &HeaderMap, body: Body, cap: usize) -> Result<Bytes, ApiError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).map(str::parse::<u64>);
    let declared = match declared {
        None => None,
        Some(Ok(length)) => Some(length),
        Some(Err(_)) => return Err(ApiError::Malformed("Content-Length is not a number".into())),
    };
    if declared.is_some_and(|length| usize::try_from(length).map_or(true, |length| length > cap)) {
        return Err(ApiError::PayloadTooLarge);
    }
    let initial = declared.and_then(|length| usize::try_from(length).ok()).unwrap_or(0).min(cap);
    let read = async {
        let mut buffer = Vec::with_capacity(initial);
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ApiError::Malformed(format!("the body could not be read: {e}")))?;
            if buffer.len().checked_add(chunk.len()).is_none_or(|total| total > cap) {
                return Err(ApiError::PayloadTooLarge);
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buffer))
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| ApiError::Malformed("the body did not arrive in time".into()))?
}
