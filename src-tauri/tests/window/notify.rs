//! Being told when one is needed, in the window: a teammate (driving the relay's API) mentions the person in a
//! team not on screen; the team switcher, the window title and the Notifications list show it, and the list
//! opens the conversation, where the mention is highlighted and reading clears the count (on the relay too).
//! The composer offers members on "@" and sends a real mention, of the one picked when two share a name.
//! A read on another device clears the count live; a muted team counts but does not notify. Asked for,
//! every message notifies while the window is in the background, and focusing it opens that chat. In both
//! themes.
//!
//! What is not seen: the OS notification itself (no notification daemon runs under Xvfb, and the plugin
//! reports nothing back). The test checks the decision's visible record, the Notifications list, which is
//! filled by the same call that hands the notification to the plugin. Focus is set by dispatching the
//! window's `focus` event: Xvfb runs no window manager to give it.

use anyhow::{Result, ensure};
use serde_json::{Value, json};
use teamflow_protocol::mentions::mention;
use teamflow_tests::{Client, TestRelay};

use crate::driver::{Theme, Window, turn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_unread_counts_and_notifications_in_the_light_theme() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_unread_counts_and_notifications_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

async fn post(client: &Client, team: &str, client_id: &str, content: &str) -> Value {
    let (status, message) =
        client.post(&format!("/api/teams/{team}/messages"), &json!({"client_id": client_id, "content": content})).await;
    assert!(status.is_success(), "{status}: {message}");
    message
}

async fn walk_through(theme: Theme) -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    // A second "bob": the composer must tell them apart.
    let robert = relay.user("robert").await;
    let (status, renamed) = robert.patch("/api/me", &json!({"display_name": "bob"})).await;
    assert!(status.is_success(), "{status}: {renamed}");
    let (ada_id, bob_id, robert_id) = (ada.user_id().await.parse()?, bob.user_id().await, robert.user_id().await);
    let window = Window::launch_in(turn, theme).await?;
    window.sign_in(&relay, "ada").await?;
    let platform = window.create_team(&ada, "Platform").await?;
    ada.add_member(&platform, "bob@example.test", "member").await;
    ada.add_member(&platform, "robert@example.test", "member").await;
    let studio = window.create_team(&ada, "Studio").await?;
    ada.add_member(&studio, "bob@example.test", "member").await;
    window.script("window.dispatchEvent(new Event('focus'))").await?;

    // Bob mentions ada in Platform while she looks at Studio: counted, titled, notified.
    post(&bob, &platform, "b1", &format!("{} can you review the deploy?", mention(ada_id, "ada"))).await;
    window.until_text("[data-testid=team-switcher]", "Platform (1, 1 @)").await?;
    window.until_page("the title", "return document.title === '(1) TeamFlow';", &[]).await?;
    window.until_text("[data-testid=notices-new]", "1").await?;
    // The closed switcher shows the chosen team; the others' counts are listed under it.
    window.until_text("[data-testid=unread-Platform]", "Platform (1, 1 @)").await?;
    window.screenshot(&theme.shot("notify-unread")).await?;
    window.click("[data-testid=open-notifications]").await?;
    window.until_text("[data-testid=notice]", "bob mentioned you in Platform").await?;
    window.until_text("[data-testid=notice]", "@ada can you review the deploy?").await?;
    window.screenshot(&theme.shot("notify-dialog")).await?;

    // The notice opens the conversation: the mention is highlighted, and reading it clears the count here
    // and on the relay.
    window.click("[data-testid=notice]").await?;
    window.until_text(".message.mentions-me [data-testid=mention-me]", "@ada").await?;
    window
        .until_page(
            "Platform read",
            "return !Array.from(document.querySelector('[data-testid=team-switcher]').options, (o) => o.text).some((t) => t.startsWith('Platform ('));",
            &[],
        )
        .await?;
    window.until_page("the title cleared", "return document.title === 'TeamFlow';", &[]).await?;
    let (_, read) = ada.get(&format!("/api/teams/{platform}/read")).await;
    assert_eq!((read["read_seq"].as_i64(), read["unread"].as_i64()), (Some(1), Some(0)), "{read}");
    window.screenshot(&theme.shot("notify-mention")).await?;

    // "@" offers the team's members, the two named bob with their emails; a pick reads as the name and the
    // email, and the message reaches the relay as a mention of the one picked, under their name.
    window.type_into("[data-testid=composer]", "thanks @bo").await?;
    window.until_text("[data-testid=mention-option]", "robert@example.test").await?;
    window.until_text("[data-testid=mention-option]", "bob@example.test").await?;
    window.screenshot(&theme.shot("notify-autocomplete")).await?;
    window.click(&format!("[data-testid=mention-option][id$='-{robert_id}']")).await?;
    window.until_value("[data-testid=composer]", "thanks @bob (robert@example.test) ").await?;
    window.type_into("[data-testid=composer]", "and @bo").await?;
    window.click(&format!("[data-testid=mention-option][id$='-{bob_id}']")).await?;
    window
        .until_value("[data-testid=composer]", "thanks @bob (robert@example.test) and @bob (bob@example.test) ")
        .await?;
    window.screenshot(&theme.shot("notify-same-names")).await?;
    window.type_into("[data-testid=composer]", "on it\u{E007}").await?;
    // Sent, not only shown: the outbox's pending line shows the mention before the relay has the message.
    window.until_text("[data-testid=message][data-state=sent] [data-testid=mention]", "@bob").await?;
    let (_, page) = bob.get(&format!("/api/teams/{platform}/messages")).await;
    assert_eq!(page["messages"][0]["mentions"], json!([robert_id, bob_id]), "{page}");
    let content =
        format!("thanks {} and {} on it", mention(robert_id.parse()?, "bob"), mention(bob_id.parse()?, "bob"));
    assert_eq!(page["messages"][0]["content"], json!(content));

    // Read on another device: Studio's count clears live.
    post(&bob, &studio, "s1", "standup moved to 10:00").await;
    post(&bob, &studio, "s2", "room 4").await;
    window.until_text("[data-testid=team-switcher]", "Studio (2)").await?;
    window.until_text("[data-testid=unread-Studio]", "Studio (2)").await?;
    let (status, _) = ada.put(&format!("/api/teams/{studio}/read"), &json!({"seq": 2})).await;
    assert!(status.is_success());
    window
        .until_page(
            "Studio read elsewhere",
            "return !Array.from(document.querySelector('[data-testid=team-switcher]').options, (o) => o.text).some((t) => t.startsWith('Studio ('));",
            &[],
        )
        .await?;

    // Muted: Studio still counts a mention, but nothing notifies.
    window.click("[data-testid=open-notifications]").await?;
    window.click("[data-testid=mute-Studio]").await?;
    window
        .until_page("Studio muted", "return document.querySelector('[data-testid=mute-Studio]').checked;", &[])
        .await?;
    window.screenshot(&theme.shot("notify-settings")).await?;
    window.click("[data-testid=close-notifications]").await?;
    post(&bob, &studio, "s3", &format!("{} lunch?", mention(ada_id, "ada"))).await;
    window.until_text("[data-testid=team-switcher]", "Studio (1, 1 @)").await?;
    ensure!(window.all("[data-testid=notices-new]").await?.is_empty(), "a muted team notified");

    // Every message while in the background, when asked for; focusing the window then opens its chat (what
    // a click on the OS notification does on desktops that raise the app).
    window.click("[data-testid=unread-Studio]").await?;
    window.until_text("[data-testid=message]", "lunch?").await?;
    window.click("[data-testid=open-notifications]").await?;
    window.click("[data-testid=every-message]").await?;
    window
        .until_page("every message on", "return document.querySelector('[data-testid=every-message]').checked;", &[])
        .await?;
    window.click("[data-testid=close-notifications]").await?;
    window.script("window.dispatchEvent(new Event('blur'))").await?;
    post(&bob, &platform, "b2", "deploy done").await;
    window.until_text("[data-testid=notices-new]", "1").await?;
    window.until_text("[data-testid=unread-Platform]", "Platform (1)").await?;
    window.script("window.dispatchEvent(new Event('focus'))").await?;
    window.until_text(".message", "deploy done").await?;
    let chosen = window.value_of("[data-testid=team-switcher]").await?;
    ensure!(chosen == platform, "focusing after the notification did not open Platform: {chosen}");
    window.click("[data-testid=open-notifications]").await?;
    window.until_text("[data-testid=notice][data-why=message]", "bob in Platform").await?;
    window.screenshot(&theme.shot("notify-every-message")).await?;
    window.close().await
}
