//! Everyone can use it: axe finds no serious or critical violation on any screen (sign-in, chat, projects,
//! documents and the editor, members and the invite dialog, activity with the connect dialog, analytics,
//! settings, the search palette, the shortcuts overlay), in both themes; the keyboard reaches things with a
//! visible focus ring, `?` lists the shortcuts (not while typing) and Alt+digit moves between sections;
//! the theme chosen in Settings is drawn at once and kept for the next start.

use anyhow::{Result, ensure};
use serde_json::json;
use teamflow_tests::TestRelay;

use crate::axe;
use crate::driver::{Theme, Window, turn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe_in_the_light_theme() -> Result<()> {
    every_screen(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_screen_passes_axe_in_the_dark_theme() -> Result<()> {
    every_screen(Theme::Dark).await
}

async fn every_screen(theme: Theme) -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    relay.user("bob").await;
    let window = Window::launch_in(turn, theme).await?;
    window.find("[data-testid=auth-submit]").await?;
    let passed = axe::check(&window, &theme.shot("a11y-sign-in")).await?;
    ensure!(passed > 10, "axe ran only {passed} rules");
    window.sign_in(&relay, "ada").await?;
    window.until_text("main .empty", "Create a team to start").await?;
    axe::check(&window, &theme.shot("a11y-no-team")).await?;
    let team = window.create_team(&ada, "Access").await?;
    ada.add_member(&team, "bob@example.test", "member").await;

    window.until_text("[data-testid=chat-empty]", "No messages yet").await?;
    window.screenshot(&theme.shot("chat-empty")).await?;
    axe::check(&window, &theme.shot("a11y-chat-empty")).await?;
    window.type_into("[data-testid=composer]", "hello everyone").await?;
    window.click("[data-testid=send]").await?;
    window.until_text("[data-testid=message][data-state=sent]", "hello everyone").await?;
    window.screenshot(&theme.shot("chat-avatars")).await?;
    axe::check(&window, &theme.shot("a11y-chat")).await?;

    window.click("[data-testid=nav-projects]").await?;
    window.until_text("[data-testid=projects] + .empty", "Name your first one").await?;
    window.screenshot(&theme.shot("projects-empty")).await?;
    axe::check(&window, &theme.shot("a11y-projects")).await?;

    window.create_document(&ada, &team, "Guide", "Hello").await?;
    axe::check(&window, &theme.shot("a11y-editor")).await?;
    window.click("[data-testid=close-document]").await?;
    window.until_text("[data-testid=document]", "Guide").await?;
    axe::check(&window, &theme.shot("a11y-documents")).await?;

    window.click("[data-testid=nav-members]").await?;
    window.until_count("[data-testid=member]", 2).await?;
    window.until_count("[data-testid=member] [data-testid=avatar]", 2).await?;
    window.screenshot(&theme.shot("members-avatars")).await?;
    axe::check(&window, &theme.shot("a11y-members")).await?;
    window.click("[data-testid=invite-people]").await?;
    window.find("[role=dialog]").await?;
    axe::check(&window, &theme.shot("a11y-invite-dialog")).await?;
    window.press(&["\u{E00C}"]).await?;
    if !window.all("[role=dialog]").await?.is_empty() {
        window.click("[role=dialog] .close").await?;
    }

    window.click("[data-testid=nav-activity]").await?;
    window.find("[data-testid=connect-service]").await?;
    axe::check(&window, &theme.shot("a11y-activity")).await?;
    window.click("[data-testid=connect-service]").await?;
    window.find("[role=dialog]").await?;
    axe::check(&window, &theme.shot("a11y-connect-dialog")).await?;
    window.click("[role=dialog] .close").await?;

    window.click("[data-testid=nav-analytics]").await?;
    window.until_text("[data-testid=chart-messages-summary]", "1 message from").await?;
    axe::check(&window, &theme.shot("a11y-analytics")).await?;

    window.click("[data-testid=nav-settings]").await?;
    window.find("[data-testid=theme-switcher]").await?;
    window.find("[data-testid=team-settings]").await?;
    axe::check(&window, &theme.shot("a11y-settings")).await?;
    window.screenshot(&theme.shot("settings-appearance")).await?;

    window.script("window.dispatchEvent(new KeyboardEvent('keydown', {key: 'k', ctrlKey: true}))").await?;
    window.type_into("[data-testid=search-input]", "everyone").await?;
    window.until_count("[data-testid=search-hit]", 1).await?;
    axe::check(&window, &theme.shot("a11y-search")).await?;
    window.press(&["\u{E00C}"]).await?;
    ensure!(window.all("[data-testid=search-palette]").await?.is_empty(), "Escape closes search");

    // The shortcuts overlay from the keyboard: `?` on the page opens it, Escape closes it.
    window.script("document.activeElement?.blur()").await?;
    window.press(&["?"]).await?;
    window.until_text("[data-testid=shortcuts-help]", "Show these shortcuts").await?;
    window.screenshot(&theme.shot("shortcuts")).await?;
    axe::check(&window, &theme.shot("a11y-shortcuts")).await?;
    window.press(&["\u{E00C}"]).await?;
    ensure!(window.all("[data-testid=shortcuts-help]").await?.is_empty(), "Escape closes the shortcuts");
    window.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_reaches_everything_and_the_theme_is_kept() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let window = Window::launch_with(turn, &Theme::Light.env()).await?;
    window.sign_in(&relay, "ada").await?;
    window.create_team(&ada, "Keys").await?;

    // `?` typed into the composer is text, not a shortcut.
    window.type_into("[data-testid=composer]", "why?").await?;
    window.until_value("[data-testid=composer]", "why?").await?;
    ensure!(window.all("[data-testid=shortcuts-help]").await?.is_empty(), "typing ? opened the shortcuts");

    // Alt+3 goes to Documents, Alt+6 to Analytics.
    window.script("document.activeElement?.blur()").await?;
    window.press(&["\u{E00A}", "3"]).await?;
    window.until_text("[data-testid=documents-empty]", "No documents yet").await?;
    window.press(&["\u{E00A}", "6"]).await?;
    window.find("[data-testid=analytics]").await?;

    // Tab moves focus with a visible ring.
    window.click("[data-testid=range-7]").await?;
    window.press(&["\u{E004}"]).await?;
    let ring = window
        .script("const e = document.activeElement; const s = getComputedStyle(e); return [e.tagName, s.outlineStyle, s.outlineWidth];")
        .await?;
    ensure!(ring[1] != json!("none") && ring[2] != json!("0px"), "no visible focus ring: {ring}");

    // Dark chosen in Settings: drawn at once, and in the settings file the next start reads.
    window.click("[data-testid=nav-settings]").await?;
    window.click("[data-testid=theme-dark]").await?;
    window.until("the dark theme", async || Ok(window.is_dark_now().await?.then_some(()))).await?;
    window.screenshot("settings-theme-dark").await?;
    let settings = window.data_dir().join("settings.json");
    window
        .until("the choice to be saved", async || {
            let saved = std::fs::read_to_string(&settings).unwrap_or_default();
            Ok(saved.contains("\"dark\"").then_some(()))
        })
        .await?;
    window.click("[data-testid=theme-system]").await?;
    window.until("the system theme", async || Ok((!window.is_dark_now().await?).then_some(()))).await?;
    window.close().await
}
