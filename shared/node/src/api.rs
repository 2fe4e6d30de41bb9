//! The relay's REST API, typed with the protocol's bodies, over HTTPS with the one TLS configuration of
//! `teamflow_sync::transport` (plain HTTP only to loopback and private addresses).

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use teamflow_protocol::ErrorBody;
use teamflow_sync::transport::{self, TransportError};

/// Why a call to the relay failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiFailure {
    /// The relay could not be reached (or did not answer): worth retrying later.
    #[error("the relay is unreachable: {0}")]
    Unreachable(String),
    /// The relay's TLS certificate was refused (untrusted, expired, for another name): not worth retrying
    /// until someone fixes the certificate or trusts its CA.
    #[error("{0}")]
    Certificate(String),
    /// The relay answered with an error; `code` is its stable machine code.
    #[error("the relay refused ({status}): {code}: {message}")]
    Refused { status: u16, code: String, message: String },
}

/// A refusal's message with what it says of each field (`validation_failed`'s details), so that a person
/// reads which field and why ("content: mentions …, who is not a member of this team"), not only that some
/// field was invalid.
fn with_fields(message: String, details: Option<&serde_json::Value>) -> String {
    let Some(fields) = details.and_then(serde_json::Value::as_object).filter(|f| !f.is_empty()) else {
        return message;
    };
    let problems: Vec<String> = fields
        .iter()
        .map(|(field, problem)| format!("{field} {}", problem.as_str().unwrap_or("is not valid")))
        .collect();
    format!("{message}: {}", problems.join("; "))
}

impl ApiFailure {
    /// The relay's refusal: its stable code and message when the body is the relay's error JSON.
    pub(crate) fn refused(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(error) => {
                let message = with_fields(error.error.message, error.error.details.as_ref());
                ApiFailure::Refused { status, code: error.error.code.as_str().to_owned(), message }
            }
            Err(_) => ApiFailure::Refused {
                status,
                code: "unknown".into(),
                message: String::from_utf8_lossy(body).into_owned(),
            },
        }
    }

    /// Whether trying again later could succeed (network trouble, rate limits, the relay's own faults).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiFailure::Unreachable(_) => true,
            ApiFailure::Certificate(_) => false,
            ApiFailure::Refused { status, .. } => *status == 429 || *status >= 500,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RelayApi {
    http: reqwest::Client,
    base: String,
}

impl RelayApi {
    /// A client for the relay at `relay_url` (as typed: see `teamflow_sync::transport::relay_url`), with the
    /// process's TLS configuration.
    pub fn new(relay_url: &str) -> Result<Self, TransportError> {
        Self::with_tls(relay_url, transport::client_config()?.as_ref())
    }

    /// `new`, with the given TLS configuration.
    pub fn with_tls(relay_url: &str, tls: &rustls::ClientConfig) -> Result<Self, TransportError> {
        let base = transport::relay_url(relay_url)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.clone())
            .https_only(base.starts_with("https://"))
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| TransportError::Tls(e.to_string()))?;
        Ok(Self { http, base })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Calls `method path` with an optional JSON body and bearer token; decodes the answer as `T`.
    pub async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, ApiFailure> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| match transport::certificate_failure(&e) {
            Some(reason) => ApiFailure::Certificate(reason),
            None => ApiFailure::Unreachable(e.to_string()),
        })?;
        let status = response.status();
        if status.is_success() {
            let bytes = response.bytes().await.map_err(|e| ApiFailure::Unreachable(e.to_string()))?;
            let body = if bytes.is_empty() && status == StatusCode::NO_CONTENT { &b"null"[..] } else { &bytes[..] };
            return serde_json::from_slice(body).map_err(|e| ApiFailure::Refused {
                status: status.as_u16(),
                code: "unreadable_answer".into(),
                message: e.to_string(),
            });
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(ApiFailure::refused(status.as_u16(), &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusals_field_problems_are_part_of_its_message() {
        let body = br#"{"error":{"code":"validation_failed","message":"the request has invalid fields",
            "details":{"content":"mentions 42, who is not a member of this team"}}}"#;
        let ApiFailure::Refused { code, message, .. } = ApiFailure::refused(422, body) else { panic!("a refusal") };
        assert_eq!(code, "validation_failed");
        assert_eq!(message, "the request has invalid fields: content mentions 42, who is not a member of this team");

        let plain = br#"{"error":{"code":"forbidden","message":"owners and admins only"}}"#;
        let ApiFailure::Refused { message, .. } = ApiFailure::refused(403, plain) else { panic!("a refusal") };
        assert_eq!(message, "owners and admins only");
    }
}
