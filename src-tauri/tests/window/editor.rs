//! The rich-text editor in the window, driven as a person would: Markdown shortcuts typed, a word selected
//! with the keyboard and made bold, formatted HTML pasted and undone; a stock JavaScript automerge-repo
//! client reads the headings, lists and marks written here, and its own bold paragraph shows formatted;
//! a teammate's caret shows with their name. A screenshot per state, in both themes. A long document's
//! first key, rehearsed unseen when it opens, never reaches the document.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use teamflow_sync::SyncClient;
use teamflow_sync::automerge::transaction::Transactable as _;
use teamflow_sync::automerge::{ROOT, ReadDoc as _};
use teamflow_sync::samod::DocHandle;
use teamflow_tests::{Client, TestRelay, sync_client, text_when};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::driver::{Theme, Window, turn};
use crate::teammates::Teammates;

/// WebDriver's keys: Enter, Shift and Control (held until the end of the keys sent), ArrowLeft.
const ENTER: &str = "\u{E007}";
const SHIFT: &str = "\u{E008}";
const CONTROL: &str = "\u{E009}";
const LEFT: &str = "\u{E012}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rich_editor_formats_as_people_type_and_shares_its_structure() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rich_editor_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

async fn walk_through(theme: Theme) -> Result<()> {
    let turn = turn().await;
    let js = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/js");
    ensure!(
        js.join("node_modules/@automerge/automerge-repo").exists(),
        "the JavaScript client's packages are missing: run `./x setup` (npm install in tests/js)"
    );
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let window = Window::launch_in(turn, theme).await?;
    window.sign_in(&relay, "ada").await?;
    let team = window.create_team(&ada, "Editors").await?;
    ada.add_member(&team, "bob@example.test", "member").await;
    let url = window.create_document(&bob, &team, "Launch plan", "Launch plan").await?;

    // Markdown shortcuts as they are typed: `# ` at the start of the first line makes it a heading; then
    // bold, a bulleted list (an empty item ends it) and a check list.
    place_caret(&window, "p", "start").await?;
    type_keys(&window, "# ").await?;
    window.until_editor_html("<h1>Launch plan</h1>").await?;
    place_caret(&window, "h1", "end").await?;
    type_keys(
        &window,
        &format!("{ENTER}Ship the **beta** this week{ENTER}- first step{ENTER}second step{ENTER}{ENTER}"),
    )
    .await?;
    type_keys(&window, &format!("[ ] book the room{ENTER}{ENTER}Make this loud")).await?;
    let html = window.until_editor_html("<strong>beta</strong>").await?;
    ensure!(html.contains("<li><p>first step</p></li><li><p>second step</p></li>"), "a bulleted list: {html}");
    ensure!(html.contains("book the room") && html.contains("check-item"), "a check-list item: {html}");
    ensure!(!html.contains("**"), "the Markdown markers are gone: {html}");

    // Select a word with the keyboard and make it bold.
    type_keys(&window, &format!("{SHIFT}{LEFT}{LEFT}{LEFT}{LEFT}")).await?;
    type_keys(&window, &format!("{CONTROL}b")).await?;
    window.until_editor_html("<strong>loud</strong>").await?;
    window
        .until_page(
            "the bold button pressed",
            "return document.querySelector('[data-testid=format-bold]')?.getAttribute('aria-pressed') === 'true';",
            &[],
        )
        .await?;
    window.screenshot(&theme.shot("editor-formatted")).await?;

    // Paste formatted HTML, then undo it: only the paste goes.
    let pasted = window
        .script(
            "const dt = new DataTransfer();
             dt.setData('text/html', '<p>Pasted <b>strongly</b> with <a href=\"https://example.com/x\">a link</a></p>');
             dt.setData('text/plain', 'Pasted strongly with a link');
             const e = new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true });
             document.querySelector('[data-testid=editor]').dispatchEvent(e);
             return e.defaultPrevented;",
        )
        .await?;
    ensure!(pasted == json!(true), "the editor took the paste");
    let html = window.until_editor_html("<strong>strongly</strong>").await?;
    ensure!(html.contains("href=\"https://example.com/x\""), "the pasted link: {html}");
    window.screenshot(&theme.shot("editor-pasted")).await?;
    type_keys(&window, &format!("{CONTROL}z")).await?;
    window
        .until_page(
            "the paste undone",
            "const e = document.querySelector('[data-testid=editor]'); return !e.textContent.includes('Pasted') && e.innerHTML.includes('<strong>loud</strong>');",
            &[],
        )
        .await?;

    // A stock automerge-repo client reads the structure written here, and writes a bold paragraph.
    let bob_id = bob.user_id().await;
    let mut node = tokio::process::Command::new("node")
        .current_dir(&js)
        .arg("spans.mjs")
        .arg(relay.url("").replacen("http://", "ws://", 1))
        .arg(bob.token.as_deref().context("bob is signed in")?)
        .arg(format!("{bob_id}:node"))
        .arg(&url)
        .arg("Make this loud")
        .arg("Bob was here")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("starting node")?;
    let mut lines = BufReader::new(node.stdout.take().context("stdout")?).lines();
    let read = next_event(&mut lines).await?;
    let blocks = read["blocks"].as_array().context("blocks")?;
    let types: Vec<&str> = blocks.iter().filter_map(|b| b["type"].as_str()).collect();
    ensure!(types.first() == Some(&"heading") && blocks[0]["attrs"]["level"] == json!(1), "{read}");
    ensure!(types.iter().filter(|t| **t == "unordered-list-item").count() == 2, "{read}");
    ensure!(blocks.iter().any(|b| b["type"] == "check-list-item" && b["attrs"]["checked"] == json!(false)), "{read}");
    let marks = read["marks"].as_array().context("marks")?;
    for word in ["beta", "loud"] {
        ensure!(marks.contains(&json!({"name": "strong", "value": true, "text": word})), "{word} is strong: {read}");
    }
    ensure!(next_event(&mut lines).await?["event"] == "wrote");
    window.until_editor_html("<strong>Bob was here</strong>").await?;

    // Bob's caret, with his name.
    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob opens it")?;
    let me = teamflow_sync::Presence {
        user_id: bob_id.parse()?,
        peer_id: bob_sync.peer_id().to_string(),
        name: "bob".into(),
        color: "#3cb44b".into(),
        cursor: Some(teamflow_sync::Cursor { anchor: 1, head: 7 }),
    };
    let _presence = teamflow_sync::PresenceSession::join(&handle, me, teamflow_sync::PresenceConfig::default());
    window.until_text("[data-testid=remote-caret]", "bob").await?;
    window.screenshot(&theme.shot("editor-teammate")).await?;

    if let Some(mut stdin) = node.stdin.take() {
        stdin.shutdown().await?;
    }
    let status = node.wait().await?;
    ensure!(status.success(), "the JS client failed: {status}");
    window.close().await?;
    Ok(())
}

