//! `GET /api/ws`: the realtime rooms socket. Authenticated before the upgrade: a bad token never sees a 101.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use teamflow_protocol::ErrorBody;
use teamflow_protocol::realtime::PROTOCOL_VERSION;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod connection;

use super::AppState;
use super::extract::{VerifiedBearer, authenticate_upgrade, require_upgrade};
use crate::error::ApiError;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(realtime))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub(super) struct RealtimeParams {
    /// A one-time ticket from `POST /api/auth/ticket`, for clients that cannot set an `Authorization` header.
    ticket: Option<String>,
    /// The protocol version the client speaks; the relay speaks 1.
    protocol: Option<u32>,
}

/// Bytes read from a room socket at a time: each connection holds this much while idle (frames are small;
/// a larger frame takes several reads). docs/benchmarks.md has the memory per connection.
const ROOM_READ_BUFFER_BYTES: usize = 4 * 1024;

/// Upgrade to the realtime rooms WebSocket (JSON text frames; see docs/realtime.md).
#[utoipa::path(get, path = "/api/ws", tag = "realtime", security(("bearer" = [])), params(RealtimeParams), responses(
    (status = 101, description = "switching to the realtime protocol"),
    (status = 400, description = "not a WebSocket upgrade, or an unsupported protocol version", body = ErrorBody),
    (status = 401, body = ErrorBody),
    (status = 429, description = "this user holds as many realtime connections as the relay allows", body = ErrorBody),
))]
async fn realtime(
    State(state): State<AppState>,
    headers: HeaderMap,
    verified: Option<axum::Extension<VerifiedBearer>>,
    params: Result<Query<RealtimeParams>, axum::extract::rejection::QueryRejection>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let params = params.map(|Query(p)| p).ok();
    let verified = verified.as_ref().map(|axum::Extension(v)| v);
    let ticket = params.as_ref().and_then(|p| p.ticket.as_deref());
    let token = authenticate_upgrade(&state, &headers, verified, ticket)?;
    let protocol = params.as_ref().and_then(|p| p.protocol).unwrap_or(PROTOCOL_VERSION);
    if protocol != PROTOCOL_VERSION {
        return Err(ApiError::Malformed(format!(
            "this relay speaks realtime protocol {PROTOCOL_VERSION}, not {protocol}"
        )));
    }
    let upgrade = require_upgrade(upgrade)?;
    let live = state
        .sessions
        .live
        .register(&token.session)
        .ok_or(ApiError::Unauthorized("this sign-in has ended; sign in again"))?;
    let slot = state.sync.caps().ws_connections.connection(token.user, "realtime")?;
    let limits = &state.config.limits;
    let connections = state.connections.clone();
    Ok(upgrade
        .max_message_size(limits.ws_max_frame_bytes)
        .max_frame_size(limits.ws_max_frame_bytes)
        // Room frames are small JSON. tungstenite's default 128 KiB read buffer is zeroed on every read
        // (9% of the relay's CPU in the chat fan-out benchmark) and held per connection; larger frames
        // simply take more reads. See docs/benchmarks.md for the A/B (4 KiB cost more read calls).
        .read_buffer_size(ROOM_READ_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            connections.track_future(async move {
                connection::serve(state, token, live, socket).await;
                drop(slot);
            })
        }))
}
