//! Integrations (GitHub, Slack, Trello webhooks) and the activity they produce.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{TeamId, UserId};

/// A service that can post events into a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Github,
    Slack,
    Trello,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Github, Service::Slack, Service::Trello];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Github => "github",
            Service::Slack => "slack",
            Service::Trello => "trello",
        }
    }

    pub fn parse(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// `POST /api/teams/{team_id}/integrations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct IntegrationInput {
    pub service: Service,
    /// GitHub: optional (generated when absent). Slack: the workspace's signing secret. Trello: the app secret.
    #[serde(default)]
    pub secret: Option<String>,
    /// Slack only: also post each Slack message into the team's chat.
    #[serde(default)]
    pub mirror_to_chat: bool,
}

/// An integration as listed: never with its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Integration {
    pub id: String,
    pub team_id: TeamId,
    pub service: Service,
    /// What to paste into the provider's webhook settings.
    pub webhook_url: String,
    pub mirror_to_chat: bool,
    /// Whose rights its events use (their current role); rotating the secret makes the rotator its creator.
    pub created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created_at: OffsetDateTime,
    /// Why deliveries are refused (e.g. `creator_removed`); absent while the integration is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
    /// When the relay last took a delivery for it (an event, a repeat, GitHub's ping or Slack's
    /// challenge); absent before the first. Kept to the minute: a busy integration writes it about once a
    /// minute.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(optional, type = Option<String>))]
    pub last_delivery_at: Option<OffsetDateTime>,
    /// From a refused delivery (a signature that does not match the secret, or a body the relay cannot read)
    /// until the next one taken or a new secret: something is sending to this address and is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub refusing: Option<RefusedDelivery>,
}

/// The last delivery an integration refused, for its admins to see without the relay's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct RefusedDelivery {
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub at: OffsetDateTime,
    /// The answer's stable code (`invalid_signature`, `validation_failed`), then its detail.
    pub reason: String,
}

/// `POST /api/teams/{team_id}/integrations/{integration_id}/rotate`: a new secret (GitHub: generated when
/// absent; Slack and Trello: the one the provider now shows).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    #[serde(default)]
    pub secret: Option<String>,
}

/// A stored event the relay gave up on, and why; listed for the team's owners and admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct WebhookFailure {
    pub event_id: String,
    pub event_type: String,
    /// A stable reason first (`forbidden`, `validation_failed`, `creator_removed`, `gave_up`), then detail.
    pub reason: String,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub received_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub failed_at: OffsetDateTime,
}

/// The answer to creating an integration: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct IntegrationCreated {
    pub id: String,
    pub service: Service,
    pub webhook_url: String,
    pub secret: String,
}

/// Whether `url` may be shown as a link and opened: absolute `http(s)` only, no whitespace or control
/// characters, at most 2048 bytes. The relay keeps no other link on an activity item, and the app opens no
/// other in the system browser.
pub fn is_web_link(url: &str) -> bool {
    let scheme = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (scheme.starts_with("https://") || scheme.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// One readable line of team activity, made from a webhook event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ActivityItem {
    pub id: String,
    pub team_id: TeamId,
    /// Position in the team's activity, increasing.
    pub seq: i64,
    pub service: Service,
    /// The provider's event type, e.g. `push`, `pull_request`, `event_callback`, `updateCard`.
    pub event_type: String,
    /// e.g. "alice pushed 3 commits to main".
    pub summary: String,
    /// Only ever an absolute http(s) link (`is_web_link`).
    pub url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created_at: OffsetDateTime,
}

/// `GET /api/teams/{team_id}/activity?before=&limit=`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// Only items with a `seq` below this.
    pub before: Option<i64>,
    /// 1 to 100 (default 50), clamped.
    pub limit: Option<i64>,
}

/// Newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ActivityPage {
    pub items: Vec<ActivityItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}
