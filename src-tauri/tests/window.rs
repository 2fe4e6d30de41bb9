//! End to end in a real window: the built app under Xvfb, driven through WebDriver (tauri-driver over
//! WebKitWebDriver), against a real relay on loopback. A teammate acts through the relay's API and a
//! sync client, so what the window shows is checked against what others see, both ways.

#[path = "window/a11y.rs"]
mod a11y;
#[path = "window/account.rs"]
mod account;
#[path = "window/analytics.rs"]
mod analytics;
#[path = "support/axe.rs"]
mod axe;
#[path = "window/deep_links.rs"]
mod deep_links;
#[path = "window/documents.rs"]
mod documents;
#[path = "support/driver.rs"]
mod driver;
#[path = "window/editor.rs"]
mod editor;
#[path = "window/export.rs"]
mod export;
#[path = "window/invitations.rs"]
mod invitations;
#[path = "window/notify.rs"]
mod notify;
#[path = "window/projects.rs"]
mod projects;
#[path = "window/search.rs"]
mod search;
#[path = "window/team.rs"]
mod team;
#[path = "support/teammates.rs"]
mod teammates;

use anyhow::{Context, Result};
use driver::{Theme, Window, turn};
use futures::StreamExt as _;
use serde_json::{Value, json};
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{TestRelay, sync_client, text_when, within};
use teammates::Teammates;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_chats_plans_and_writes_with_a_teammate() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let window = Window::launch(turn).await?;

    // A wrong password is refused with the relay's reason, and nothing else happens.
    window.type_into("[data-testid=relay-url]", &relay.url("")).await?;
    window.type_into("[data-testid=email]", "ada@example.test").await?;
    window.type_into("[data-testid=password]", "not her password").await?;
    window.click("[data-testid=auth-submit]").await?;
    window.until_text("[data-testid=auth-error]", "").await?;
    let refusal = window.text_of(&window.find("[data-testid=auth-error]").await?).await?;
    assert!(!refusal.is_empty(), "a refused sign-in says why");

    // The right one opens the workspace.
    window.clear("[data-testid=password]").await?;
    window.type_into("[data-testid=password]", "correct horse battery").await?;
    window.click("[data-testid=auth-submit]").await?;
    window.find("[data-testid=team-switcher]").await?;

    // A team made in the window exists on the relay; bob joins it there.
    let team = window.create_team(&ada, "Launch").await?;
    ada.add_member(&team, "bob@example.test", "member").await;

    // Chat: ada's message reaches bob; bob's reaches the window live.
    window.type_into("[data-testid=composer]", "hello from the window").await?;
    window.click("[data-testid=send]").await?;
    window.until_text("[data-testid=message][data-state=sent]", "hello from the window").await?;
    let (_, page) = bob.get(&format!("/api/teams/{team}/messages")).await;
    assert!(page.to_string().contains("hello from the window"), "bob sees ada's message: {page}");
    let (status, _) = bob
        .post(&format!("/api/teams/{team}/messages"), &json!({"client_id": "bob-1", "content": "hi ada, bob here"}))
        .await;
    assert!(status.is_success());
    window.until_text("[data-testid=message]", "hi ada, bob here").await?;

    // Members, opened after the room was joined: ada's own device shows her online, bob (no device) not.
    window.click("[data-testid=nav-members]").await?;
    window.until_text("[data-testid=member]:has(.presence.on)", "ada@example.test").await?;
    window.until_text("[data-testid=member]:has(.presence.off)", "bob@example.test").await?;

    // Projects: made in the window, listed for bob, renamed live in his team room.
    let mut room = RoomSocket::connect(&relay.url(""), bob.token.as_deref().context("bob is signed in")?).await;
    room.join(&team).await;
    window.click("[data-testid=nav-projects]").await?;
    window.type_into("[data-testid=project-name]", "Website relaunch").await?;
    window.click("[data-testid=create-project]").await?;
    window.until_text("[data-testid=project]", "Website relaunch").await?;
    let (_, projects) = bob.get(&format!("/api/teams/{team}/projects")).await;
    assert!(projects.to_string().contains("Website relaunch"), "bob sees the project: {projects}");
    window.click("[data-testid=edit-project]").await?;
    window.clear("[data-testid=edit-project-name]").await?;
    window.type_into("[data-testid=edit-project-name]", "Website relaunch 2027").await?;
    window.until_value("[data-testid=edit-project-name]", "Website relaunch 2027").await?;
    window.click("[data-testid=save-project]").await?;
    window.until_text("[data-testid=project]", "Website relaunch 2027").await?;
    // The window shows the new name before its outbox delivers it: the relay has it when bob hears of it.
    loop {
        let name = room.next_of("project_updated").await["project"]["name"].clone();
        // Shown if the test fails: a name other than the one typed is the field's state, not the relay.
        eprintln!("bob's room: project_updated with the name {name}");
        if name == "Website relaunch 2027" {
            break;
        }
    }
    drop(room);

    // Settings: an owner's change is saved on the relay.
    window.click("[data-testid=nav-settings]").await?;
    window.type_into("[data-testid=team-description]", "We ship the website").await?;
    window.click("[data-testid=save-settings]").await?;
    window.find("[data-testid=settings-saved]").await?;
    let (_, settings) = bob.get(&format!("/api/teams/{team}/settings")).await;
    assert_eq!(settings["description"], "We ship the website");

    // A document typed in the window syncs to bob; bob's edit shows in the window without losing ada's.
    let url = window.create_document(&bob, &team, "Plan", "Hello team").await?;
    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob can open the document")?;
    text_when(&handle, |t| t == "Hello team").await;
    teamflow_sync::splice_text(&handle, 0, 0, "Bob: ")?;
    window.until_editor_text("Bob: Hello team").await?;
    // Ada keeps typing at the end: her caret stayed after her own text, so this lands after "team".
    window.type_into("[data-testid=editor]", "!").await?;
    text_when(&handle, |t| t == "Bob: Hello team!").await;

    let shot = window.screenshot("editor").await?;
    assert!(std::fs::metadata(&shot)?.len() > 1000, "a real screenshot at {shot}");

    // Signing out returns to the sign-in form, which remembers the relay.
    window.sign_out().await?;
    let remembered = window.script("return document.querySelector('[data-testid=relay-url]').value").await?;
    assert_eq!(remembered, json!(relay.url("")));
    window.close().await?;
    Ok(())
}

