//! Invitations and the account controls, as the node offers them: inviting people to a team, answering an
//! invitation, signing up with one, and the account's password, name, sessions and deletion. All need the
//! relay; a token or a whole invitation link is accepted wherever one is asked for.

use reqwest::Method;
use teamflow_protocol::api::auth::{MeResponse, TeamMembership, User};
use teamflow_protocol::api::invitations::{
    AccountDeletion, Invitation, InvitationCreated, InvitationInput, InvitationPreview, PasswordChange, PasswordReset,
    PendingInvitation, ProfileUpdate, reset_token_from, token_from,
};
use teamflow_protocol::api::teams::AddMember;
use teamflow_protocol::{Role, TeamId};
use uuid::Uuid;

use crate::{Node, NodeError, RelayApi};

/// What an invitation (token or link) offers, asked of the relay at `relay_url` with no node for it, so
/// without opening or creating a local store: a sign-up form previews a pasted link this way before the
/// person has chosen that relay. TLS as `Node::open`'s (the system's roots and `TEAMFLOW_CA_CERT`).
pub async fn preview_invitation(relay_url: &str, invitation: &str) -> Result<InvitationPreview, NodeError> {
    preview_with(&RelayApi::new(relay_url)?, invitation).await
}

/// Sets a new password with a reset link (or its token) from the relay's administrator, asked of the relay at
/// `relay_url` with no node for it (the person cannot sign in). Every sign-in of the account ends; the link
/// works once, within an hour.
pub async fn reset_password(relay_url: &str, link: &str, new_password: &str) -> Result<(), NodeError> {
    let body = PasswordReset { token: reset_token_from(link).to_owned(), new_password: new_password.to_owned() };
    Ok(RelayApi::new(relay_url)?.call::<_, ()>(Method::POST, "/api/auth/reset-password", None, Some(&body)).await?)
}

async fn preview_with(api: &RelayApi, invitation: &str) -> Result<InvitationPreview, NodeError> {
    let path = format!("/api/invitations/{}", token_from(invitation));
    Ok(api.call::<(), _>(Method::GET, &path, None, None).await?)
}

impl Node {
    /// Signs up with an invitation (its token or its link): the new account joins the invitation's team.
    /// On a relay that registers by invitation, this is how everyone after its first account signs up.
    pub async fn sign_up_with_invitation(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        invitation: &str,
    ) -> Result<User, NodeError> {
        self.register_account(email, password, display_name, Some(token_from(invitation).to_owned())).await
    }

    /// Invites someone to a team (owners and admins; never a role above one's own). With `email`, only that
    /// account can use it. The answer is the only time its token and link are shown.
    pub async fn invite(
        &self,
        team: TeamId,
        role: Role,
        email: Option<&str>,
        expires_in_hours: Option<u32>,
    ) -> Result<Invitation, NodeError> {
        let body = InvitationInput { role, email: email.map(str::to_owned), expires_in_hours };
        self.authed(Method::POST, &format!("/api/teams/{team}/invitations"), Some(&body)).await
    }

    /// Invites someone who already has an account, by email: they see it among their pending invitations
    /// and join only by accepting.
    pub async fn add_member(&self, team: TeamId, email: &str, role: Role) -> Result<Invitation, NodeError> {
        let body = AddMember { email: email.into(), role };
        let created: InvitationCreated =
            self.authed(Method::POST, &format!("/api/teams/{team}/members"), Some(&body)).await?;
        Ok(created.invitation)
    }

    /// A team's pending invitations (owners and admins), without their tokens.
    pub async fn invitations(&self, team: TeamId) -> Result<Vec<Invitation>, NodeError> {
        self.authed::<(), _>(Method::GET, &format!("/api/teams/{team}/invitations"), None).await
    }

    /// Revokes a team's pending invitation (owners and admins).
    pub async fn revoke_invitation(&self, team: TeamId, invitation: Uuid) -> Result<(), NodeError> {
        self.authed::<(), ()>(Method::DELETE, &format!("/api/teams/{team}/invitations/{invitation}"), None).await
    }

    /// What an invitation (token or link) offers; needs no sign-in. Unknown, used, revoked and expired
    /// invitations are all `NotFound` from the relay.
    pub async fn preview_invitation(&self, invitation: &str) -> Result<InvitationPreview, NodeError> {
        preview_with(&self.api, invitation).await
    }

    /// The invitations waiting for the signed-in person's answer.
    pub async fn pending_invitations(&self) -> Result<Vec<PendingInvitation>, NodeError> {
        let me: MeResponse = self.authed::<(), _>(Method::GET, "/api/me", None).await?;
        Ok(me.invitations)
    }

    /// Accepts an invitation (token or link): the signed-in account joins its team with its role.
    pub async fn accept_invitation(&self, invitation: &str) -> Result<TeamMembership, NodeError> {
        let path = format!("/api/invitations/{}/accept", token_from(invitation));
        self.authed::<(), _>(Method::POST, &path, None).await
    }

    /// Declines an invitation (token or link): it is dropped, and nobody joins.
    pub async fn decline_invitation(&self, invitation: &str) -> Result<(), NodeError> {
        let path = format!("/api/invitations/{}/decline", token_from(invitation));
        self.authed::<(), ()>(Method::POST, &path, None).await
    }

    /// Changes the password; every other sign-in of the account ends, this one stays.
    pub async fn change_password(&self, current_password: &str, new_password: &str) -> Result<(), NodeError> {
        let body = PasswordChange { current_password: current_password.into(), new_password: new_password.into() };
        self.authed(Method::POST, "/api/me/password", Some(&body)).await
    }

    /// Changes the account's display name, and keeps it as the signed-in person's (`user`, next start too).
    pub async fn update_display_name(&self, display_name: &str) -> Result<User, NodeError> {
        let user: User =
            self.authed(Method::PATCH, "/api/me", Some(&ProfileUpdate { display_name: display_name.into() })).await?;
        self.remember_user(&user).await?;
        Ok(user)
    }

    /// Ends every sign-in of the account on the relay (this device's included), then signs out here.
    pub async fn sign_out_everywhere(&self) -> Result<(), NodeError> {
        self.end_every_sign_in().await?;
        self.sign_out().await
    }

    /// Deletes the account (with its password again), then signs out here.
    pub async fn delete_account(&self, password: &str) -> Result<(), NodeError> {
        self.delete_account_on_relay(password).await?;
        self.sign_out().await
    }

    /// The relay's half of `sign_out_everywhere`, for a caller that signs out here its own way (`Session`).
    pub(crate) async fn end_every_sign_in(&self) -> Result<(), NodeError> {
        self.authed::<(), ()>(Method::POST, "/api/auth/logout-all", None).await
    }

    /// The relay's half of `delete_account`, as `end_every_sign_in` is of `sign_out_everywhere`.
    pub(crate) async fn delete_account_on_relay(&self, password: &str) -> Result<(), NodeError> {
        self.authed::<_, ()>(Method::DELETE, "/api/me", Some(&AccountDeletion { password: password.into() })).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_preview_needs_a_relay_address_it_may_use() {
        for refused in ["", "ftp://relay.example.com", "http://relay.example.com"] {
            let answer = preview_invitation(refused, "abc").await;
            assert!(matches!(answer, Err(NodeError::Transport(_))), "{refused:?}: {answer:?}");
        }
    }
}
