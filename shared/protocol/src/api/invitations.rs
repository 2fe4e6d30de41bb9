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

/// The scheme the desktop app opens (`teamflow://open?link=…`).
pub const APP_SCHEME: &str = "teamflow";

/// The address that opens the desktop app with `link` (an invitation link) filled in: what the relay's
/// invitation page offers as "Open in TeamFlow".
pub fn open_in_app(link: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(link.as_bytes()).collect();
    format!("{APP_SCHEME}://open?link={encoded}")
}

/// Whether `token` has the shape of the relay's tokens (base64url, 16 to 200 characters): anything else is
/// a typo or half a link.
pub fn is_token_shaped(token: &str) -> bool {
    (16..=200).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token in a password reset link (`{public_url}/reset-password/{token}`, printed by `teamflow-relay
/// admin reset-password`), or the input itself when it is a bare token.
pub fn reset_token_from(input: &str) -> &str {
    let input = input.trim();
    input.rsplit_once("/reset-password/").map_or(input, |(_, token)| token.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::{is_token_shaped, open_in_app, reset_token_from, token_from};

    #[test]
    fn the_app_is_opened_with_the_link_encoded_whole() {
        assert_eq!(
            open_in_app("https://relay.example/t/invite/abc_-DEF?x=1&y"),
            "teamflow://open?link=https%3A%2F%2Frelay.example%2Ft%2Finvite%2Fabc_-DEF%3Fx%3D1%26y"
        );
    }

    #[test]
    fn tokens_have_the_relays_shape_or_are_not_tokens() {
        assert!(is_token_shaped("AbCdEfGhIjKlMn-_09"));
        for odd in ["short", "has space in it here", "<script>alert(1)</script>", &"a".repeat(201)] {
            assert!(!is_token_shaped(odd), "{odd}");
        }
    }

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