/// A chat with more history than a screen opens where what was not read begins ("New"), and at its newest
/// message once read, under a divider naming the day; a half-written message survives going to another
/// section and back; Shift+Enter starts a new line of the message and Enter sends it whole; a message is
/// edited in place and deleted after a question, and a teammate's edit shows live; a teammate's reaction
/// shows live, and one picked or joined here reaches the relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_opens_at_its_newest_message_keeps_a_draft_and_sends_lines() -> Result<()> {
    let Teammates { relay: _relay, ada, bob, window, team } = Teammates::open(Theme::Light, "Longtalk").await?;
    window.click("[data-testid=nav-projects]").await?;
    for n in 1..=60 {
        let body = json!({ "client_id": format!("bob-{n}"), "content": format!("line {n} of the backlog") });
        let (status, _) = bob.post(&format!("/api/teams/{team}/messages"), &body).await;
        assert!(status.is_success(), "message {n}: {status}");
    }

    window.click("[data-testid=nav-chat]").await?;
    window.until_text("[data-testid=message]:last-child", "line 60 of the backlog").await?;
    window.until_text("[data-testid=day]", "Today").await?;
    // All sixty unread: the chat opens where they begin, "New" at the top of what shows.
    window.until_text("[data-testid=new-messages] + [data-testid=message]", "line 1 of the backlog").await?;
    let new_from_top = "const l = document.querySelector('[data-testid=messages]'); \
                        const n = document.querySelector('[data-testid=new-messages]'); \
                        return n.getBoundingClientRect().top - l.getBoundingClientRect().top";
    window
        .until("\"New\" at the top of the list", async || {
            let top = window.script(new_from_top).await?.as_f64().unwrap_or(f64::MAX);
            Ok((0.0..120.0).contains(&top).then_some(()))
        })
        .await?;
    window.screenshot_and_dark("chat-new-messages").await?;

    // Read now: the chat opens at its newest message, with nothing marked new.
    window
        .until("ada's read state at the newest", async || {
            let (_, state) = ada.get(&format!("/api/teams/{team}/read")).await;
            Ok((state["read_seq"] == 60).then_some(()))
        })
        .await?;
    window.click("[data-testid=nav-projects]").await?;
    window.click("[data-testid=nav-chat]").await?;
    window.until_text("[data-testid=message]:last-child", "line 60 of the backlog").await?;
    window.until_count("[data-testid=new-messages]", 0).await?;
    let from_bottom = "const l = document.querySelector('[data-testid=messages]'); \
                       return [l.scrollHeight - l.scrollTop - l.clientHeight, l.scrollHeight - l.clientHeight]";
    window
        .until("the chat at its newest message", async || {
            let at = window.script(from_bottom).await?;
            // It has more than a screen to scroll, and is scrolled to its end.
            Ok((at[1].as_f64().unwrap_or(0.0) > 200.0 && at[0].as_f64().unwrap_or(f64::MAX) < 2.0).then_some(()))
        })
        .await?;
    // Bob's sixty lines, written one after another, are one run: his name once, above the first.
    let names = window
        .script(
            "const rows = [...document.querySelectorAll('[data-testid=message]')];
             return [rows.length, rows.filter((r) => r.querySelector('.author:not(.visually-hidden)')).length,
                     rows.filter((r) => r.classList.contains('continued')).length]",
        )
        .await?;
    let (rows, named, continued) = (names[0].as_u64(), names[1].as_u64(), names[2].as_u64());
    anyhow::ensure!(
        rows >= Some(50) && named == Some(1) && continued == rows.map(|n| n - 1),
        "one run of bob's: {names}"
    );
    window.screenshot_and_dark("chat-newest").await?;
    // A line within the run shows its time with its actions, as on hover, when Tab reaches them.
    window.script("document.querySelector('[data-testid=message][data-seq=\"58\"] [data-testid=delete-message]').focus(); return true").await?;
    let shown = "const actions = document.querySelector('[data-testid=message][data-seq=\"58\"] .message-actions'); \
                 return [getComputedStyle(actions).opacity, actions.querySelector('time')?.textContent ?? '']";
    window
        .until("line 58's time shown", async || {
            let shown = window.script(shown).await?;
            Ok((shown[0] == "1" && shown[1].as_str().is_some_and(|t| t.contains(':'))).then_some(()))
        })
        .await?;
    window.screenshot_and_dark("chat-run-time").await?;
    window.script("document.activeElement.blur(); return true").await?;

    window.type_into("[data-testid=composer]", "half a thought").await?;
    window.click("[data-testid=nav-projects]").await?;
    window.click("[data-testid=nav-chat]").await?;
    window.until_value("[data-testid=composer]", "half a thought").await?;

    // Shift (U+E008) held for Enter (U+E007), released when the keys end: a new line; then Enter sends.
    window.clear("[data-testid=composer]").await?;
    window.type_into("[data-testid=composer]", "first line\u{E008}\u{E007}").await?;
    window.type_into("[data-testid=composer]", "second line").await?;
    window.until_value("[data-testid=composer]", "first line\nsecond line").await?;
    window.type_into("[data-testid=composer]", "\u{E007}").await?;
    window.until_text("[data-testid=message][data-state=sent]", "second line").await?;
    let (_, page) = bob.get(&format!("/api/teams/{team}/messages")).await;
    let newest = page["messages"].as_array().and_then(|m| m.first()).context("a message")?;
    assert_eq!(newest["content"], "first line\nsecond line", "one message of two lines");

    // Arrow up (U+E013) in the empty composer edits that message in place; Enter saves it.
    window.type_into("[data-testid=composer]", "\u{E013}").await?;
    window.until_value("[data-testid=edit-message-text]", "first line\nsecond line").await?;
    window.screenshot_and_dark("chat-editing").await?;
    window.clear("[data-testid=edit-message-text]").await?;
    window.type_into("[data-testid=edit-message-text]", "one line, edited").await?;
    window.type_into("[data-testid=edit-message-text]", "\u{E007}").await?;
    window.until_text("[data-testid=message]:has([data-testid=message-edited])", "one line, edited").await?;
    let edited = window
        .until("bob reading the edit", async || {
            let (_, page) = bob.get(&format!("/api/teams/{team}/messages?limit=1")).await;
            let message = page["messages"][0].clone();
            Ok((message["content"] == "one line, edited").then_some(message))
        })
        .await?;
    assert!(edited["edited_at"].is_string(), "{edited}");

    // Bob rewords and then deletes one of his own: the window shows each as it happens.
    let (_, page) = bob.get(&format!("/api/teams/{team}/messages?limit=2")).await;
    let line_60 = format!("/api/teams/{team}/messages/{}", page["messages"][1]["id"].as_str().context("id")?);
    let (status, _) = bob.patch(&line_60, &json!({ "content": "line 60, reworded" })).await;
    assert!(status.is_success());
    window.until_text("[data-testid=message]:has([data-testid=message-edited])", "line 60, reworded").await?;
    // Ada, the owner, deletes another of bob's after saying yes.
    let line_59 = "[data-testid=message][data-seq=\"59\"]";
    window.click(&format!("{line_59} [data-testid=delete-message]")).await?;
    window.find(&format!("{line_59} [data-testid=confirm-delete-message]")).await?;
    window.screenshot_and_dark("chat-delete-asks").await?;
    window.click(&format!("{line_59} [data-testid=confirm-delete-message]")).await?;
    window.until_text(&format!("{line_59} [data-testid=message-deleted]"), "This message was deleted.").await?;
    window
        .until("the relay holding the deletion", async || {
            let (_, page) = bob.get(&format!("/api/teams/{team}/messages?limit=4")).await;
            let deleted =
                page["messages"].as_array().is_some_and(|m| m.iter().any(|m| m["seq"] == 59 && m["deleted"] == true));
            Ok(deleted.then_some(()))
        })
        .await?;
    window.screenshot_and_dark("chat-edited-and-deleted").await?;

    // A link in a message is a link (opened in the system browser, not followed here: Vitest covers the click),
    // and its light formatting is drawn, not its asterisks and backquotes.
    let body = json!({
        "client_id": "bob-link",
        "content": "The fix is in https://example.com/pr/12, see docs.example.org. **Restart** the `queue` first:\n```\nsystemctl restart queue\n  --now\n```"
    });
    let (status, _) = bob.post(&format!("/api/teams/{team}/messages"), &body).await;
    assert!(status.is_success(), "{status}");
    window.until_count("[data-testid=message-link]", 2).await?;
    let hrefs = window
        .script(
            "return [...document.querySelectorAll('[data-testid=message-link]')].map((a) => a.getAttribute('href'))",
        )
        .await?;
    assert_eq!(hrefs, json!(["https://example.com/pr/12", "http://docs.example.org"]));
    let drawn = window
        .script(
            "const m = [...document.querySelectorAll('[data-testid=message]')].at(-1);
             return [m.querySelector('strong')?.textContent, m.querySelector('p code')?.textContent, m.querySelector('pre code')?.textContent]",
        )
        .await?;
    assert_eq!(drawn, json!(["Restart", "queue", "systemctl restart queue\n  --now"]));
    window.screenshot_and_dark("chat-link").await?;

    // Reactions: bob's shows on the message as a chip; ada picks one of her own and joins bob's.
    let (_, page) = bob.get(&format!("/api/teams/{team}/messages?limit=1")).await;
    let link_id = page["messages"][0]["id"].as_str().context("id")?.to_owned();
    let reactions = format!("/api/teams/{team}/messages/{link_id}/reactions");
    let (status, _) = bob.put(&reactions, &json!({ "emoji": "🎉", "on": true })).await;
    assert!(status.is_success(), "{status}");
    let last = "[data-testid=message]:last-child";
    window.until_text(&format!("{last} [data-testid=reaction] .emoji"), "🎉").await?;
    window.until_text(&format!("{last} [data-testid=reaction] .count"), "1").await?;
    // The chat was at its newest message, and stays there as it grows: the reaction is in view.
    let in_view = format!(
        "const l = document.querySelector('[data-testid=messages]').getBoundingClientRect(); \
         const c = document.querySelector('{last} [data-testid=reactions]').getBoundingClientRect(); \
         return c.bottom <= l.bottom + 1"
    );
    window
        .until("the reaction in view", async || Ok((window.script(&in_view).await? == json!(true)).then_some(())))
        .await?;
    window.click(&format!("{last} [data-testid=react]")).await?;
    window.find(&format!("{last} [data-testid=reaction-picker]")).await?;
    window.screenshot_and_dark("chat-reaction-picker").await?;
    window.click(&format!("{last} [data-testid=pick-reaction]")).await?;
    window.click(&format!("{last} [data-testid=reaction]")).await?;
    window.until_count(&format!("{last} [data-testid=reaction][aria-pressed=true]"), 2).await?;
    // What the chips settle on: while ada's two reactions travel, a copy of the message given to the window
    // can show one of them without bob's for a moment (CI once read "🎉 1", pressed); not explained yet.
    let chips =
        format!("return [...document.querySelectorAll('{last} [data-testid=reaction]')].map((c) => c.textContent)");
    window
        .until("bob's and ada's reactions on the chips", async || {
            Ok((window.script(&chips).await? == json!(["🎉 2", "👍 1"])).then_some(()))
        })
        .await?;
    window
        .until("the relay holding ada's reactions", async || {
            let (_, page) = bob.get(&format!("/api/teams/{team}/messages?limit=1")).await;
            let held = page["messages"][0]["reactions"].clone();
            let counts: Vec<_> = held
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| (r["emoji"].clone(), r["user_ids"].as_array().map(Vec::len)))
                .collect();
            Ok((counts == [(json!("🎉"), Some(2)), (json!("👍"), Some(1))]).then_some(()))
        })
        .await?;
    window.script("document.activeElement.blur(); return true").await?;
    window.screenshot_and_dark("chat-reactions").await?;

    // The window never leaves the app, whatever asks it to (here the page itself): the chat still hears bob.
    window.script("window.location.href = 'https://example.com/'; return true").await?;
    let (status, _) = bob
        .post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "bob-after", "content": "still here?" }))
        .await;
    assert!(status.is_success(), "{status}");
    window.until_text("[data-testid=message]:last-child", "still here?").await?;
    let at = window.script("return window.location.href").await?;
    assert!(at.as_str().is_some_and(|href| !href.contains("example.com")), "the window stayed on the app: {at}");
    window.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_written_offline_waits_visibly_and_goes_out_when_the_relay_returns() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let window = Window::launch(turn).await?;
    window.sign_in(&relay, "ada").await?;
    let team = window.create_team(&ada, "Offline").await?;
    window.find("[data-testid=sync-indicator][data-tone=ok]").await?;

    let addr = relay.addr;
    let dir = relay.stop().await;
    window.find("[data-testid=sync-indicator]:not([data-tone=ok])").await?;
    window.type_into("[data-testid=composer]", "written on the train").await?;
    window.click("[data-testid=send]").await?;
    window.until_text("[data-testid=message][data-state=pending]", "written on the train").await?;
    // Signing out now would lose the message: the app says so, and staying keeps it.
    window.click("[data-testid=sign-out]").await?;
    window.until_text("[data-testid=sign-out-unsent]", "1 change not sent.").await?;
    window.screenshot_and_dark("sign-out-unsent").await?;
    window.click("[data-testid=sign-out-stay]").await?;
    window.until_count("[data-testid=sign-out-confirm]", 0).await?;
    window.find("[data-testid=message][data-state=pending]").await?;

    let relay = TestRelay::start_again(dir, addr).await;
    window.until_text("[data-testid=message][data-state=sent]", "written on the train").await?;
    window.find("[data-testid=sync-indicator][data-tone=ok]").await?;
    let (_, page) = ada.get(&format!("/api/teams/{team}/messages")).await;
    let delivered = page["messages"].as_array().map_or(0, |m| m.len());
    assert_eq!(delivered, 1, "delivered exactly once: {page}");
    window.close().await?;
    drop(relay);
    Ok(())
}

