//! `/api/auth/*` and `/api/me`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use teamflow_protocol::ErrorBody;
use teamflow_protocol::api::auth::{AuthResponse, LoginRequest, MeResponse, RefreshRequest, RegisterRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{ApiJson, AuthUser};
use crate::accounts;
use crate::error::ApiError;

pub(super) fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, body = AuthResponse),
    (status = 409, description = "email already registered", body = ErrorBody),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody),
))]
async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<AuthResponse>), ApiError> {
    Ok((StatusCode::CREATED, Json(accounts::register(&state.db, &state.passwords, &state.sessions, body).await?)))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = AuthResponse),
    (status = 401, body = ErrorBody),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody),
))]
async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    Ok(Json(accounts::login(&state.db, &state.passwords, &state.sessions, body).await?))
}

/// Trade a refresh token for a new access and refresh token. A refresh token works once.
#[utoipa::path(post, path = "/api/auth/refresh", tag = "auth", request_body = RefreshRequest, responses(
    (status = 200, body = AuthResponse),
    (status = 401, description = "unknown, expired, revoked or reused token", body = ErrorBody),
))]
async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    Ok(Json(accounts::refresh(&state.db, &state.sessions, &body.refresh_token).await?))
}

/// Sign out: revoke the refresh token and every token descended from the same sign-in.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest, responses(
    (status = 204, description = "signed out (also when the token was already invalid)"),
))]
async fn logout(State(state): State<AppState>, ApiJson(body): ApiJson<RefreshRequest>) -> Result<StatusCode, ApiError> {
    accounts::logout(&state.db, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user and their teams.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = MeResponse),
    (status = 401, body = ErrorBody),
))]
async fn me(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<MeResponse>, ApiError> {
    Ok(Json(accounts::me(&state.db, user).await?))
}
