//! Documents in the window, against a real relay: the empty list says what to do first; a document made
//! here is renamed by a teammate (seen live) and here (seen by the teammate), a blank title is refused
//! before it leaves; deleting offers Undo, which restores it for everyone. A document a teammate deletes
//! while it is open says so, stops taking edits, and is restored from there. Accessibility checked with
//! axe; screenshots in both themes.

use anyhow::{Context, Result, ensure};
use serde_json::json;
use teamflow_tests::{TestRelay, sync_client, text_when};

use crate::axe;
use crate::driver::{Theme, Window, turn};
use crate::teammates::Teammates;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_renamed_deleted_and_restored_from_the_window() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_list_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

async fn walk_through(theme: Theme) -> Result<()> {
    let Teammates { relay: _relay, ada, bob, window, team } = Teammates::open(theme, "Docs").await?;
    let titles = async || -> Vec<String> {
        let (_, list) = bob.get(&format!("/api/teams/{team}/documents")).await;
        list.as_array().into_iter().flatten().filter_map(|d| d["title"].as_str().map(str::to_owned)).collect()
    };

    // Nothing yet: the list says how to start.
    window.click("[data-testid=nav-documents]").await?;
    window.until_text("[data-testid=documents-empty]", "Give your first one a title").await?;
    axe::check(&window, &theme.shot("documents-empty")).await?;
    window.screenshot(&theme.shot("documents-empty")).await?;

    let url = window.create_document(&ada, &team, "Plan", "First steps").await?;
    window.click("[data-testid=close-document]").await?;
    window.until_text("[data-testid=document]", "Plan").await?;

    // Bob renames it through the relay: the window shows it from the room, without a reload.
    let (status, body) =
        bob.patch(&format!("/api/teams/{team}/documents/{url}"), &json!({ "title": "Launch plan" })).await;
    ensure!(status.is_success(), "bob's rename: {status} {body}");
    window.until_text("[data-testid=document]", "Launch plan").await?;

    // A blank title is refused here, with the reason; a real one reaches the relay.
    window.click("[data-testid=rename-document]").await?;
    window.until_value("[data-testid=rename-document-title]", "Launch plan").await?;
    window.clear("[data-testid=rename-document-title]").await?;
    window.type_into("[data-testid=rename-document-title]", "   ").await?;
    window.click("[data-testid=save-document-title]").await?;
    window.until_text("[data-testid=documents-error]", "cannot be empty").await?;
    ensure!(titles().await == ["Launch plan"], "nothing was renamed");
    window.screenshot(&theme.shot("documents-rename")).await?;
    axe::check(&window, &theme.shot("documents-rename")).await?;
    window.clear("[data-testid=rename-document-title]").await?;
    window.type_into("[data-testid=rename-document-title]", "Q1 plan").await?;
    window.until_value("[data-testid=rename-document-title]", "Q1 plan").await?;
    window.click("[data-testid=save-document-title]").await?;
    window.until_text("[data-testid=document]", "Q1 plan").await?;
    window.until("bob to read the new title", async || Ok((titles().await == ["Q1 plan"]).then_some(()))).await?;

    // Delete: gone for bob at once, with an Undo here that brings it back for everyone.
    window.click("[data-testid=delete-document]").await?;
    window.until_text("[data-testid=document-deleted-toast]", "Deleted “Q1 plan”").await?;
    ensure!(titles().await.is_empty(), "the relay still lists it");
    window.until_text("[data-testid=documents-empty]", "No documents yet").await?;
    window.screenshot(&theme.shot("documents-deleted")).await?;
    axe::check(&window, &theme.shot("documents-deleted")).await?;
    window.click("[data-testid=undo-delete-document]").await?;
    window.until_text("[data-testid=document]", "Q1 plan").await?;
    ensure!(titles().await == ["Q1 plan"], "the restore reached the relay");
    // The toast goes once the restore answers (the room's document_updated may show the entry before that).
    window
        .until_page("the toast to go", "return !document.querySelector('[data-testid=document-deleted-toast]');", &[])
        .await?;

    // Deleted again and the toast let go: Recently deleted still finds it, and Restore brings it back.
    window.click("[data-testid=delete-document]").await?;
    window.until_text("[data-testid=document-deleted-toast]", "Undo brings it back").await?;
    window.click("[data-testid=document-deleted-toast] button[aria-label=Dismiss]").await?;
    window.click("[data-testid=show-deleted]").await?;
    window.until_text("[data-testid=deleted-document]", "Q1 plan").await?;
    window.until_text("[data-testid=deleted-document]", "by ada; kept until").await?;
    window.screenshot(&theme.shot("documents-recently-deleted")).await?;
    axe::check(&window, &theme.shot("documents-recently-deleted")).await?;
    window.click("[data-testid=restore-deleted]").await?;
    window.until_text("[data-testid=document]", "Q1 plan").await?;
    window.until_count("[data-testid=deleted-document]", 0).await?;
    ensure!(titles().await == ["Q1 plan"], "the restore reached the relay");

    // And the restored document opens with its text.
    window.click("[data-testid=open-document]").await?;
    window.until_editor_text("First steps").await?;
    window.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_deleted_by_a_teammate_while_open_says_so_and_is_restored() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let window = Window::launch(turn).await?;
    window.sign_in(&relay, "ada").await?;
    let team = window.create_team(&ada, "Docs").await?;
    ada.add_member(&team, "bob@example.test", "admin").await;
    let url = window.create_document(&ada, &team, "Budget", "Numbers for Q1").await?;

    let (status, body) = bob.delete(&format!("/api/teams/{team}/documents/{url}")).await;
    ensure!(status.is_success(), "bob deletes it: {body}");
    window.until_text("[data-testid=document-gone]", "“Budget” was deleted by a teammate").await?;
    window.find("[data-testid=editor][contenteditable=false]").await?;
    window.screenshot_and_dark("document-deleted-while-open").await?;

    window.click("[data-testid=restore-gone-document]").await?;
    window.until_count("[data-testid=document-gone]", 0).await?;
    window.find("[data-testid=editor][contenteditable=true]").await?;
    window.type_into("[data-testid=editor]", " and Q2").await?;
    let (_, list) = bob.get(&format!("/api/teams/{team}/documents")).await;
    ensure!(list.as_array().is_some_and(|l| l.iter().any(|d| d["title"] == "Budget")), "restored for everyone: {list}");
    // Editing works again: what ada types reaches bob.
    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob opens it")?;
    text_when(&handle, |t| t.contains("and Q2")).await;
    window.close().await?;
    Ok(())
}