/// Opening the app with no network (on a train): the team's chat reads from the cache, nothing on screen says
/// something failed, and once the relay answers the room is joined by itself, so a teammate's message shows
/// live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_opened_offline_joins_the_team_room_once_the_relay_answers() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let window = Window::launch(turn).await?;
    window.sign_in(&relay, "ada").await?;
    let team = window.create_team(&ada, "Train").await?;
    let bob = relay.user("bob").await;
    ada.add_member(&team, "bob@example.test", "member").await;
    window.type_into("[data-testid=composer]", "before the tunnel").await?;
    window.click("[data-testid=send]").await?;
    window.until_text("[data-testid=message][data-state=sent]", "before the tunnel").await?;

    let addr = relay.addr;
    let dir = relay.stop().await;
    let window = window.restart(&[]).await?;
    // The chat opened (and with it the team's room was asked for) while the relay cannot be reached.
    window.until_text("[data-testid=message][data-state=sent]", "before the tunnel").await?;
    window.find("[data-testid=sync-indicator]:not([data-tone=ok])").await?;

    let relay = TestRelay::start_again(dir, addr).await;
    window.find("[data-testid=sync-indicator][data-tone=ok]").await?;
    let (status, _) = bob
        .post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "b1", "content": "out of the tunnel?" }))
        .await;
    assert!(status.is_success(), "bob's message is accepted: {status}");
    window.until_text("[data-testid=message][data-state=sent]", "out of the tunnel?").await?;
    let alerts = window.script("return document.querySelectorAll('[role=alert]').length").await?;
    assert_eq!(alerts, json!(0), "being offline when the app opened is not reported as a failure");
    window.screenshot("opened-offline-then-live").await?;
    window.close().await?;
    drop(relay);
    Ok(())
}

