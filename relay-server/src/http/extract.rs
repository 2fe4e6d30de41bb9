//! Request extractors that fail with `ApiError`, so every rejection has the shared error shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use teamflow_protocol::UserId;

use super::rate_limit::bearer_token;
use crate::AppState;
use crate::auth::TokenError;
use crate::error::ApiError;

/// The signed-in user, from a valid `Authorization: Bearer` access token.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        // REST routes take the header only: a token in a URL ends up in logs and histories.
        let verified = parts.extensions.get::<VerifiedBearer>().filter(|v| !v.from_query);
        authenticate(state, &parts.headers, verified, None).map(AuthUser)
    }
}

/// What verifying a request's `Authorization: Bearer` token gave. `verify_bearer` verifies it once, ahead of
/// the rate limiter (which counts signed-in users by user) and the handler (which needs the user).
#[derive(Debug, Clone)]
pub(crate) struct VerifiedBearer {
    outcome: Result<UserId, TokenError>,
    /// The token came from the `token` query parameter, not the `Authorization` header.
    from_query: bool,
}

impl VerifiedBearer {
    /// The user, when the token was valid.
    pub(crate) fn user(&self) -> Option<UserId> {
        self.outcome.as_ref().ok().copied()
    }
}

/// Middleware: verifies the request's access token, if it has one, and leaves the outcome in its
/// extensions. The token is the `Authorization: Bearer` header's, or, on a request without that header, a
/// `token` query parameter (WebSocket upgrades from browsers), so upgrades too are rate-limited per user
/// rather than per address. Refusing is left to the routes that need a user.
pub(crate) async fn verify_bearer(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let from_query = !request.headers().contains_key(axum::http::header::AUTHORIZATION);
    let token = if from_query {
        request.uri().query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, value)| key == "token" && !value.is_empty())
                .map(|(_, value)| value.into_owned())
        })
    } else {
        bearer_token(request.headers()).map(str::to_owned)
    };
    if let Some(token) = token {
        let outcome = verify(&state, &token);
        request.extensions_mut().insert(VerifiedBearer { outcome, from_query });
    }
    next.run(request).await
}

fn verify(state: &AppState, token: &str) -> Result<UserId, TokenError> {
    let outcome = state.tokens.verify(token);
    state.metrics.token_verified(match &outcome {
        Ok(_) => "valid",
        Err(TokenError::Expired) => "expired",
        Err(TokenError::Invalid) => "invalid",
    });
    outcome
}

/// The user an `Authorization: Bearer` header speaks for (verified already when `verified` is given), or
/// else a `token` query parameter (browsers cannot set headers on a WebSocket). Every failure is a 401.
pub(crate) fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    verified: Option<&VerifiedBearer>,
    query_token: Option<&str>,
) -> Result<UserId, ApiError> {
    let outcome = if let Some(verified) = verified {
        verified.outcome.clone()
    } else if headers.contains_key(axum::http::header::AUTHORIZATION) {
        let token =
            bearer_token(headers).ok_or(ApiError::Unauthorized("the Authorization header must be `Bearer <token>`"))?;
        verify(state, token)
    } else {
        let token = query_token
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized("this route needs an access token: Authorization: Bearer <token>"))?;
        verify(state, token)
    };
    match outcome {
        Ok(user) => Ok(user),
        Err(TokenError::Expired) => Err(ApiError::Unauthorized("the access token has expired; refresh it")),
        Err(TokenError::Invalid) => Err(ApiError::Unauthorized("the access token is not valid")),
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
