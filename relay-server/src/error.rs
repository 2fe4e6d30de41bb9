//! `ApiError`: every failure a request can meet, mapped once to a status code and the shared error shape.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use teamflow_protocol::{ErrorBody, ErrorCode, ErrorObject};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is well-formed but its values are not acceptable; `fields` says which and why.
    #[error("{message}")]
    Validation { message: String, fields: BTreeMap<String, String> },
    /// The request could not be read at all (bad JSON, wrong types).
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// Sign-up on a relay that registers by invitation only, without a valid invitation.
    #[error("this relay registers new accounts by invitation only; ask a team's owner or admin for one")]
    RegistrationClosed,
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    /// Deleted, and still restorable: not the same as never there.
    #[error("{0}")]
    Gone(&'static str),
    #[error("too many requests; retry in {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the request body is larger than this route accepts")]
    PayloadTooLarge,
    #[error("this route takes a JSON body with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    ServiceUnavailable(&'static str),
    /// Too much work queued for this request to wait its turn; worth retrying shortly.
    #[error("the relay is busy; retry in {retry_after_secs}s")]
    Busy { retry_after_secs: u64 },
    #[error("the webhook signature did not verify")]
    InvalidSignature,
    #[error("webhooks from this service are not supported")]
    ServiceNotSupported,
    /// Anything the caller cannot fix. The source is logged; the client sees only `internal`.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A validation failure on one field.
    pub fn field(field: &str, problem: impl Into<String>) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert(field.to_owned(), problem.into());
        ApiError::Validation { message: "the request has invalid fields".into(), fields }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Validation { .. } | ApiError::Malformed(_) => ErrorCode::ValidationFailed,
            ApiError::Unauthorized(_) => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::RegistrationClosed => ErrorCode::RegistrationClosed,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) => ErrorCode::Conflict,
            ApiError::Gone(_) => ErrorCode::Gone,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::ServiceUnavailable(_) | ApiError::Busy { .. } => ErrorCode::ServiceUnavailable,
            ApiError::InvalidSignature => ErrorCode::InvalidSignature,
            ApiError::ServiceNotSupported => ErrorCode::ServiceNotSupported,
            ApiError::Database(_) | ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Malformed(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::RegistrationClosed => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::ServiceUnavailable(_) | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::InvalidSignature => StatusCode::UNAUTHORIZED,
            ApiError::ServiceNotSupported => StatusCode::NOT_FOUND,
            ApiError::Database(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body a client sees. Internal failures never carry their cause.
    pub fn body(&self) -> ErrorBody {
        let (message, details) = match self {
            ApiError::Database(_) | ApiError::Internal(_) => ("internal server error".to_owned(), None),
            ApiError::Validation { message, fields } => {
                let details = (!fields.is_empty()).then(|| serde_json::to_value(fields).ok()).flatten();
                (message.clone(), details)
            }
            other => (other.to_string(), None),
        };
        ErrorBody { error: ErrorObject { code: self.code(), message, details } }
    }
}

/// Builds a complete error response; also used by middleware that answers outside a handler.
pub fn error_response(status: StatusCode, body: &ErrorBody) -> Response {
    (status, axum::Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            // Shedding load is the relay working as meant, not a fault.
            ApiError::Busy { .. } => tracing::warn!(error = %self, "request shed"),
            _ if self.status().is_server_error() => tracing::error!(error = %self, "request failed"),
            _ => {}
        }
        let mut response = error_response(self.status(), &self.body());
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::RateLimited { retry_after_secs } | ApiError::Busy { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ApiError::Internal("disk /secret/path is full".into());
        let body = serde_json::to_string(&error.body()).expect("serialize");
        assert!(!body.contains("secret"), "{body}");
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.code(), ErrorCode::Internal);
    }

    #[test]
    fn validation_errors_list_their_fields() {
        let body = ApiError::field("email", "is not an email address").body();
        assert_eq!(body.error.code, ErrorCode::ValidationFailed);
        let details = body.error.details.expect("details");
        assert_eq!(details["email"], "is not an email address");
    }

    #[test]
    fn unauthorized_carries_the_bearer_challenge() {
        let response = ApiError::Unauthorized("missing token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    }
}
