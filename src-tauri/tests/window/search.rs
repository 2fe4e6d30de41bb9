//! Search in the window: Ctrl+K opens the palette from anywhere; a teammate's message heard live and a
//! document made here are found by stem and prefix, matches marked; Enter or a click opens the message in
//! the chat or the document in the editor; nothing found says so; Escape closes. In both themes.

use anyhow::Result;
use serde_json::json;

use crate::driver::Theme;
use crate::teammates::Teammates;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_messages_and_documents_across_teams_and_opens_them() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_search_palette_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

async fn walk_through(theme: Theme) -> Result<()> {
    let Teammates { relay: _relay, ada, bob, window, team } = Teammates::open(theme, "Platform").await?;

    // A teammate's message heard live, and a document made here: both searchable without a refetch.
    let (status, _) = bob
        .post(
            &format!("/api/teams/{team}/messages"),
            &json!({"client_id": "bob-1", "content": "We deployed the billing service last night"}),
        )
        .await;
    assert!(status.is_success());
    window.until_text("[data-testid=message]", "billing service").await?;
    window.create_document(&ada, &team, "Runbook", "Rollback steps").await?;
    window.click("[data-testid=nav-chat]").await?;

    // Ctrl+K opens the palette from anywhere; a stem finds the message, with the match marked.
    window.script("window.dispatchEvent(new KeyboardEvent('keydown', {key: 'k', ctrlKey: true}))").await?;
    window.type_into("[data-testid=search-input]", "deploying").await?;
    let hits = window.until_count("[data-testid=search-hit]", 1).await?;
    // The kind line is upper-cased by CSS, which WebDriver's text follows.
    let shown = window.text_of(&hits[0]).await?.to_lowercase();
    assert!(shown.contains("message · platform") && shown.contains("billing service"), "{shown}");
    let marked = window.script("return document.querySelector('[data-testid=search-hit] mark')?.textContent").await?;
    assert_eq!(marked, json!("deployed"));
    window.screenshot(&theme.shot("search")).await?;

    // Enter opens the message in the chat, marked.
    window.type_into("[data-testid=search-input]", "\u{E007}").await?;
    window.until_text(".message.focused", "billing service").await?;
    assert!(window.all("[data-testid=search-palette]").await?.is_empty(), "the palette closed");

    // A document by its title: Enter opens it in the editor.
    window.click("[data-testid=open-search]").await?;
    window.type_into("[data-testid=search-input]", "runb").await?;
    let hits = window.until_count("[data-testid=search-hit][data-kind=document]", 1).await?;
    window.command(reqwest::Method::POST, &format!("/element/{}/click", hits[0]), Some(json!({}))).await?;
    window.until_editor_text("Rollback steps").await?;

    // Nothing found is said so; Escape closes.
    window.click("[data-testid=open-search]").await?;
    window.type_into("[data-testid=search-input]", "zebra").await?;
    window.until_text("[data-testid=search-empty]", "zebra").await?;
    window.screenshot(&theme.shot("search-empty")).await?;
    window.type_into("[data-testid=search-input]", "\u{E00C}").await?;
    window
        .until("the palette to close", async || {
            Ok(window.all("[data-testid=search-palette]").await?.is_empty().then_some(()))
        })
        .await?;
    window.close().await
}
