//! Projects in the window: open one, set its owner and due date, add and tick tasks, see a teammate's task
//! arrive live, and read the history, where a teammate's concurrent edit that lost stays visible. What the
//! window did is checked on the relay. A change the relay refuses is reviewed from the sync indicator and
//! discarded. In both themes, with a screenshot of each state.

use anyhow::{Result, ensure};
use serde_json::json;
use teamflow_tests::TestRelay;

use crate::driver::{Theme, Window, turn};
use crate::teammates::Teammates;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_gets_an_owner_a_due_date_tasks_and_a_history() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_opened_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

async fn walk_through(theme: Theme) -> Result<()> {
    let Teammates { relay: _relay, ada, bob, window, team } = Teammates::open(theme, "Launch").await?;
    let bob_id = bob.user_id().await;
    let (_, project) = ada.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "Website" })).await;
    let path = format!("/api/teams/{team}/projects/{}", project["id"].as_str().expect("project id"));

    window.click("[data-testid=nav-projects]").await?;
    window.until_text("[data-testid=project]", "Website").await?;
    window.click("[data-testid=open-project]").await?;
    window.find("[data-testid=project-details]").await?;

    // Owner and due date, as a person sets them; a day not in the calendar is refused in the window.
    window.click(&format!("[data-testid=project-owner] option[value='{bob_id}']")).await?;
    window.until_text("[data-testid=project-meta]", "Owner:").await?;
    window.type_into("[data-testid=project-due]", "2027-02-30").await?;
    window.click("[data-testid=save-due]").await?;
    window.until_text("[data-testid=project-error]", "not a day").await?;
    window.clear("[data-testid=project-due]").await?;
    window.type_into("[data-testid=project-due]", "2027-03-31").await?;
    window.until_value("[data-testid=project-due]", "2027-03-31").await?;
    window.click("[data-testid=save-due]").await?;
    window.until_text("[data-testid=project-meta]", "Due 2027-03-31").await?;
    let saved = window
        .until("the owner and due date on the relay", async || {
            let (_, p) = ada.get(&path).await;
            Ok((p["owner_id"] == json!(bob_id) && p["due_date"] == "2027-03-31").then_some(p))
        })
        .await?;
    assert_eq!(saved["name"], "Website", "the other fields are kept");
    window.screenshot(&theme.shot("project-details")).await?;

    // Tasks: added, one ticked; a teammate's task arrives live.
    for title in ["Write the copy", "Pick the fonts"] {
        window.type_into("[data-testid=new-task]", title).await?;
        window.click("[data-testid=add-task]").await?;
        window.until_text("[data-testid=task]", title).await?;
    }
    window.click("[data-testid=task]:first-child [data-testid=task-done]").await?;
    window.until_count("[data-testid=task].done", 1).await?;
    let (status, _) = bob.post(&format!("{path}/tasks"), &json!({ "title": "Review from Bob" })).await;
    assert!(status.is_success());
    window.until_text("[data-testid=task]", "Review from Bob").await?;
    let tasks = window
        .until("the window's tasks on the relay", async || {
            let (_, tasks) = ada.get(&format!("{path}/tasks")).await;
            let list = tasks.as_array().cloned().unwrap_or_default();
            Ok((list.len() == 3 && list.iter().any(|t| t["done"] == true)).then_some(list))
        })
        .await?;
    assert_eq!(tasks[0]["title"], "Write the copy");
    window.screenshot(&theme.shot("project-tasks")).await?;

    // Bob, offline since before ada chose the owner, clears it: his edit loses and stays in the history.
    let (status, answer) = bob
        .patch(
            &path,
            &json!({
                "owner_id": null,
                "base": { "name": 0, "description": 0, "status": 0, "document_id": 0, "owner_id": 0, "due_date": 0 },
                "edited_at": "2026-01-01T00:00:00Z",
            }),
        )
        .await;
    assert_eq!((status.as_u16(), answer["owner_id"].clone()), (200, json!(bob_id)), "{answer}");
    window.until_text("[data-testid=history-entry].lost", "lost to a concurrent one").await?;
    window.until_text("[data-testid=project-meta]", "Owner:").await?;
    window.script("document.querySelector('[data-testid=project-history]').scrollIntoView()").await?;
    window.screenshot(&theme.shot("project-history")).await?;
    window.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_the_relay_refuses_is_reviewed_from_the_sync_indicator_and_discarded() -> Result<()> {
    refused(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_changes_in_the_dark_theme() -> Result<()> {
    refused(Theme::Dark).await
}

/// A member creates a project just after the team was closed to members' projects (the screen, read before,
/// still offers the form): the relay refuses it once delivered. Opened again, the screen no longer offers it.
async fn refused(theme: Theme) -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    relay.user("bob").await;
    let team = ada.create_team("Locked").await;
    ada.add_member(&team, "bob@example.test", "member").await;

    let window = Window::launch_in(turn, theme).await?;
    window.sign_in(&relay, "bob").await?;
    window.until_text("[data-testid=team-switcher]", "Locked").await?;
    window.click("[data-testid=nav-projects]").await?;
    window.find("[data-testid=project-name]").await?;
    let settings = json!({ "description": "", "default_project_status": "active", "members_can_create_projects": false,
        "webhook_payload_retention_days": 30 });
    let (status, body) = ada.put(&format!("/api/teams/{team}/settings"), &settings).await;
    ensure!(status.is_success(), "{body}");
    window.type_into("[data-testid=project-name]", "Side quest").await?;
    window.click("[data-testid=create-project]").await?;
    window.until_text("[data-testid=project]", "Not created").await?;
    window.find("[data-testid=sync-indicator][data-tone=problem]").await?;

    window.click("[data-testid=review-refused]").await?;
    window.until_text("[data-testid=refused-change]", "New project in Locked: Side quest").await?;
    window.screenshot(&theme.shot("refused-changes")).await?;
    window.click("[data-testid=refused-discard]").await?;
    window.find("[data-testid=refused-none]").await?;
    window.click("[data-testid=refused-close]").await?;
    window.find("[data-testid=sync-indicator][data-tone=ok]").await?;
    window.until_count("[data-testid=project]", 0).await?;
    let (_, projects) = ada.get(&format!("/api/teams/{team}/projects")).await;
    ensure!(projects.as_array().is_some_and(Vec::is_empty), "nothing created: {projects}");
    window.click("[data-testid=nav-chat]").await?;
    window.click("[data-testid=nav-projects]").await?;
    window.until_text("[data-testid=create-project-admins-only]", "only owners and admins").await?;
    window.until_count("[data-testid=project-name]", 0).await?;
    window.screenshot(&theme.shot("projects-admins-only")).await?;
    window.close().await?;
    Ok(())
}
