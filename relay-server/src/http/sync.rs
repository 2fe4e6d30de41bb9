//! `GET /sync`: the automerge-repo WebSocket. Authenticated before the upgrade; the peer id the client
//! will announce must name the token's user.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use teamflow_protocol::ErrorBody;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{VerifiedBearer, authenticate_upgrade, require_upgrade};
use crate::error::ApiError;
use crate::sessions::{CLOSE_SESSION_ENDED, CLOSE_TOKEN_EXPIRED};
use crate::sync;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sync_socket))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct SyncParams {
    /// A one-time ticket from `POST /api/auth/ticket`, for clients that cannot set an `Authorization` header
    /// (browsers, stock automerge-repo).
    ticket: Option<String>,
    /// The peer id the client announces in the sync handshake: `<user id>:<device name>`.
    peer_id: Option<String>,
}

/// Upgrade to document sync (automerge-repo's binary WebSocket protocol; see docs/sync.md).
#[utoipa::path(get, path = "/sync", tag = "sync", security(("bearer" = [])), params(SyncParams), responses(
    (status = 101, description = "switching to the automerge-repo sync protocol"),
    (status = 400, description = "not a WebSocket upgrade", body = ErrorBody),
    (status = 401, body = ErrorBody),
    (status = 422, description = "missing or foreign peer_id", body = ErrorBody),
    (status = 429, description = "this user holds as many sync connections as the relay allows", body = ErrorBody),
))]
async fn sync_socket(
    State(state): State<AppState>,
    headers: HeaderMap,
    verified: Option<axum::Extension<VerifiedBearer>>,
    params: Result<Query<SyncParams>, axum::extract::rejection::QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let params = params.map(|Query(p)| p).ok();
    let verified = verified.as_ref().map(|axum::Extension(v)| v);
    let ticket = params.as_ref().and_then(|p| p.ticket.as_deref());
    let token = authenticate_upgrade(&state, &headers, verified, ticket)?;
    let peer = sync::expected_peer(token.user, params.as_ref().and_then(|p| p.peer_id.as_deref()).unwrap_or_default())?;
    let upgrade = require_upgrade(upgrade)?;
    let live = state
        .sessions
        .live
        .register(&token.session)
        .ok_or(ApiError::Unauthorized("this sign-in has ended; sign in again"))?;
    let slot = state.sync.caps().sync_connections.connection(token.user, "sync")?;
    let connections = state.connections.clone();
    let limit = state.config.limits.sync_max_frame_bytes;
    let limits =
        sync::SyncLimits { write_timeout: std::time::Duration::from_secs(state.config.limits.sync_write_timeout_secs) };
    let upgrade = upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(teamflow_sync::transport::READ_BUFFER_BYTES);
    Ok(upgrade.on_upgrade(move |socket| {
        connections.track_future(async move {
            state.metrics.sync_connections.inc();
            // The connection ends when its sign-in does, or when its token expires: automerge-repo's protocol
            // has no message to renew it, so the client redials with a fresh one (docs/sync.md).
            let ends = async {
                tokio::select! {
                    reason = live.ended() => (CLOSE_SESSION_ENDED, reason),
                    () = tokio::time::sleep(token.remaining()) => (CLOSE_TOKEN_EXPIRED, "token_expired"),
                }
            };
            state.sync.serve(socket, peer, limits, state.shutdown.clone(), ends).await;
            state.metrics.sync_connections.dec();
            drop(slot);
        })
    }))
}
