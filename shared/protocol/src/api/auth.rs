//! Accounts and tokens: `/api/auth/*` and `/api/me`.

use serde::{Deserialize, Serialize};

use crate::api::invitations::PendingInvitation;
use crate::{Role, TeamId, UserId};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub display_name: String,
    /// An invitation's token: needed on a relay whose registration is by invitation (after its first
    /// account); the new account joins that invitation's team with its role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// Body of `refresh` and `logout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
}

/// What register, login and refresh answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct AuthResponse {
    pub user: User,
    /// A short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// An opaque token for `/api/auth/refresh`; single use, replaced by every refresh.
    pub refresh_token: String,
    /// Seconds until `access_token` expires.
    pub expires_in: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TeamMembership {
    pub id: TeamId,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct MeResponse {
    pub user: User,
    pub teams: Vec<TeamMembership>,
    /// Invitations waiting for this person's answer.
    #[serde(default)]
    pub invitations: Vec<PendingInvitation>,
}

/// `POST /api/auth/ticket`: a one-time ticket standing for the caller's access token for 30 seconds, for
/// clients that cannot set an `Authorization` header on a WebSocket (`/api/ws?ticket=`, `/sync?ticket=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TicketResponse {
    pub ticket: String,
    /// Seconds it stays usable.
    pub expires_in: u64,
}