/// A document written before the rich editor, opened, converted and edited, and the app asked to end at
/// once (SIGTERM): after the restart the edit is there, the document is not converted again (the
/// conversion reached the node and its store before the app ended), and the relay holds the converted
/// text once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_document_is_converted_once_and_an_edit_made_just_before_the_app_ends_is_kept() -> Result<()> {
    let Teammates { relay, ada: _, bob, window, team } = Teammates::open(Theme::Light, "Ops").await?;
    // Bob's older client wrote it the way documents were written before: Markdown in plain text. (Not a
    // document the window made and bob rewrote: the window's node would hold the window's version, and
    // the window could open that before bob's rewrite reached it, and find nothing to convert.)
    // Kept to the end: bob's client syncs the conversion into `handle`, read at the end.
    let (_bob_sync, handle) =
        bobs_own_document(&relay, &bob, &team, "Runbook", "# Runbook\nStep **one**\n- check the disk").await?;

    window.click("[data-testid=nav-documents]").await?;
    window.until_text("[data-testid=document]", "Runbook").await?;
    window.click("[data-testid=open-document]").await?;
    window.until_editor_html("<h1>Runbook</h1>").await?;
    place_caret(&window, "li p", "end").await?;
    type_keys(&window, " now").await?;
    // The system ends the app at once (a person logs out): the edit may still be in the window only.
    window.terminate_app().await?;
    let window = window.restart(&[]).await?;

    // The team first: the page shows the chat until the team is chosen.
    window.until_text("[data-testid=team-switcher]", "Ops").await?;
    window.click("[data-testid=nav-documents]").await?;
    window.click("[data-testid=open-document]").await?;
    let html = window.until_editor_html("check the disk now").await?;
    ensure!(html.matches("<h1>").count() == 1 && html.contains("<strong>one</strong>"), "converted once: {html}");
    let converted_again =
        window.script("return performance.getEntriesByName('teamflow:open:converting').length > 0").await?;
    ensure!(converted_again == json!(false), "the document was converted again after the restart");
    window.until_text("[data-testid=doc-state]", "Saved to relay").await?;
    let text = text_when(&handle, |t| t.contains("check the disk now")).await;
    ensure!(text.matches("Runbook").count() == 1, "the relay holds the converted text once: {text:?}");
    ensure!(!text.contains("**"), "the relay holds the converted text: {text:?}");
    window.close().await?;
    Ok(())
}

