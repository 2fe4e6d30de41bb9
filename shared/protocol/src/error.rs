//! The one error shape every REST route and realtime error frame uses.

use serde::{Deserialize, Serialize};

/// Stable machine-readable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    PayloadTooLarge,
    UnsupportedMediaType,
    MethodNotAllowed,
    ServiceUnavailable,
    /// A webhook's signature did not verify (or was missing, or stale).
    InvalidSignature,
    /// A webhook for a service the relay does not integrate with.
    ServiceNotSupported,
    /// Sign-up on this relay is by invitation, and none (or no usable one) was given.
    RegistrationClosed,
    /// The thing was deleted (a document in its restore window): restore it first, or forget it.
    Gone,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::ServiceNotSupported => "service_not_supported",
            ErrorCode::RegistrationClosed => "registration_closed",
            ErrorCode::Gone => "gone",
            ErrorCode::Internal => "internal",
        }
    }
}

/// `{"error": {...}}`: the body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ErrorObject {
    pub code: ErrorCode,
    /// A human-readable explanation, safe to show to a user.
    pub message: String,
    /// Extra structure for some codes: for `validation_failed`, an object from field name to problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[cfg_attr(feature = "specta", specta(type = Option<serde_json::Value>))]
    pub details: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_names() {
        for code in [ErrorCode::ValidationFailed, ErrorCode::MethodNotAllowed, ErrorCode::Internal] {
            assert_eq!(serde_json::to_value(code).expect("serialize"), code.as_str());
        }
    }
}
