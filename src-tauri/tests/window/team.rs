//! Running a team from the window, as its owner, against a real relay: a member's role changed and the
//! member removed (the owner's own row says why it has no controls), a project deleted, GitHub connected (its
//! URL and secret shown once, a URL no provider can reach warned about, a forged delivery shown as refused)
//! and removed, the team renamed, and deleted only once its name is typed; and, as
//! the member, being removed while writing in the team: told, and the team gone from the window. In both
//! themes, with screenshots.

use anyhow::{Context, Result, ensure};
use serde_json::json;
use teamflow_tests::TestRelay;

use crate::driver::{Theme, Window, turn};
use crate::teammates::Teammates;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_changes_roles_removes_renames_and_deletes() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_screens_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_removed_while_writing_is_told_and_the_team_leaves_the_window() -> Result<()> {
    removed(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn being_removed_in_the_dark_theme() -> Result<()> {
    removed(Theme::Dark).await
}

async fn removed(theme: Theme) -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let (status, ops) = ada.post("/api/teams", &json!({ "name": "Ops" })).await;
    ensure!(status.is_success(), "team: {status} {ops}");
    let ops = ops["id"].as_str().context("team id")?.to_owned();
    ada.add_member(&ops, "bob@example.test", "member").await;
    let (status, side) = ada.post("/api/teams", &json!({ "name": "Side" })).await;
    ensure!(status.is_success(), "team: {status} {side}");
    let side = side["id"].as_str().context("team id")?.to_owned();
    ada.add_member(&side, "bob@example.test", "member").await;

    // Bob has a team of his own too, and is writing a document in ada's.
    let window = Window::launch_in(turn, theme).await?;
    window.sign_in(&relay, "bob").await?;
    let home = window.create_team(&bob, "Home").await?;
    window.until_count("[data-testid=team-switcher] option", 3).await?;
    window.choose("[data-testid=team-switcher]", &ops).await?;
    window.create_document(&bob, &ops, "Runbook", "Restart the queue first").await?;

    // Ada removes him: his window says so, drops the team and opens his own.
    let bob_id = bob.user_id().await;
    let (status, _) = ada.delete(&format!("/api/teams/{ops}/members/{bob_id}")).await;
    ensure!(status.is_success(), "remove: {status}");
    window.until_text("[data-testid=membership-notice]", "no longer a member of “Ops”").await?;
    window.until_count("[data-testid=team-switcher] option", 2).await?;
    let editors = window.all("[data-testid=editor]").await?;
    ensure!(editors.is_empty(), "the removed team's document is still open");
    window.screenshot(&theme.shot("member-removed")).await?;
    // The notice goes when clicked.
    window.click("[data-testid=membership-notice]").await?;
    window.until_count("[data-testid=membership-notice]", 0).await?;

    // Leaving a team himself: another of his teams opens, never none while he has one.
    window.choose("[data-testid=team-switcher]", &side).await?;
    window.until_text("[data-testid=team-switcher]", "Side").await?;
    window.click("[data-testid=nav-members]").await?;
    window.click("[data-testid=leave-team]").await?;
    window.click("[data-testid=confirm-leave]").await?;
    window.until_count("[data-testid=team-switcher] option", 1).await?;
    window.until_value("[data-testid=team-switcher]", &home).await?;
    window.find("[data-testid=nav-chat].active").await?;
    window.close().await
}

async fn walk_through(theme: Theme) -> Result<()> {
    let Teammates { relay: _relay, ada, bob, window, team } = Teammates::open(theme, "Ops").await?;
    let bob_id = bob.user_id().await;
    let (status, _) = ada.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "Old launch" })).await;
    ensure!(status.is_success(), "project: {status}");

    // Members: ada is the only owner, so her row has no controls and says why; bob's has a role menu.
    window.click("[data-testid=nav-members]").await?;
    window.until_count("[data-testid=member]", 2).await?;
    window.until_text("[data-testid=leave-blocked]", "only owner").await?;
    window.click("[data-testid=member-role] option[value=admin]").await?;
    let role_is = async |role: &str| -> Result<bool> {
        let (_, members) = ada.get(&format!("/api/teams/{team}/members")).await;
        Ok(members.as_array().into_iter().flatten().any(|m| m["user_id"] == bob_id.as_str() && m["role"] == role))
    };
    window.until("bob to be admin on the relay", async || Ok(role_is("admin").await?.then_some(()))).await?;
    window.screenshot(&theme.shot("members")).await?;

    // Removing asks first; then bob is gone from the relay and the list.
    window.click("[data-testid=remove-member]").await?;
    window.screenshot(&theme.shot("members-remove")).await?;
    window.click("[data-testid=confirm-remove]").await?;
    window.until_count("[data-testid=member]", 1).await?;
    let (_, members) = ada.get(&format!("/api/teams/{team}/members")).await;
    ensure!(members.as_array().map(Vec::len) == Some(1), "bob is still a member: {members}");

    // A project deleted after confirming.
    window.click("[data-testid=nav-projects]").await?;
    window.until_count("[data-testid=project]", 1).await?;
    window.click("[data-testid=delete-project]").await?;
    window.click("[data-testid=confirm-delete-project]").await?;
    window.until_text("[data-testid=projects] + .empty", "No projects yet").await?;

    // Integrations, under Activity: GitHub connected, its URL and secret shown once with GitHub's steps.
    window.click("[data-testid=nav-activity]").await?;
    window.click("[data-testid=connect-service]").await?;
    window.click("[data-testid=integration-connect]").await?;
    window.until_text("[data-testid=integration-secret]", "Payload URL").await?;
    window.screenshot(&theme.shot("integration-connected")).await?;
    let (_, listed) = ada.get(&format!("/api/teams/{team}/integrations")).await;
    ensure!(listed.as_array().map(Vec::len) == Some(1), "the relay has the integration: {listed}");
    let shown = window
        .script("return [...document.querySelectorAll('[data-testid=integration-secret] input')].map(i => i.value)")
        .await?;
    ensure!(shown[0].as_str() == listed[0]["webhook_url"].as_str(), "the URL shown is the relay's: {shown}");
    ensure!(shown[1].as_str().is_some_and(|secret| secret.len() >= 32), "a secret is shown once: {shown}");
    window.click("[data-testid=integration-done]").await?;
    window.click("[data-testid=integration-failures]").await?;
    window.until_text("[data-testid=failure-list]", "No failed events").await?;
    // The test relay has no public URL: the window says GitHub could not reach it.
    window.until_text("[data-testid=integration-unreachable]", "--public-url").await?;
    window.until_text("[data-testid=integration-delivery]", "Nothing delivered yet").await?;
    window.screenshot(&theme.shot("integrations")).await?;

    // A delivery signed with another secret (the secret pasted wrong at GitHub): the row says so when read again.
    let webhook_url = listed[0]["webhook_url"].as_str().context("webhook url")?;
    let forged =
        deliver(webhook_url, "push", "d-forged", format!("sha256={}", "00".repeat(32)), b"{}".to_vec()).await?;
    ensure!(forged == reqwest::StatusCode::UNAUTHORIZED, "refused: {forged}");
    window.click("[data-testid=nav-projects]").await?;
    window.click("[data-testid=nav-activity]").await?;
    window.until_text("[data-testid=integration-refusing]", "Refusing deliveries").await?;
    window.until_text("[data-testid=integration-delivery]", "signature does not match").await?;
    window.screenshot(&theme.shot("integration-refusing")).await?;

    // More events than a page (53 issues closed, signed with the secret shown) while another section is
    // open: the feed then shows the latest 50 and the rest on asking, and a delivery taken clears the refusal.
    window.click("[data-testid=nav-projects]").await?;
    let secret = shown[1].as_str().context("secret")?;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../relay-server/src/webhooks/fixtures/github-issues.json");
    let mut issue: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture)?)?;
    for number in 1..=53 {
        issue["issue"]["number"] = number.into();
        let body = serde_json::to_vec(&issue)?;
        let signature = teamflow_relay::webhooks::verify::sign::github(secret, &body);
        let delivered = deliver(webhook_url, "issues", &format!("d-{number}"), signature, body).await?;
        ensure!(delivered.is_success(), "issue {number}: {delivered}");
    }
    // Processed after they are acknowledged: the window opens the feed once the relay lists them all.
    window
        .until("the relay to list the 53 events", async || {
            let (_, page) = ada.get(&format!("/api/teams/{team}/activity?limit=100")).await;
            Ok((page["items"].as_array().map(Vec::len) == Some(53)).then_some(()))
        })
        .await?;
    window.click("[data-testid=nav-activity]").await?;
    window.until_text("[data-testid=activity] li:first-child", "issue #53 closed").await?;
    window.until_count("[data-testid=activity] li", 50).await?;
    window.script("document.querySelector('[data-testid=activity-older]').scrollIntoView()").await?;
    window.screenshot(&theme.shot("activity-older")).await?;
    window.click("[data-testid=activity-older]").await?;
    window.until_count("[data-testid=activity] li", 53).await?;
    window.until_text("[data-testid=activity] li:last-child", "issue #1 closed").await?;
    window.until_count("[data-testid=activity-older]", 0).await?;
    window.click("[data-testid=nav-projects]").await?;
    window.click("[data-testid=nav-activity]").await?;
    window.until_text("[data-testid=integration-delivery]", "Last delivery").await?;
    window.until_count("[data-testid=integration-refusing]", 0).await?;
    window.click("[data-testid=integration-remove]").await?;
    window.click("[data-testid=integration-confirm-remove]").await?;
    window
        .until("the integration to be removed", async || {
            let (_, listed) = ada.get(&format!("/api/teams/{team}/integrations")).await;
            Ok((listed.as_array().map(Vec::len) == Some(0)).then_some(()))
        })
        .await?;

    // Settings: rename, then delete only with the exact name typed.
    window.click("[data-testid=nav-settings]").await?;
    // Once the settings are loaded: a re-render after WebDriver's clear would put the old name back.
    window.find("[data-testid=team-settings]").await?;
    window.clear("[data-testid=team-name]").await?;
    window.type_into("[data-testid=team-name]", "Operations").await?;
    window.until_value("[data-testid=team-name]", "Operations").await?;
    window.click("[data-testid=save-team-name]").await?;
    window.until_text("[data-testid=team-switcher]", "Operations").await?;
    window.type_into("[data-testid=delete-team-name]", "operations").await?;
    let disabled = window.script("return document.querySelector('[data-testid=confirm-delete-team]').disabled").await?;
    ensure!(disabled == json!(true), "a wrong name does not arm the delete button");
    window.clear("[data-testid=delete-team-name]").await?;
    window.type_into("[data-testid=delete-team-name]", "Operations").await?;
    window.until_value("[data-testid=delete-team-name]", "Operations").await?;
    window.screenshot(&theme.shot("team-settings")).await?;
    window.click("[data-testid=confirm-delete-team]").await?;
    window.until_text("main .empty", "Create a team to start").await?;
    let (status, _) = ada.get(&format!("/api/teams/{team}")).await;
    ensure!(status == reqwest::StatusCode::NOT_FOUND, "the team is gone from the relay: {status}");
    window.close().await
}

/// Posts `body` to a GitHub integration's webhook URL as GitHub would, with `signature` as its
/// `X-Hub-Signature-256`; answers the relay's status.
async fn deliver(
    url: &str,
    event: &str,
    delivery: &str,
    signature: String,
    body: Vec<u8>,
) -> Result<reqwest::StatusCode> {
    let response = reqwest::Client::new()
        .post(url)
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await?;
    Ok(response.status())
}