/// A long document's first keystrokes are rehearsed once the editor is drawn (`rehearsal.ts`): typed and
/// taken back through the page's own editing, unseen. The person finds the document as it was, scrolled to
/// its top, and the focus not moved into it; and the document never has the rehearsed keys: the person's
/// first key is its only change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_documents_first_key_is_rehearsed_unseen_and_never_reaches_the_document() -> Result<()> {
    let Teammates { relay, ada: _, bob, window, team } = Teammates::open(Theme::Light, "Handbooks").await?;
    // Bob makes it long: past the length from which the editor rehearses (`WARM_FROM_CHARS`, 20,000).
    let (bob_sync, handle) = bobs_copy(&window, &relay, &bob, &team, "Handbook").await?;
    let long = format!("{} the end of the handbook", "one line of the handbook ".repeat(1_000));
    let heads = handle.with_document(|doc| -> Result<_> {
        let (_, text) = doc.get(ROOT, teamflow_sync::TEXT_FIELD)?.context("the text")?;
        let length = doc.length(&text);
        let mut tx = doc.transaction();
        tx.splice_text(&text, length, 0, &long)?;
        tx.commit();
        Ok(doc.get_heads())
    })?;
    ensure!(bob_sync.synced_with_relay(&handle).await, "the relay has bob's text");
    // Opened once for the window's node to have bob's text: opening a document the node holds does not
    // wait for the relay, and the editor drawn with the short "x" rehearses nothing. Opened again, it is
    // drawn long, as a long document is when a person opens it.
    window.click("[data-testid=open-document]").await?;
    window.until_text("[data-testid=editor]", "the end of the handbook").await?;
    window.click("[data-testid=close-document]").await?;
    window.click("[data-testid=open-document]").await?;
    window.until_text("[data-testid=editor]", "the end of the handbook").await?;
    // A mark changes nothing on the page for `until_page` to notice: asked until it is there.
    let rehearsed = "return performance.getEntriesByName('teamflow:open:rehearsed').length > 0 || null;";
    window.until("the keys rehearsed", async || Ok(window.script(rehearsed).await?.as_bool())).await?;
    let scene = window
        .script(
            "const editor = document.querySelector('[data-testid=editor]');
             let scrolled = document.scrollingElement.scrollTop;
             for (let el = editor; el; el = el.parentElement) scrolled += el.scrollTop;
             return { scrolled, focused: editor.contains(document.activeElement), text: editor.textContent };",
        )
        .await?;
    ensure!(scene["scrolled"] == json!(0), "the document is shown from its top: {}", scene["scrolled"]);
    ensure!(scene["focused"] == json!(false), "the focus is not moved into the editor");
    ensure!(scene["text"].as_str() == Some(&format!("x{long}")), "the editor shows the text as it is");
    window.screenshot("editor-long-opened").await?;

    // The person's first key is the document's only change since bob's.
    place_caret(&window, "p", "start").await?;
    type_keys(&window, "Z").await?;
    text_when(&handle, |t| t.contains("Zx")).await;
    let since = handle.with_document(|doc| doc.get_changes(&heads).len());
    ensure!(since == 1, "the window made {since} changes for one key");
    window.close().await?;
    Ok(())
}

/// A document `bob` creates in the window with the text "x", closed again, and his own client's copy of it.
async fn bobs_copy(
    window: &Window,
    relay: &TestRelay,
    bob: &Client,
    team: &str,
    title: &str,
) -> Result<(SyncClient, DocHandle)> {
    let url = window.create_document(bob, team, title, "x").await?;
    window.click("[data-testid=close-document]").await?;
    window.find("[data-testid=open-document]").await?;
    let bob_sync = sync_client(relay, bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob opens it")?;
    text_when(&handle, |t| t.contains('x')).await;
    Ok((bob_sync, handle))
}

/// A text document bob's own client makes with `text` (plain text, as clients wrote before the rich editor)
/// and registers to the team as `title`, with the relay holding it.
async fn bobs_own_document(
    relay: &TestRelay,
    bob: &Client,
    team: &str,
    title: &str,
    text: &str,
) -> Result<(SyncClient, DocHandle)> {
    let mut bob_sync = sync_client(relay, bob, "bob-laptop").await;
    let (url, handle) = bob_sync.create_text(text).await?;
    let (status, body) =
        bob.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": url, "title": title })).await;
    ensure!(status.as_u16() == 201, "registering bob's document: {status} {body}");
    // A fresh handshake announces it again: the relay refused it while it was not the team's.
    bob_sync.reconnect().await?;
    ensure!(bob_sync.synced_with_relay(&handle).await, "the relay has bob's document");
    Ok((bob_sync, handle))
}

/// Puts the editor's caret at the start or end of its first `tag` block, as a click there would.
async fn place_caret(window: &Window, tag: &str, at: &str) -> Result<()> {
    window
        .script(&format!(
            "const block = document.querySelector('[data-testid=editor] {tag}');
             const editor = document.querySelector('[data-testid=editor]');
             editor.focus();
             const range = document.createRange(); range.selectNodeContents(block); range.collapse({});
             const s = getSelection(); s.removeAllRanges(); s.addRange(range); return true;",
            at == "start"
        ))
        .await?;
    Ok(())
}

/// Sends keys to the editor, where its caret is.
async fn type_keys(window: &Window, keys: &str) -> Result<()> {
    window.type_into("[data-testid=editor]", keys).await
}

async fn next_event(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Result<Value> {
    let line = tokio::time::timeout(teamflow_tests::socket::PATIENCE * 3, lines.next_line())
        .await
        .context("the JS client answered in time")??
        .context("the JS client exited early")?;
    let event: Value = serde_json::from_str(&line)?;
    if event["event"] == "error" {
        bail!("the JS client failed: {event}");
    }
    Ok(event)
}
