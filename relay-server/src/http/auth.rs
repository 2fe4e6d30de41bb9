//! `/api/auth/*` and `/api/me`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use teamflow_protocol::ErrorBody;
use teamflow_protocol::api::auth::{
    AuthResponse, LoginRequest, MeResponse, RefreshRequest, RegisterRequest, TicketResponse, User,
};
use teamflow_protocol::api::invitations::{AccountDeletion, PasswordChange, PasswordReset, ProfileUpdate};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{ApiJson, AuthSession, AuthUser};
use crate::accounts::{self, SignUpPolicy};
use crate::error::ApiError;
use crate::sessions::TICKET_TTL;

pub(super) fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(reset_password))
}

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, update_me, delete_me))
        .routes(routes!(change_password))
        .routes(routes!(logout_all))
        .routes(routes!(ticket))
}

/// Create an account and sign in. After a relay's first account, `invitation` is needed unless the relay
/// runs with `--registration open`; with one, the account joins its team.
#[utoipa::path(post, path = "/api/auth/register", tag = "auth", request_body = RegisterRequest, responses(
    (status = 201, body = AuthResponse),
    (status = 403, description = "`registration_closed`: sign-up needs a valid invitation", body = ErrorBody),
    (status = 404, description = "an open relay: the invitation is unknown, used, revoked or expired", body = ErrorBody),
    (status = 409, description = "email already registered", body = ErrorBody),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody),
))]
async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<AuthResponse>), ApiError> {
    let policy = SignUpPolicy { registration: state.config.registration, events: &state.events };
    let auth = accounts::register(&state.db, &state.passwords, &state.sessions, policy, body).await?;
    Ok((StatusCode::CREATED, Json(auth)))
}

/// Sign in with email and password. After 5 wrong passwords for one email, further attempts wait (from
/// any address), answered as a wrong password.
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

/// Sign out: revoke the refresh token and every token descended from the same sign-in; its live
/// connections close.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", request_body = RefreshRequest, responses(
    (status = 204, description = "signed out (also when the token was already invalid)"),
))]
async fn logout(State(state): State<AppState>, ApiJson(body): ApiJson<RefreshRequest>) -> Result<StatusCode, ApiError> {
    accounts::logout(&state.db, &state.sessions, &body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a new password with a reset link's token (single use, one hour); every sign-in of the account ends.
#[utoipa::path(post, path = "/api/auth/reset-password", tag = "auth", request_body = PasswordReset, responses(
    (status = 204, description = "the password is set"),
    (status = 404, description = "the token is unknown, used or expired", body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn reset_password(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PasswordReset>,
) -> Result<StatusCode, ApiError> {
    accounts::reset_password(&state.db, &state.passwords, &state.sessions, &body.token, body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sign out everywhere: every sign-in of the caller ends, this one included, with its live connections.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", security(("bearer" = [])), responses(
    (status = 204, description = "every sign-in ended"),
    (status = 401, body = ErrorBody),
))]
async fn logout_all(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<StatusCode, ApiError> {
    accounts::logout_all(&state.db, &state.sessions, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A one-time ticket for `/api/ws?ticket=` or `/sync?ticket=`, valid 30 seconds, for clients that cannot
/// set an `Authorization` header on a WebSocket.
#[utoipa::path(post, path = "/api/auth/ticket", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = TicketResponse),
    (status = 401, body = ErrorBody),
))]
async fn ticket(State(state): State<AppState>, AuthSession(token): AuthSession) -> Json<TicketResponse> {
    let ticket = state.sessions.live.issue_ticket(token);
    Json(TicketResponse { ticket, expires_in: TICKET_TTL.as_secs() })
}

/// The signed-in user, their teams, and the invitations waiting for their answer.
#[utoipa::path(get, path = "/api/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = MeResponse),
    (status = 401, body = ErrorBody),
))]
async fn me(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<MeResponse>, ApiError> {
    Ok(Json(accounts::me_with_invitations(&state.db, &state.invitations, user).await?))
}

/// Change the display name.
#[utoipa::path(patch, path = "/api/me", tag = "auth", security(("bearer" = [])), request_body = ProfileUpdate,
    responses((status = 200, body = User), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_me(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<ProfileUpdate>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(accounts::update_profile(&state.db, user, body).await?))
}

/// Delete the account (with its password). Its messages stay, attributed to "Deleted user".
#[utoipa::path(delete, path = "/api/me", tag = "auth", security(("bearer" = [])), request_body = AccountDeletion,
    responses(
    (status = 204, description = "deleted; every sign-in ended"),
    (status = 401, body = ErrorBody),
    (status = 409, description = "the last owner of a team", body = ErrorBody),
    (status = 422, description = "wrong password", body = ErrorBody),
))]
async fn delete_me(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(body): ApiJson<AccountDeletion>,
) -> Result<StatusCode, ApiError> {
    accounts::delete_account(&state.db, &state.passwords, &state.sessions, &state.events, user, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password: every other sign-in of the account ends (with its live connections); this one stays.
#[utoipa::path(post, path = "/api/me/password", tag = "auth", security(("bearer" = [])), request_body = PasswordChange,
    responses(
    (status = 204, description = "changed"),
    (status = 401, body = ErrorBody),
    (status = 422, description = "wrong current password, or a new one out of bounds", body = ErrorBody),
))]
async fn change_password(
    State(state): State<AppState>,
    AuthSession(token): AuthSession,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    accounts::change_password(&state.db, &state.passwords, &state.sessions, &token, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
