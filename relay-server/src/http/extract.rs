//! Request extractors that fail with `ApiError`, so every rejection has the shared error shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use teamflow_protocol::UserId;

use super::AppState;
use crate::auth::TokenError;
use crate::error::ApiError;

/// The signed-in user, from a valid `Authorization: Bearer` access token.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        // REST routes take the header only: a token in a URL ends up in logs and histories.
        let verified = parts.extensions.get::<VerifiedBearer>().filter(|v| !v.from_query);
        authenticate(&parts.headers, verified).map(AuthUser)
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
    let from_query = !request.headers().contains_key(header::AUTHORIZATION);
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
        let outcome = state.sessions.tokens.verify(&token);
        state.metrics.token_verified(match &outcome {
            Ok(_) => "valid",
            Err(TokenError::Expired) => "expired",
            Err(TokenError::Invalid) => "invalid",
        });
        request.extensions_mut().insert(VerifiedBearer { outcome, from_query });
    }
    next.run(request).await
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The user `verify_bearer` found a valid token for (`verified`; WebSocket routes also accept the `token`
/// query parameter, since browsers cannot set headers on a WebSocket). Every failure is a 401: the
/// middleware has verified any token the request carries, so no outcome means there was no usable token.
pub(crate) fn authenticate(headers: &HeaderMap, verified: Option<&VerifiedBearer>) -> Result<UserId, ApiError> {
    let Some(verified) = verified else {
        return Err(if headers.contains_key(header::AUTHORIZATION) {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`")
        } else {
            ApiError::Unauthorized("this route needs an access token: Authorization: Bearer <token>")
        });
    };
    match &verified.outcome {
        Ok(user) => Ok(*user),
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
