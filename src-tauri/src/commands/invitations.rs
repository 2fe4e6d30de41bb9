//! Invitations: an owner or admin invites people to a team with a link, and sees and revokes the team's
//! pending ones; a person previews a link, and accepts or declines what waits for them.

use tauri::{State, Wry};
use teamflow_protocol::Role;
use teamflow_protocol::TeamId;
use teamflow_protocol::api::auth::TeamMembership;
use teamflow_protocol::api::invitations::{Invitation, InvitationPreview, PendingInvitation};
use uuid::Uuid;

use crate::error::AppError;
use crate::shell::Shell;

/// Creates an invitation to the team (owners and admins, never a role above one's own; the relay checks).
/// With `email`, only that account can use it, and it waits among that account's pending invitations. The
/// answer is the only time its link is shown.
#[tauri::command]
#[specta::specta]
pub(crate) async fn invite(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    role: Role,
    email: Option<String>,
    expires_in_hours: Option<u32>,
) -> Result<Invitation, AppError> {
    Ok(shell.node().await?.invite(team_id, role, email.as_deref(), expires_in_hours).await?)
}

/// The team's pending invitations, without their links (owners and admins).
#[tauri::command]
#[specta::specta]
pub(crate) async fn invitations(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<Vec<Invitation>, AppError> {
    Ok(shell.node().await?.invitations(team_id).await?)
}

/// Revokes one of the team's pending invitations: its link stops working.
#[tauri::command]
#[specta::specta]
pub(crate) async fn revoke_invitation(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    invitation_id: String,
) -> Result<(), AppError> {
    let id = invitation_id_from(&invitation_id)?;
    Ok(shell.node().await?.revoke_invitation(team_id, id).await?)
}

/// What an invitation (its link or token) offers, from the relay at `relay_url`; needs no sign-in, so the
/// sign-up form shows it before the account exists. Asking changes nothing here: the app keeps its relay
/// (and opens no store for this one) until the person signs up.
#[tauri::command]
#[specta::specta]
pub(crate) async fn preview_invitation(relay_url: String, invitation: String) -> Result<InvitationPreview, AppError> {
    Ok(teamflow_node::preview_invitation(&relay_url, &invitation).await?)
}

/// The invitations waiting for the signed-in person's answer.
#[tauri::command]
#[specta::specta]
pub(crate) async fn pending_invitations(shell: State<'_, Shell<Wry>>) -> Result<Vec<PendingInvitation>, AppError> {
    Ok(shell.node().await?.pending_invitations().await?)
}

/// Accepts an invitation (its link or token): the signed-in person joins its team, which is answered.
#[tauri::command]
#[specta::specta]
pub(crate) async fn accept_invitation(
    shell: State<'_, Shell<Wry>>,
    invitation: String,
) -> Result<TeamMembership, AppError> {
    Ok(shell.node().await?.accept_invitation(&invitation).await?)
}

/// Declines an invitation (its link or token): it is dropped, and nobody joins.
#[tauri::command]
#[specta::specta]
pub(crate) async fn decline_invitation(shell: State<'_, Shell<Wry>>, invitation: String) -> Result<(), AppError> {
    Ok(shell.node().await?.decline_invitation(&invitation).await?)
}

/// An invitation's id as the window sends it back (the string it was given), or `Invalid`.
fn invitation_id_from(input: &str) -> Result<Uuid, AppError> {
    input.trim().parse().map_err(|_| AppError::invalid(format!("{input:?} is not an invitation id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invitation_ids_are_uuids_or_refused() {
        let id = Uuid::new_v4();
        assert_eq!(invitation_id_from(&id.to_string()).expect("id"), id);
        assert!(matches!(invitation_id_from("not-an-id"), Err(AppError::Invalid { .. })));
        assert!(matches!(invitation_id_from(""), Err(AppError::Invalid { .. })));
    }
}
