//! `/api/devices/*`: device certificates for peer-to-peer sync, and the key that checks them.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use teamflow_protocol::api::devices::{
    CertificateRequest, DeviceCertificate, DeviceNonce, RelayIdentity, Revocations, TeamDevices,
};
use teamflow_protocol::{ErrorBody, TeamId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::devices;
use crate::error::ApiError;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(device_nonce))
        .routes(routes!(issue_certificate))
        .routes(routes!(revocations))
        .routes(routes!(relay_identity))
        .routes(routes!(team_devices))
}

/// A short-lived nonce for the next certificate request, which the device signs with its key.
#[utoipa::path(post, path = "/api/devices/nonce", tag = "devices", security(("bearer" = [])), responses(
    (status = 200, body = DeviceNonce),
    (status = 401, body = ErrorBody),
))]
async fn device_nonce(State(state): State<AppState>, AuthUser(user): AuthUser) -> Json<DeviceNonce> {
    Json(state.certificates.nonce(user))
}

/// Certify this device's libp2p peer id for the signed-in user (call again to renew), with proof that the
/// device holds the key: its signature over a nonce from `POST /api/devices/nonce`.
#[utoipa::path(post, path = "/api/devices/certificate", tag = "devices", security(("bearer" = [])),
    request_body = CertificateRequest, responses(
    (status = 200, body = DeviceCertificate),
    (status = 401, body = ErrorBody),
    (status = 409, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn issue_certificate(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<CertificateRequest>,
) -> Result<Json<DeviceCertificate>, ApiError> {
    Ok(Json(state.certificates.issue(&state.db, user, &body).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct Since {
    /// The `next` of the previous answer; 0 (the default) for everything still relevant.
    #[serde(default)]
    since: i64,
}

/// The certificate revocations the caller's devices must know of (removals and lower roles in the caller's
/// teams, and the caller's own), after `since`.
#[utoipa::path(get, path = "/api/devices/revocations", tag = "devices", security(("bearer" = [])),
    params(Since), responses(
    (status = 200, body = Revocations),
    (status = 401, body = ErrorBody),
))]
async fn revocations(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiQuery(since): ApiQuery<Since>,
) -> Result<Json<Revocations>, ApiError> {
    Ok(Json(devices::revocations(&state.db, user, since.since).await?))
}

/// The relay's certificate key, for peers to check each other's certificates.
#[utoipa::path(get, path = "/api/devices/relay", tag = "devices", security(("bearer" = [])), responses(
    (status = 200, body = RelayIdentity),
    (status = 401, body = ErrorBody),
))]
async fn relay_identity(State(state): State<AppState>, AuthUser(_): AuthUser) -> Json<RelayIdentity> {
    Json(state.certificates.identity())
}

/// The certified devices of the team's members, for finding teammates through the relay's circuit.
#[utoipa::path(get, path = "/api/teams/{team_id}/devices", tag = "devices", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = TeamDevices),
    (status = 401, body = ErrorBody),
    (status = 404, body = ErrorBody),
))]
async fn team_devices(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<TeamDevices>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(devices::team_devices(&state.db, &member).await?))
}
