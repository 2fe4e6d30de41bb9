//! Request extractors that fail with `ApiError`, so every rejection has the shared error shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use teamflow_protocol::UserId;

use super::AppState;
use crate::auth::{AccessToken, TokenError};
use crate::error::ApiError;

/// The signed-in user, from a valid `Authorization: Bearer` access token.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, parts.extensions.get::<VerifiedBearer>()).map(|token| AuthUser(token.user))
    }
}

/// The signed-in user with the sign-in (session) their token belongs to, for routes that act on sessions.
#[derive(Debug, Clone)]
pub(crate) struct AuthSession(pub(crate) AccessToken);

impl FromRequestParts<AppState> for AuthSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        authenticate(&parts.headers, parts.extensions.get::<VerifiedBearer>()).map(AuthSession)
    }
}

/// What verifying a request's `Authorization: Bearer` token gave. `verify_bearer` verifies it once, ahead of
/// the rate limiter (which counts signed-in users by user) and the handler (which needs the user).
#[derive(Debug, Clone)]
pub(crate) struct VerifiedBearer {
    outcome: Result<AccessToken, TokenError>,
}

impl VerifiedBearer {
    /// The user, when the token was valid.
    pub(crate) fn user(&self) -> Option<UserId> {
        self.outcome.as_ref().ok().map(|token| token.user)
    }
}

/// Middleware: verifies the request's `Authorization: Bearer` token, if it has one (signature, claims, and
/// that its session has not ended), and leaves the outcome in its extensions. Tokens are never read from
/// URLs: clients that cannot set headers trade a token for a one-time ticket (`POST /api/auth/ticket`).
/// Refusing is left to the routes that need a user.
pub(crate) async fn verify_bearer(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(token) = bearer_token(request.headers()) {
        let outcome = state.sessions.tokens.verify(token).await.and_then(|token| state.sessions.live.check(token));
        state.metrics.token_verified(match &outcome {
            Ok(_) => "valid",
            Err(TokenError::Expired) => "expired",
            Err(TokenError::Invalid) => "invalid",
            Err(TokenError::Ended) => "ended",
        });
        request.extensions_mut().insert(VerifiedBearer { outcome });
    }
    next.run(request).await
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The access token `verify_bearer` found valid. Every failure is a 401: the middleware has verified any
/// token the request carries, so no outcome means there was no usable token.
pub(crate) fn authenticate(headers: &HeaderMap, verified: Option<&VerifiedBearer>) -> Result<AccessToken, ApiError> {
    let Some(verified) = verified else {
        return Err(if headers.contains_key(header::AUTHORIZATION) {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`")
        } else {
            ApiError::Unauthorized("this route needs an access token: Authorization: Bearer <token>")
        });
    };
    refusal(verified.outcome.clone())
}

fn refusal(outcome: Result<AccessToken, TokenError>) -> Result<AccessToken, ApiError> {
    outcome.map_err(|e| match e {
        TokenError::Expired => ApiError::Unauthorized("the access token has expired; refresh it"),
        TokenError::Invalid => ApiError::Unauthorized("the access token is not valid"),
        TokenError::Ended => ApiError::Unauthorized("this sign-in has ended; sign in again"),
    })
}

/// The access token a WebSocket upgrade presents: the `Authorization` header's, else a one-time `ticket`
/// from `POST /api/auth/ticket` (browsers and stock automerge-repo clients cannot set headers).
pub(crate) fn authenticate_upgrade(
    state: &AppState,
    headers: &HeaderMap,
    verified: Option<&VerifiedBearer>,
    ticket: Option<&str>,
) -> Result<AccessToken, ApiError> {
    match (verified, ticket) {
        (None, Some(ticket)) if !headers.contains_key(header::AUTHORIZATION) => {
            refusal(state.sessions.live.redeem_ticket(ticket)).map_err(|_| {
                ApiError::Unauthorized("the ticket is not valid: it is unknown, used or older than 30 seconds")
            })
        }
        _ => authenticate(headers, verified),
    }
}

/// The upgrade of a WebSocket route, or `validation_failed` for a plain request. Handlers take the upgrade as
/// a `Result` and call this after authenticating, so a request without a token gets 401 first.
pub(crate) fn require_upgrade(
    upgrade: Result<axum::extract::ws::WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<axum::extract::ws::WebSocketUpgrade, ApiError> {
    upgrade.map_err(|e| ApiError::Malformed(format!("this route needs a WebSocket upgrade: {e}")))
}

/// `axum::Json`, rejecting with the shared error shape.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => {
                ApiError::Validation { message: rejection.body_text(), fields: Default::default() }
            }
            _ => ApiError::Malformed(rejection.body_text()),
        }
    }
}

/// `axum::extract::Path`; an id that does not parse names nothing, so it is `not_found`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        ApiError::NotFound("no such resource")
    }
}

/// `axum::extract::Query`, rejecting with `validation_failed`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::field("query", rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bearer abc".parse().expect("header"));
        assert_eq!(bearer_token(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().expect("header"));
        assert_eq!(bearer_token(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer ".parse().expect("header"));
        assert_eq!(bearer_token(&h), None);
    }
}
