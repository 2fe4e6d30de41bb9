//! Operations endpoints: liveness, readiness, metrics and the OpenAPI document.
//!
//! `/readyz` touches the database, so it sits behind the per-address rate limiter. `/metrics` says a lot
//! about the relay's use: it needs `--metrics-token` when set, moves to `--metrics-bind` when set, and
//! otherwise answers only loopback clients that are not a trusted proxy.

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hmac::Mac as _;
use serde_json::json;

use super::AppState;
use crate::db;
use crate::error::ApiError;

pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz).layer(state.limits.api_layer()))
        .route("/api/openapi.json", get(openapi));
    if state.config.metrics_bind.is_none() {
        router = router.route("/metrics", get(metrics_on_main));
    }
    router
}

/// The router of `--metrics-bind`'s listener: `/metrics` alone.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics_on_own_address)).with_state(state)
}

/// Alive: the process answers. Says nothing about the database.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: the database answers and every migration is applied.
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match db::migrations_applied(&state.db).await {
        Ok(true) => Ok(Json(json!({ "status": "ready" }))),
        Ok(false) => Err(ApiError::ServiceUnavailable("database migrations are not applied")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::ServiceUnavailable("the database is not reachable"))
        }
    }
}

async fn metrics_on_main(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if state.config.metrics_token.is_none()
        && (!peer.ip().is_loopback() || state.config.trusted_proxies.contains(&peer.ip()))
    {
        return Err(ApiError::NotFound("no such route"));
    }
    metrics(&state, &headers)
}

async fn metrics_on_own_address(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    metrics(&state, &headers)
}

fn metrics(state: &AppState, headers: &HeaderMap) -> Result<Response, ApiError> {
    if let Some(token) = &state.config.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !same_secret(presented, token) {
            return Err(ApiError::Unauthorized("/metrics needs its bearer token"));
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response())
}

/// Compares in constant time (through equal-length MACs), so timing does not reveal the token's prefix.
fn same_secret(presented: &str, expected: &str) -> bool {
    let mac = |s: &str| {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"teamflow-metrics-token")
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(s.as_bytes());
        mac
    };
    mac(expected).verify(&mac(presented).finalize().into_bytes()).is_ok()
}

async fn openapi() -> impl IntoResponse {
    static SPEC: OnceLock<String> = OnceLock::new();
    let spec = SPEC.get_or_init(|| super::openapi().to_pretty_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], spec.as_str())
}