/// A screen that only the relay can fill (the team's settings, never fetched on this device: nothing else
/// reads them) says so offline, and fills itself once the relay answers, while the person stays on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_not_available_offline_fills_once_the_relay_answers() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let window = Window::launch(turn).await?;
    window.sign_in(&relay, "ada").await?;
    window.create_team(&ada, "Train").await?;

    let addr = relay.addr;
    let dir = relay.stop().await;
    let window = window.restart(&[]).await?;
    window.click("[data-testid=nav-settings]").await?;
    window.until_text("[role=alert]", "Not available offline yet").await?;
    window.painted().await?;
    window.screenshot("settings-offline").await?;

    let relay = TestRelay::start_again(dir, addr).await;
    window.find("[data-testid=team-settings]").await?;
    let alerts = window.script("return document.querySelectorAll('[role=alert]').length").await?;
    assert_eq!(alerts, json!(0), "the offline notice goes once the settings are read");
    window.painted().await?;
    window.screenshot("settings-back-online").await?;
    window.close().await?;
    drop(relay);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teammates_cursor_shows_by_name_and_history_shows_an_earlier_version() -> Result<()> {
    let Teammates { relay, ada: _, bob, window, team } = Teammates::open(Theme::Light, "Writers").await?;
    let url = window.create_document(&bob, &team, "Essay", "first draft").await?;

    // Bob opens it with his cursor selecting "first".
    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob opens it")?;
    text_when(&handle, |t| t == "first draft").await;
    let me = teamflow_sync::Presence {
        user_id: bob.user_id().await.parse()?,
        peer_id: bob_sync.peer_id().to_string(),
        // Whatever name a client claims, the relay stamps presence with the account's display name.
        name: "Mallory".into(),
        color: "#3cb44b".into(),
        cursor: Some(teamflow_sync::Cursor { anchor: 0, head: 5 }),
    };
    let _presence = teamflow_sync::PresenceSession::join(&handle, me, teamflow_sync::PresenceConfig::default());
    window.until_text("[data-testid=remote-caret]", "bob").await?;
    window.until_text("[data-testid=peers]", "bob").await?;
    let carets = window.text_of(&window.find("[data-testid=remote-caret]").await?).await?;
    assert!(!carets.contains("Mallory"), "a claimed name never shows: {carets}");

    // Bob adds to the end, where ada's caret is: his text goes after her caret, so her typing continues
    // before it. History then has four versions: the document made empty by ada's node, her draft typed in
    // the window (a device of its own to Automerge), bob's addition, ada's addition; each names its author.
    teamflow_sync::splice_text_by(&handle, 11, 0, " (bob)", Some(&bob.user_id().await))?;
    window.until_editor_text("first draft (bob)").await?;
    window.type_into("[data-testid=editor]", " and more").await?;
    text_when(&handle, |t| t == "first draft and more (bob)").await;
    window.click("[data-testid=history]").await?;
    let versions = window.until_count("[data-testid=history-list] button", 4).await?;
    let whose = window
        .script("return [...document.querySelectorAll('[data-testid=history-list] .marker')].map(m => m.textContent.split(' · ')[1])")
        .await?;
    assert_eq!(whose, json!(["You", "bob", "You", "You"]), "versions name people, not devices");
    // Newest first: the middle one is the document right after bob's addition.
    window.command(reqwest::Method::POST, &format!("/element/{}/click", versions[1]), Some(json!({}))).await?;
    window.until_text("[data-testid=past-editor]", "first draft (bob)").await?;
    let past = window.text_of(&window.find("[data-testid=past-editor]").await?).await?;
    assert_eq!(past, "first draft (bob)");
    window.screenshot("editor-history").await?;
    // Copy as Markdown takes the version on screen, not the live one hidden behind it.
    window.click("[data-testid=copy-markdown]").await?;
    window.until_text("[data-testid=copied]", "Copied as Markdown (the version shown).").await?;
    window.click("[data-testid=open-search]").await?;
    window.paste_into("[data-testid=search-input]").await?;
    window.until_value("[data-testid=search-input]", "first draft (bob)").await?;
    window.press(&["\u{E00C}"]).await?;
    window.until_count("[data-testid=search-palette]", 0).await?;
    assert_eq!(editor_text_after_back(&window).await?, json!("first draft and more (bob)"));

    // Opened again, not yet entered: her node shows her on the document without a caret (not one at the
    // start that she never placed), and bob's edit arriving in her window shares none; the first caret she
    // shares is where she clicks (the paragraph's middle, past its end: not the start).
    window.click("[data-testid=close-document]").await?;
    let mut heard = Box::pin(teamflow_sync::Presence::stream(&handle));
    window.click("[data-testid=open-document]").await?;
    window.until_editor_text("first draft and more (bob)").await?;
    teamflow_sync::splice_text(&handle, 0, 0, "Re: ")?;
    window.until_editor_text("Re: first draft and more (bob)").await?;
    window.click("[data-testid=editor] p").await?;
    // Her presence from the reopening first (no caret: this is what tells it from the last session's),
    // then the first caret she shares.
    let first_caret = within("ada's first caret", async {
        let mut reopened = false;
        loop {
            let presence = heard.next().await.expect("presence goes on");
            match presence.cursor {
                None => reopened = true,
                Some(cursor) if reopened => break cursor,
                Some(_) => {}
            }
        }
    })
    .await;
    // In text indices, where the paragraph's block marker counts as one: the start is 0 or 1.
    assert!(first_caret.head > 1, "the first caret ada shares is where she clicked, not the start: {first_caret:?}");
    window.close().await?;
    Ok(())
}

