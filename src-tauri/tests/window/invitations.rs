//! Invitations in the window, on a relay that registers by invitation (as a deployed one does by default):
//! an owner makes links in "Invite people" and copies one; the invitee pastes it into the sign-up form,
//! which fills in the relay and shows the offer, and lands in the team; someone with an account answers
//! the invitations waiting for them. Each person appears in the team, and in its room's membership events,
//! only once they accept. Run in the light and the dark theme, with screenshots of every screen.

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{Client, DataDir, PASSWORD, TestRelay};

use crate::driver::{Theme, Window, turn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_invites_by_link_and_people_join_only_by_accepting() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_screens_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

async fn walk_through(theme: Theme) -> Result<()> {
    let turn = turn().await;
    let relay = invite_only_relay().await;
    // The relay's first account may sign up without an invitation; everyone after needs one.
    let ada = relay.user("ada").await;
    let carol = sign_up_invited(&relay, &ada, "carol").await?;
    let window = Window::launch_in(turn, theme).await?;

    window.sign_in(&relay, "ada").await?;
    let studio = window.create_team(&ada, "Studio").await?;
    // Ada's other device watches the team's room: who joins, and when.
    let mut room = RoomSocket::connect(&relay.url(""), ada.token.as_deref().context("ada is signed in")?).await;
    room.join(&studio).await;

    // Invite people: carol by email as a viewer; an open link, revoked; the open link to pass on, copied.
    window.click("[data-testid=nav-members]").await?;
    window.click("[data-testid=invite-people]").await?;
    window.find("[data-testid=invite-dialog]").await?;
    window.click("[data-testid=invite-role] option[value=viewer]").await?;
    window.type_into("[data-testid=invite-email]", "carol@example.test").await?;
    window.click("[data-testid=invite-create]").await?;
    window.until_count("[data-testid=team-invitation]", 1).await?;
    window.click("[data-testid=invite-role] option[value=member]").await?;
    window.click("[data-testid=invite-create]").await?;
    window.until_count("[data-testid=team-invitation]", 2).await?;
    window.click("[data-testid=team-invitation]:nth-child(2) [data-testid=invite-revoke]").await?;
    window.until_count("[data-testid=team-invitation]", 1).await?;
    let listed = array(ada.get(&format!("/api/teams/{studio}/invitations")).await.1)?;
    ensure!(listed.len() == 1 && listed[0]["email"] == "carol@example.test", "revoked on the relay: {listed:?}");

    window.click("[data-testid=invite-expiry] option[value='24']").await?;
    window.click("[data-testid=invite-create]").await?;
    window.until_count("[data-testid=team-invitation]", 2).await?;
    let link = window.value_of("[data-testid=invite-link]").await?;
    ensure!(link.starts_with(&relay.url("/invite/")), "a link to this relay: {link}");
    window.click("[data-testid=invite-copy]").await?;
    window.until_text("[data-testid=invite-copied]", "Copied").await?;
    window.screenshot(&theme.shot("invite-dialog")).await?;
    let listed = array(ada.get(&format!("/api/teams/{studio}/invitations")).await.1)?;
    let open = listed.iter().find(|i| i["email"].is_null()).context("the open link is pending")?;
    ensure!(
        open["role"] == "member" && open["expires_at"].as_str() < listed[0]["expires_at"].as_str(),
        "a member's link for a day, carol's for a week: {listed:?}"
    );
    ensure!(emails(&ada, &studio).await? == ["ada@example.test"], "nobody joined by being invited");

    // Bob signs up with the copied link: pasted, it fills in the relay and shows what it offers. A link that
    // never existed says so first.
    window.click("[data-testid=invite-close]").await?;
    window.sign_out().await?;
    window.click("[data-testid=mode-sign-up]").await?;
    window.clear("[data-testid=relay-url]").await?;
    window.type_into("[data-testid=invitation-link]", &relay.url(&format!("/invite/{}", "A".repeat(43)))).await?;
    window.until_text("[data-testid=invitation-error]", "This invitation is no longer valid").await?;
    window.screenshot(&theme.shot("sign-up-invitation-gone")).await?;
    window.clear("[data-testid=invitation-link]").await?;
    window.clear("[data-testid=relay-url]").await?;
    window.paste_into("[data-testid=invitation-link]").await?;
    window.until_value("[data-testid=invitation-link]", &link).await?;
    window.until_value("[data-testid=relay-url]", &relay.url("")).await?;
    window.until_text("[data-testid=invitation-preview]", "Join Studio as member, invited by ada").await?;
    window.type_into("[data-testid=display-name]", "Bob").await?;
    window.type_into("[data-testid=email]", "bob@example.test").await?;
    window.type_into("[data-testid=password]", PASSWORD).await?;
    window.screenshot(&theme.shot("sign-up-invitation")).await?;
    window.click("[data-testid=auth-submit]").await?;
    window.until_text("[data-testid=team-switcher]", "Studio").await?;
    ensure!(chosen_team(&window).await? == "Studio", "bob lands in the team he was invited to");
    window.click("[data-testid=nav-members]").await?;
    window.until_text("[data-testid=member]", "bob@example.test").await?;
    window.until_text("[data-testid=member]", "ada@example.test").await?;
    // The first membership event since the invitations were made: bob's, as he accepted by signing up.
    let joined = room.next_of("member_changed").await;
    let bob_id = member_id(&ada, &studio, "bob@example.test").await?;
    ensure!(joined["user_id"] == bob_id && joined["role"] == "member", "bob joins the room as a member: {joined}");
    ensure!(emails(&ada, &studio).await? == ["ada@example.test", "bob@example.test"], "bob joined, carol not yet");

    // Carol has an account: two invitations wait for her when she signs in. Until she answers, nothing
    // changes in the team.
    let garage = ada.create_team("Garage").await;
    let (status, body) = ada
        .post(&format!("/api/teams/{garage}/invitations"), &json!({"role": "member", "email": "carol@example.test"}))
        .await;
    ensure!(status.as_u16() == 201, "{body}");
    window.sign_out().await?;
    window.sign_in(&relay, "carol").await?;
    window.until_count("[data-testid=pending-invitation]", 2).await?;
    window.until_text("[data-testid=pending-invitation]", "ada invited you to join Studio as viewer").await?;
    window.until_text("[data-testid=pending-invitation]", "ada invited you to join Garage as member").await?;
    window.screenshot(&theme.shot("pending-invitations")).await?;
    let meanwhile = room.drain(1).await;
    ensure!(
        meanwhile.iter().all(|f| f["type"] != "member_changed"),
        "no membership event before she answers: {meanwhile:?}"
    );
    ensure!(emails(&ada, &studio).await? == ["ada@example.test", "bob@example.test"], "carol not a member yet");

    // She declines Garage (listed second, invited last) and accepts Studio, which opens without a restart.
    window.click("[data-testid=pending-invitation]:nth-child(2) [data-testid=decline-invitation]").await?;
    window.until_count("[data-testid=pending-invitation]", 1).await?;
    window.until_text("[data-testid=pending-invitation]", "Studio").await?;
    window.click("[data-testid=accept-invitation]").await?;
    window.until_count("[data-testid=pending-invitation]", 0).await?;
    window.until_text("[data-testid=team-switcher]", "Studio").await?;
    ensure!(chosen_team(&window).await? == "Studio", "the accepted team opens");
    window.click("[data-testid=nav-members]").await?;
    window.until_text("[data-testid=member]", "carol@example.test").await?;
    let joined = room.next_of("member_changed").await;
    let carol_id = carol.user_id().await;
    ensure!(joined["user_id"] == carol_id.as_str() && joined["role"] == "viewer", "carol joins as a viewer: {joined}");
    ensure!(emails(&ada, &garage).await? == ["ada@example.test"], "declining joins nobody");
    let garage_invitations = array(ada.get(&format!("/api/teams/{garage}/invitations")).await.1)?;
    ensure!(garage_invitations.is_empty(), "the declined invitation is gone: {garage_invitations:?}");
    window.close().await
}

/// A relay on test limits that registers new accounts by invitation only.
async fn invite_only_relay() -> TestRelay {
    let dir = DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.registration = teamflow_relay::config::Registration::Invite;
    TestRelay::start_with(dir, config).await
}

/// Signs `name` up (`<name>@example.test`, `PASSWORD`) with an invitation `inviter` makes to a team of
/// their own, as a closed relay requires; answers a client signed in as them.
async fn sign_up_invited(relay: &TestRelay, inviter: &Client, name: &str) -> Result<Client> {
    let team = inviter.create_team(&format!("Welcome {name}")).await;
    let (status, invitation) =
        inviter.post(&format!("/api/teams/{team}/invitations"), &json!({"role": "member"})).await;
    ensure!(status.as_u16() == 201, "{invitation}");
    let (status, body) = relay
        .client()
        .post(
            "/api/auth/register",
            &json!({
                "email": format!("{name}@example.test"),
                "password": PASSWORD,
                "display_name": name,
                "invitation": invitation["token"],
            }),
        )
        .await;
    ensure!(status.as_u16() == 201, "register {name}: {body}");
    Ok(relay.client().with_token(body["access_token"].as_str()))
}

fn array(value: Value) -> Result<Vec<Value>> {
    value.as_array().cloned().with_context(|| format!("not a list: {value}"))
}

/// The team's members' emails, sorted, as the relay lists them.
async fn emails(client: &Client, team: &str) -> Result<Vec<String>> {
    let mut emails: Vec<String> = array(client.get(&format!("/api/teams/{team}/members")).await.1)?
        .iter()
        .filter_map(|m| m["email"].as_str().map(str::to_owned))
        .collect();
    emails.sort();
    Ok(emails)
}

async fn member_id(client: &Client, team: &str, email: &str) -> Result<String> {
    let members = array(client.get(&format!("/api/teams/{team}/members")).await.1)?;
    members
        .iter()
        .find(|m| m["email"] == email)
        .and_then(|m| m["user_id"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("{email} is not a member: {members:?}"))
}

/// The team the switcher shows.
async fn chosen_team(window: &Window) -> Result<String> {
    let chosen =
        window.script("return document.querySelector('[data-testid=team-switcher]').selectedOptions[0]?.text").await?;
    chosen.as_str().map(str::to_owned).with_context(|| format!("no team chosen: {chosen}"))
}
