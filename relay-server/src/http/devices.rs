//! `/api/devices/*`: device certificates for peer-to-peer sync, and the key that checks them.

use axum::Json;
use axum::extract::State;
use teamflow_protocol::ErrorBody;
use teamflow_protocol::api::devices::{CertificateRequest, DeviceCertificate, RelayIdentity};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, AuthUser};
use crate::AppState;
use crate::error::ApiError;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(issue_certificate)).routes(routes!(relay_identity))
}

/// Certify this device's libp2p peer id for the signed-in user (call again to renew).
#[utoipa::path(post, path = "/api/devices/certificate", tag = "devices", security(("bearer" = [])),
    request_body = CertificateRequest, responses(
    (status = 200, body = DeviceCertificate),
    (status = 401, body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn issue_certificate(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<CertificateRequest>,
) -> Result<Json<DeviceCertificate>, ApiError> {
    Ok(Json(state.certificates.issue(&state.db, user, &body.peer_id).await?))
}

/// The relay's certificate key, for peers to check each other's certificates.
#[utoipa::path(get, path = "/api/devices/relay", tag = "devices", security(("bearer" = [])), responses(
    (status = 200, body = RelayIdentity),
    (status = 401, body = ErrorBody),
))]
async fn relay_identity(State(state): State<AppState>, AuthUser(_): AuthUser) -> Json<RelayIdentity> {
    Json(state.certificates.identity())
}