/// Leaves the past version and answers the live editor's text.
async fn editor_text_after_back(window: &Window) -> Result<Value> {
    window.click("[data-testid=past-version] button").await?;
    window.find("[data-testid=editor]").await?;
    window.editor_text().await
}

/// A relay with a private certificate: without its CA the sign-in form says the certificate is not trusted
/// (not that the relay is offline); with `TEAMFLOW_CA_CERT` naming the CA, the same sign-in works over HTTPS
/// and WSS, and the sync indicator goes online.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_a_private_certificate_is_trusted_only_with_its_ca() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start_tls().await;
    relay.user("ada").await;
    let ca = relay.ca().context("the test made a CA")?;
    let ca_file = tempfile::NamedTempFile::new()?;
    std::fs::write(ca_file.path(), ca.pem())?;

    let window = Window::launch(turn).await?;
    window.type_into("[data-testid=relay-url]", &relay.url("")).await?;
    window.type_into("[data-testid=email]", "ada@example.test").await?;
    window.type_into("[data-testid=password]", "correct horse battery").await?;
    window.click("[data-testid=auth-submit]").await?;
    window.until_text("[data-testid=auth-error]", "certificate is not trusted").await?;
    window.screenshot("certificate-refused").await?;
    let turn = window.close_keeping_turn().await?;

    let window = Window::launch_with(turn, &[("TEAMFLOW_CA_CERT", ca_file.path().as_os_str())]).await?;
    window.type_into("[data-testid=relay-url]", &relay.url("")).await?;
    window.type_into("[data-testid=email]", "ada@example.test").await?;
    window.type_into("[data-testid=password]", "correct horse battery").await?;
    window.click("[data-testid=auth-submit]").await?;
    window.find("[data-testid=team-switcher]").await?;
    window.find("[data-testid=sync-indicator][data-tone=ok]").await?;
    window.close().await?;
    Ok(())
}

