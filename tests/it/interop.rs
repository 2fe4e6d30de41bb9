//! Interoperability: a stock JavaScript automerge-repo client (tests/js) syncs a document with a Rust
//! client through the relay, in both directions.

use std::path::PathBuf;
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_sync::{heads, read_text, splice_text};
use teamflow_tests::{TestRelay, sync_client, text_when, within};
use tokio::io::{AsyncBufReadExt, BufReader};

fn js_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js")
}

#[tokio::test]
async fn a_javascript_automerge_repo_client_syncs_with_a_rust_client_through_the_relay() {
    assert!(
        js_dir().join("node_modules/@automerge/automerge-repo").exists(),
        "the JavaScript client's packages are missing: run `./x setup` (npm install in tests/js)"
    );
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let team = alice.create_team("Interop").await;
    alice.add_member(&team, "bob@example.test", "member").await;

    let mut rust = sync_client(&relay, &alice, "rust").await;
    let (url, doc) = rust.create_text("Hello from Rust").await.expect("create");
    let (status, _) =
        alice.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": url, "title": "Interop" })).await;
    assert_eq!(status, StatusCode::CREATED);
    rust.reconnect().await.expect("reconnect");
    assert!(within("the relay to acknowledge the document", rust.synced_with_relay(&doc)).await);

    let bob_id = bob.user_id().await;
    let mut node = tokio::process::Command::new("node")
        .current_dir(js_dir())
        .arg("interop.mjs")
        .arg(relay.url("").replacen("http://", "ws://", 1))
        .arg(bob.token.as_deref().expect("token"))
        .arg(format!("{bob_id}:node"))
        .arg(url.as_str())
        .arg(" + JS")
        .arg(" + Rust again")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start node");
    let mut lines = BufReader::new(node.stdout.take().expect("stdout")).lines();
    let mut next_event = async || -> Value {
        let line = tokio::time::timeout(teamflow_tests::socket::PATIENCE * 3, lines.next_line())
            .await
            .expect("the JS client answered in time")
            .expect("read stdout")
            .expect("the JS client exited early");
        let event: Value = serde_json::from_str(&line).expect("a JSON line");
        assert_ne!(event["event"], "error", "{event}");
        event
    };

    // Rust to JS: the JS client reads what Rust wrote.
    let found = next_event().await;
    assert_eq!(found, json!({ "event": "found", "text": "Hello from Rust" }));
    assert_eq!(next_event().await["event"], "edited");

    // JS to Rust: the Rust client sees the JS edit, then answers with one of its own.
    text_when(&doc, |t| t == "Hello from Rust + JS").await;
    let end = read_text(&doc).chars().count();
    splice_text(&doc, end, 0, " + Rust again").expect("edit");

    let last = next_event().await;
    assert_eq!(last["text"], "Hello from Rust + JS + Rust again");
    let mut js_heads: Vec<String> =
        last["heads"].as_array().expect("heads").iter().map(|h| h.as_str().expect("hex").to_owned()).collect();
    js_heads.sort();
    let rust_heads: Vec<String> = heads(&doc).iter().map(ToString::to_string).collect();
    assert_eq!(js_heads, rust_heads, "both ends hold the identical document");
    let status = node.wait().await.expect("node exit");
    assert!(status.success(), "{status}");
}
