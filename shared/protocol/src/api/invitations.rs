//! Invitations: how a person joins a relay and a team by consent (`/api/teams/{team_id}/invitations`,
//! `/api/invitations/{token}`), and the account controls under `/api/me`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Role, TeamId};

/// `POST /api/teams/{team_id}/invitations` (owners and admins; never a role above the caller's).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct InvitationInput {
    pub role: Role,
    /// When set, only the account with this (normalised) email can use the invitation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// How long the invitation stays usable (default 168, a week).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_hours: Option<u32>,
}

/// An invitation as its team's owners and admins see it. `token` and `url` are the secret that lets someone
/// join: answered when it is created (the relay keeps only a hash), and not in lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Invitation {
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub id: Uuid,
    pub team_id: TeamId,
    pub role: Role,
    pub email: Option<String>,
    /// Present only in the answer that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `{public_url}/invite/{token}`; present only in the answer that created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub expires_at: OffsetDateTime,
}

/// `POST /api/teams/{team_id}/members` for an existing account answers 202 with the invitation it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct InvitationCreated {
    pub invitation: Invitation,
}

/// `GET /api/invitations/{token}` (no sign-in needed): what the invitation offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct InvitationPreview {
    pub team_name: String,
    pub role: Role,
    pub inviter_name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub expires_at: OffsetDateTime,
}

/// An invitation waiting for the signed-in person (in `GET /api/me`): accept or decline it with its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PendingInvitation {
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub id: Uuid,
    pub token: String,
    pub team_id: TeamId,
    pub team_name: String,
    pub role: Role,
    pub inviter_name: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub expires_at: OffsetDateTime,
}

/// `POST /api/me/password`: ends every other session of the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// `PATCH /api/me`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    pub display_name: String,
}

/// `DELETE /api/me`: the password again, so a left-open session cannot delete the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AccountDeletion {
    pub password: String,
}

/// `POST /api/auth/reset-password`: the token of a reset link (`teamflow-relay admin reset-password`),
/// single use, valid one hour. Every sign-in of the account ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    pub token: String,
    pub new_password: String,
}

/// The token in an invitation link (`{public_url}/invite/{token}`), or the input itself when it is a bare
/// token: wherever a person pastes one, either works.
pub fn token_from(input: &str) -> &str {
    let input = input.trim();
    input.rsplit_once("/invite/").map_or(input, |(_, token)| token.trim_end_matches('/'))
}

/// The token in a password reset link (`{public_url}/reset-password/{token}`, printed by `teamflow-relay
/// admin reset-password`), or the input itself when it is a bare token.
pub fn reset_token_from(input: &str) -> &str {
    let input = input.trim();
    input.rsplit_once("/reset-password/").map_or(input, |(_, token)| token.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::{reset_token_from, token_from};

    #[test]
    fn reset_links_and_bare_tokens_give_the_token() {
        assert_eq!(reset_token_from("abc"), "abc");
        assert_eq!(reset_token_from(" https://relay.example/reset-password/abc/ "), "abc");
        assert_eq!(reset_token_from("https://relay.example/teamflow/reset-password/abc"), "abc");
    }

    #[test]
    fn links_and_bare_tokens_give_the_token() {
        assert_eq!(token_from("abc"), "abc");
        assert_eq!(token_from(" https://relay.example/invite/abc/ "), "abc");
        assert_eq!(token_from("http://127.0.0.1:8080/invite/x-y_z"), "x-y_z");
    }
}