/// The window's web process ending (a crash, or the system taking its memory back) does not leave the
/// window frozen on its last frame until the app is restarted: the page loads again, at the screen the app
/// starts on (the team's chat, signed in: the session is the node's), not the one it was frozen on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_whose_web_process_ends_is_drawn_again_signed_in() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let window = Window::launch(turn).await?;
    window.sign_in(&relay, "ada").await?;
    window.create_team(&ada, "Night shift").await?;
    window.type_into("[data-testid=composer]", "before the crash").await?;
    window.click("[data-testid=send]").await?;
    window.until_text("[data-testid=message][data-state=sent]", "before the crash").await?;
    // On a screen the app does not start on, so the page loaded again is told from the frozen frame.
    window.click("[data-testid=nav-settings]").await?;
    window.find("[data-testid=theme-switcher]").await?;
    let frozen = window.screenshot("web-process-before").await?;

    let ended: Vec<u32> = window
        .app_processes()
        .into_iter()
        .filter(|(_, name, _)| name.starts_with("WebKitWebProces"))
        .map(|(pid, _, _)| pid)
        .collect();
    anyhow::ensure!(!ended.is_empty(), "the window's web process was not found");
    for &pid in &ended {
        let killed = std::process::Command::new("kill").args(["-KILL", &pid.to_string()]).status()?;
        anyhow::ensure!(killed.success(), "the web process {pid} could not be ended");
    }

    // WebKit's driver ends its session with the page (it was written for browsers, which show an error
    // page), so the page drawn again is seen from outside it: a web process of the app's own starts again
    // for it, and the screen changes from the frozen Settings to the chat (`window-web-process-ended.png`).
    window
        .until("a web process for the page loaded again", async || {
            let again = window
                .app_processes()
                .into_iter()
                .any(|(pid, name, _)| name.starts_with("WebKitWebProces") && !ended.contains(&pid));
            Ok(again.then_some(()))
        })
        .await?;
    window.capture_once_other_than("web-process-ended", &frozen).await?;
    anyhow::ensure!(
        window.app_processes().iter().any(|(_, name, _)| name.starts_with("teamflow-deskto")),
        "the app ended with its web process"
    );
    drop(window.quit().await?);
    Ok(())
}
