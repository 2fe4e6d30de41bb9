//! Document changes between relay instances over NATS (docs/scale-out.md, "Documents across instances"):
//! a change a client syncs through one instance reaches a peer syncing the same document through another
//! instance that holds it in memory, and back; without NATS it does not. The instances share one data
//! directory and database (one SQLite file, or one PostgreSQL database in the suite's PostgreSQL pass).
//! The clients are the suite's Rust sync clients and, in one test, a stock JavaScript automerge-repo client.

use std::time::Duration;

use futures::{FutureExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::json;
use teamflow_protocol::DocumentUrl;
use teamflow_relay::cluster::round_trip;
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{SyncClient, heads, read_text, splice_text};
use teamflow_tests::services::Nats;

use super::{two_instances, two_instances_with};
use teamflow_tests::{Client, DataDir, TestRelay, sync_client, test_config, text_when};
use tokio::io::AsyncBufReadExt as _;

/// A guard against a hang, not a timing: the machine is shared and loaded.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// A team of alice (owner) and bob (member) made through A, and bob's client for B (one database, one
/// signing key: A's tokens are good on B).
async fn team(a: &TestRelay, b: &TestRelay) -> (Client, Client, String) {
    let alice = a.user("alice").await;
    let bob = a.user("bob").await;
    let team = alice.create_team("Team").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    let bob_b = b.client().with_token(bob.token.as_deref());
    (alice, bob_b, team)
}

/// Alice's text document "v1", made on her device syncing through A and registered to the team there.
async fn alices_document(a: &TestRelay, alice: &Client, team: &str) -> (SyncClient, DocumentUrl, DocHandle) {
    alices_text(a, alice, team, "v1").await
}

/// `alices_document` with `text` in it.
async fn alices_text(a: &TestRelay, alice: &Client, team: &str, text: &str) -> (SyncClient, DocumentUrl, DocHandle) {
    let mut alice_sync = sync_client(a, alice, "laptop").await;
    let (url, doc) = alice_sync.create_text(text).await.expect("create");
    let (status, body) =
        alice.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": url, "title": "Notes" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Synced again now that the document is the team's, so A holds it.
    alice_sync.reconnect().await.expect("reconnect");
    assert!(within(alice_sync.synced_with_relay(&doc)).await, "A has alice's document");
    (alice_sync, url, doc)
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future).await.expect("within the hang guard")
}

#[tokio::test]
async fn edits_synced_through_one_instance_reach_a_peer_syncing_through_the_other_both_ways() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob_b, team) = team(&a, &b).await;
    let (_alice_sync, url, a_doc) = alices_document(&a, &alice, &team).await;
    // Bob opens it through B, which loads it from the database and from then on holds it in memory.
    let bob_sync = sync_client(&b, &bob_b, "desktop").await;
    let b_doc = bob_sync.open(&url).await.expect("open").expect("bob may read the team's document");
    text_when(&b_doc, |t| t == "v1").await;

    // Alice's edit, synced to A, reaches bob through B; bob's, synced to B, reaches alice through A.
    splice_text(&a_doc, 2, 0, " from A").expect("alice edits");
    text_when(&b_doc, |t| t == "v1 from A").await;
    splice_text(&b_doc, 0, 0, "B: ").expect("bob edits");
    text_when(&a_doc, |t| t == "B: v1 from A").await;
    assert_eq!(heads(&a_doc), heads(&b_doc), "both hold the same changes");

    // Edits made at once on both sides merge alike on both.
    splice_text(&a_doc, 0, 0, "[a]").expect("alice edits");
    splice_text(&b_doc, read_text(&b_doc).chars().count(), 0, "[b]").expect("bob edits");
    let both = |t: &str| t.contains("[a]") && t.ends_with("[b]");
    let on_a = text_when(&a_doc, both).await;
    let on_b = text_when(&b_doc, both).await;
    assert_eq!(on_a, on_b);
    assert_eq!(on_a, "[a]B: v1 from A[b]");
    assert_eq!(heads(&a_doc), heads(&b_doc), "converged");
}

/// A change larger than a NATS message may be (the server's default limit is 1 MiB): an image of 1.1 MiB
/// pasted into the document as one change. A publishes "stored up to these heads" instead of the change,
/// and B reads it from the database and syncs it to bob.
#[tokio::test]
async fn a_change_too_large_for_one_nats_message_reaches_the_other_instance_through_the_database() {
    use teamflow_sync::TEXT_FIELD;
    use teamflow_sync::automerge::{ROOT, ReadDoc as _, ScalarValue, transaction::Transactable as _};

    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob_b, team) = team(&a, &b).await;
    let (alice_sync, url, a_doc) = alices_document(&a, &alice, &team).await;
    let bob_sync = sync_client(&b, &bob_b, "desktop").await;
    let b_doc = bob_sync.open(&url).await.expect("open").expect("bob may read the team's document");
    text_when(&b_doc, |t| t == "v1").await;

    // Incompressible bytes (automerge deflates a change's columns), from a fixed seed.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let image: Vec<u8> = (0..1152 * 1024)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    a_doc.with_document(|doc| {
        let text = doc.get(ROOT, TEXT_FIELD).expect("read").expect("text").1;
        let mut tx = doc.transaction();
        tx.put(ROOT, "image", ScalarValue::Bytes(image.clone())).expect("put the image");
        tx.splice_text(&text, 0, 0, "[image] ").expect("caption");
        tx.commit();
        let change = doc.get_last_local_change().expect("the change");
        assert!(change.raw_bytes().len() > 1024 * 1024, "{} bytes: fits a NATS message", change.raw_bytes().len());
    });
    assert!(within(alice_sync.synced_with_relay(&a_doc)).await, "A has alice's change");

    text_when(&b_doc, |t| t == "[image] v1").await;
    let on_b = b_doc.with_document(|doc| match doc.get(ROOT, "image").expect("read") {
        Some((teamflow_sync::automerge::Value::Scalar(value), _)) => value.as_bytes().map(<[u8]>::to_vec),
        _ => None,
    });
    assert!(on_b.as_deref() == Some(image.as_slice()), "bob has the whole image");
    assert_eq!(heads(&a_doc), heads(&b_doc));
}

/// The window the heads exchange closes: alice's edit is published by A before B follows the document, and
/// is not in the database when B reads it (the test holds the database's write lock, so A cannot store it).
/// B's follower says which heads it holds; A answers with the edit, and bob gets it while the lock is still
/// held. Alice meanwhile is not told her edit is saved.
#[tokio::test]
async fn an_edit_published_before_the_other_instance_followed_and_not_yet_stored_reaches_its_client() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob_b, team) = team(&a, &b).await;
    let (alice_sync, url, a_doc) = alices_document(&a, &alice, &team).await;
    let watcher = async_nats::connect(nats.url()).await.expect("a NATS client of the test's own");
    let mut published = watcher.subscribe(format!("teamflow.doc.{}", url.document_id())).await.expect("subscribe");
    round_trip(&watcher).await.expect("the server has the subscription");

    let lock = a.hold_document_writes().await;
    splice_text(&a_doc, 2, 0, " from A").expect("alice edits");
    // A published it (changes: no operation header; A's own heads question may come first); B, which does
    // not hold the document, follows nothing and missed it.
    let edit = heads(&a_doc);
    loop {
        let message = within(published.next()).await.expect("A publishes alice's edit");
        let changes = message.headers.as_ref().is_some_and(|h| h.get("TeamFlow-Op").is_none());
        let change = teamflow_sync::automerge::Change::try_from(&message.payload[..]);
        if changes && change.is_ok_and(|c| edit == [c.hash()]) {
            break;
        }
    }

    let bob_sync = sync_client(&b, &bob_b, "desktop").await;
    let b_doc = bob_sync.open(&url).await.expect("open").expect("bob may read the team's document");
    text_when(&b_doc, |t| t == "v1 from A").await;
    assert!(
        alice_sync.synced_with_relay(&a_doc).now_or_never().is_none(),
        "alice was told her edit is saved while A could not store it"
    );
    lock.rollback().await.expect("release the lock");
    assert!(within(alice_sync.synced_with_relay(&a_doc)).await);
}

#[tokio::test]
async fn without_nats_an_edit_through_one_instance_does_not_reach_a_peer_while_the_other_holds_the_document() {
    let (a, b) = two_instances(None).await;
    let (alice, bob_b, team) = team(&a, &b).await;
    let (alice_sync, url, a_doc) = alices_document(&a, &alice, &team).await;
    let bob_sync = sync_client(&b, &bob_b, "desktop").await;
    let b_doc = bob_sync.open(&url).await.expect("open").expect("bob may read the team's document");
    text_when(&b_doc, |t| t == "v1").await;

    splice_text(&a_doc, 2, 0, " from A").expect("alice edits");
    assert!(within(alice_sync.synced_with_relay(&a_doc)).await, "A has alice's edit");
    // Bob edits and syncs through B, and has everything B holds: B never got alice's edit.
    splice_text(&b_doc, 0, 0, "B: ").expect("bob edits");
    assert!(within(bob_sync.synced_with_relay(&b_doc)).await, "B has bob's edit");
    assert!(within(bob_sync.caught_up_with_relay(&b_doc)).await, "bob has what B has");
    assert_eq!(read_text(&b_doc), "B: v1", "alice's edit did not reach bob through B");
    // It is in the database and on A: another device of bob's syncing through A gets it.
    let bob_a = a.client().with_token(bob_b.token.as_deref());
    let bob_on_a = sync_client(&a, &bob_a, "phone").await;
    let on_a = bob_on_a.open(&url).await.expect("open").expect("bob may read it");
    text_when(&on_a, |t| t == "v1 from A").await;
}

/// A stock automerge-repo client (tests/js/interop.mjs, as in `interop.rs`) syncing through `relay` as
/// `client`'s user: it finds `url`, appends `append`, and waits for `marker` before it reports the end.
struct JsClient {
    node: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl JsClient {
    async fn start(
        relay: &TestRelay,
        client: &Client,
        device: &str,
        url: &DocumentUrl,
        append: &str,
        marker: &str,
    ) -> JsClient {
        let js_dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("js");
        assert!(
            js_dir.join("node_modules/@automerge/automerge-repo").exists(),
            "the JavaScript client's packages are missing: run `./x setup` (npm install in tests/js)"
        );
        let user = client.user_id().await;
        let mut node = tokio::process::Command::new("node")
            .current_dir(&js_dir)
            .arg("interop.mjs")
            .arg(relay.url("").replacen("http://", "ws://", 1))
            .arg(client.token.as_deref().expect("token"))
            .arg(format!("{user}:{device}"))
            .arg(url.as_str())
            .arg(append)
            .arg(marker)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let lines = tokio::io::BufReader::new(node.stdout.take().expect("stdout")).lines();
        JsClient { node, lines }
    }

    /// Its next JSON line; an `error` event fails the test.
    async fn next_event(&mut self) -> serde_json::Value {
        let line = tokio::time::timeout(teamflow_tests::socket::PATIENCE * 3, self.lines.next_line())
            .await
            .expect("the JS client answered in time")
            .expect("read stdout")
            .expect("the JS client exited early");
        let event: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
        assert_ne!(event["event"], "error", "{event}");
        event
    }

    /// Its final event's text and sorted heads, once it has exited successfully.
    async fn finish(mut self) -> (String, Vec<String>) {
        let last = self.next_event().await;
        assert_eq!(last["event"], "final", "{last}");
        let mut heads: Vec<String> =
            last["heads"].as_array().expect("heads").iter().map(|h| h.as_str().expect("hex").to_owned()).collect();
        heads.sort();
        let status = self.node.wait().await.expect("node exit");
        assert!(status.success(), "{status}");
        (last["text"].as_str().expect("text").to_owned(), heads)
    }
}

/// Alice's document "Hello", made by her Rust client through A and registered to the team.
async fn shared_hello(a: &TestRelay, alice: &Client, team: &str) -> (SyncClient, DocumentUrl, DocHandle) {
    alices_text(a, alice, team, "Hello from A").await
}

/// A stock automerge-repo client syncing through B and a Rust client syncing through A edit one document
/// and end with the identical document.
#[tokio::test]
async fn a_javascript_automerge_repo_client_on_one_instance_and_a_rust_client_on_the_other_converge() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob_b, team) = team(&a, &b).await;
    let (_alice_sync, url, doc) = shared_hello(&a, &alice, &team).await;

    let mut js = JsClient::start(&b, &bob_b, "node", &url, " + JS on B", " + Rust on A").await;
    assert_eq!(js.next_event().await, json!({ "event": "found", "text": "Hello from A" }));
    assert_eq!(js.next_event().await["event"], "edited");
    // The JS edit, synced to B, reaches alice through A; her answer, synced to A, reaches the JS client on B
    // (which B holds in memory all along: the JS client is connected).
    text_when(&doc, |t| t == "Hello from A + JS on B").await;
    let end = read_text(&doc).chars().count();
    splice_text(&doc, end, 0, " + Rust on A").expect("edit");
    let (text, js_heads) = js.finish().await;
    assert_eq!(text, "Hello from A + JS on B + Rust on A");
    let rust_heads: Vec<String> = heads(&doc).iter().map(ToString::to_string).collect();
    assert_eq!(js_heads, rust_heads, "both ends hold the identical document");
}

/// Stock automerge-repo clients on both instances (alice's through A, bob's through B) edit one document,
/// started together; each waits for the other's edit, and both end with the identical document, which is also what
/// the database holds (a fresh Rust client through A reads it).
#[tokio::test]
async fn javascript_automerge_repo_clients_on_both_instances_converge() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob_b, team) = team(&a, &b).await;
    let (alice_sync, url, _doc) = shared_hello(&a, &alice, &team).await;
    // Only the JavaScript clients edit from here; alice's Rust client leaves.
    drop(alice_sync);

    let mut on_a = JsClient::start(&a, &alice, "node-a", &url, " + JS on A", " + JS on B").await;
    let mut on_b = JsClient::start(&b, &bob_b, "node-b", &url, " + JS on B", " + JS on A").await;
    for js in [&mut on_a, &mut on_b] {
        let found = js.next_event().await;
        assert_eq!(found["event"], "found", "{found}");
        // The other may have made its edit already.
        assert!(found["text"].as_str().is_some_and(|t| t.starts_with("Hello from A")), "{found}");
        assert_eq!(js.next_event().await["event"], "edited");
    }
    let (text_a, heads_a) = on_a.finish().await;
    let (text_b, heads_b) = on_b.finish().await;
    assert_eq!(text_a, text_b, "the same text on both instances' clients");
    assert!(text_a == "Hello from A + JS on A + JS on B" || text_a == "Hello from A + JS on B + JS on A", "{text_a}");
    assert_eq!(heads_a, heads_b, "the identical document");

    let alice_again = sync_client(&a, &alice, "tablet").await;
    let stored = alice_again.open(&url).await.expect("open").expect("alice may read it");
    text_when(&stored, |t| t == text_a).await;
}

/// The wire contract on `teamflow.doc.<document>`, seen from a NATS client of the test's own standing in
/// for another instance: the relay publishes its clients' changes there, answers "my heads are X" with the
/// changes since X, and applies changes another instance publishes, which then reach its clients.
#[tokio::test]
async fn an_instance_publishes_answers_a_heads_question_and_applies_foreign_changes_on_the_documents_subject() {
    use teamflow_sync::TEXT_FIELD;
    use teamflow_sync::automerge::{Automerge, ROOT, ReadDoc as _, transaction::Transactable as _};

    let nats = Nats::start().await;
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.p2p.disabled = true;
    config.nats_url = Some(nats.url());
    let a = TestRelay::start_with(dir, config).await;
    let alice = a.user("alice").await;
    let team = alice.create_team("Team").await;
    let (alice_sync, url, doc) = alices_document(&a, &alice, &team).await;

    let other = async_nats::connect(nats.url()).await.expect("a NATS client of the test's own");
    let me = uuid::Uuid::new_v4().to_string();
    let subject = format!("teamflow.doc.{}", url.document_id());
    let mut subscriber = other.subscribe(subject.clone()).await.expect("subscribe");
    round_trip(&other).await.expect("the server has the subscription");
    // The next changes the relay publishes on the subject (not this test's own messages, nor the relay's
    // heads question, asked when it began following the document).
    let mut from_the_relay = async || loop {
        let message = within(subscriber.next()).await.expect("subscription open");
        let headers = message.headers.clone().expect("headers");
        let ours = headers.get("TeamFlow-Instance").map(|v| v.as_str()) == Some(me.as_str());
        if !ours && headers.get("TeamFlow-Op").is_none() {
            return message;
        }
    };
    let v1 = doc.with_document(|d| d.save());
    let v1_heads = doc.with_document(|d| d.get_heads());

    // Alice's edit, synced to the relay, is published as changes (no operation header).
    splice_text(&doc, 2, 0, " from A").expect("alice edits");
    assert!(within(alice_sync.synced_with_relay(&doc)).await);
    let edited = doc.with_document(|d| d.get_heads());
    let mut fork = Automerge::load(&v1).expect("v1");
    // What the relay publishes makes v1 into the edited document (its first publication, made when it began
    // following the document, may come before).
    while fork.get_heads() != edited {
        fork.load_incremental(&from_the_relay().await.payload).expect("changes load");
    }

    // "I hold v1": the relay answers with the changes since.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("TeamFlow-Instance", me.as_str());
    headers.insert("TeamFlow-Op", "heads");
    let asked: Vec<u8> = v1_heads.iter().flat_map(|h| h.0).collect();
    other.publish_with_headers(subject.clone(), headers, asked.into()).await.expect("ask");
    let answer = from_the_relay().await;
    let mut fork = Automerge::load(&v1).expect("v1");
    fork.load_incremental(&answer.payload).expect("the answer loads");
    assert_eq!(fork.get_heads(), edited, "the answer is what v1 lacks");

    // Changes another instance publishes reach alice's client through the relay.
    let before = fork.get_heads();
    let (_, text) = fork.get(ROOT, TEXT_FIELD).expect("read").expect("a text field");
    let end = fork.text(&text).expect("text").chars().count();
    let mut tx = fork.transaction();
    tx.splice_text(&text, end, 0, " + NATS").expect("splice");
    tx.commit();
    let changes: Vec<u8> = fork.get_changes(&before).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("TeamFlow-Instance", me.as_str());
    other.publish_with_headers(subject, headers, changes.into()).await.expect("publish");
    text_when(&doc, |t| t == "v1 from A + NATS").await;
}

/// Following a document does not keep it in memory: once its last client leaves, the relay unloads it as
/// without NATS; opened again, it is followed again (changes another instance publishes reach the client).
#[tokio::test]
async fn a_followed_document_is_still_unloaded_when_idle_and_followed_again_when_opened_again() {
    let nats = Nats::start().await;
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.p2p.disabled = true;
    config.nats_url = Some(nats.url());
    config.limits.sync_unload_idle_ms = 200;
    let (loaded_tx, mut loaded) = tokio::sync::watch::channel(std::collections::HashSet::new());
    config.documents_loaded = Some(loaded_tx);
    let a = TestRelay::start_with(dir, config).await;
    let alice = a.user("alice").await;
    let team = alice.create_team("Team").await;
    let (alice_sync, url, doc) = alices_document(&a, &alice, &team).await;
    let id: teamflow_sync::samod::DocumentId = url.document_id().parse().expect("a document id");
    assert!(loaded.borrow().contains(&id));

    drop(doc);
    alice_sync.stop().await;
    teamflow_tests::watch_until(&mut loaded, "the followed document to unload", |ids| !ids.contains(&id)).await;

    // Opened again: followed again. Another instance's change (made by a NATS client of the test's own)
    // reaches the device that opened it.
    let device = sync_client(&a, &alice, "phone").await;
    let doc = device.open(&url).await.expect("open").expect("loaded again");
    text_when(&doc, |t| t == "v1").await;
    let other = async_nats::connect(nats.url()).await.expect("a NATS client of the test's own");
    let mut fork = teamflow_sync::automerge::Automerge::load(&doc.with_document(|d| d.save())).expect("fork");
    let before = fork.get_heads();
    {
        use teamflow_sync::automerge::{ROOT, ReadDoc as _, transaction::Transactable as _};
        let (_, text) = fork.get(ROOT, teamflow_sync::TEXT_FIELD).expect("read").expect("a text field");
        let mut tx = fork.transaction();
        tx.splice_text(&text, 2, 0, " + NATS").expect("splice");
        tx.commit();
    }
    let changes: Vec<u8> = fork.get_changes(&before).iter().flat_map(|c| c.raw_bytes().to_vec()).collect();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("TeamFlow-Instance", uuid::Uuid::new_v4().to_string().as_str());
    // The relay subscribes beside the device's sync: publish until the change arrives (each publication is
    // the same change, applied once).
    let subject = format!("teamflow.doc.{}", url.document_id());
    let arrived = async {
        loop {
            other
                .publish_with_headers(subject.clone(), headers.clone(), changes.clone().into())
                .await
                .expect("publish");
            other.flush().await.expect("flush");
            if tokio::time::timeout(Duration::from_millis(100), text_when(&doc, |t| t == "v1 + NATS")).await.is_ok() {
                return;
            }
        }
    };
    within(arrived).await;
}

/// A TCP relay to the NATS server that the test can cut: cut, it closes every connection through it and
/// each new one at once (one instance partitioned from NATS while the others are not); mended, it relays
/// again.
struct Cuttable {
    port: u16,
    cut: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
    /// Connections relayed at the moment.
    live: std::sync::Arc<tokio::sync::watch::Sender<usize>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Cuttable {
    async fn start(upstream: u16) -> Cuttable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the relay to NATS");
        let port = listener.local_addr().expect("its address").port();
        let cut = std::sync::Arc::new(tokio::sync::watch::Sender::new(false));
        let live = std::sync::Arc::new(tokio::sync::watch::Sender::new(0_usize));
        let (cut_, live_) = (cut.clone(), live.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if *cut_.borrow() {
                    // Closed at once: the client's reconnection attempt fails.
                    continue;
                }
                let mut cut = cut_.subscribe();
                let live = live_.clone();
                live.send_modify(|n| *n += 1);
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await {
                        tokio::select! {
                            copied = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => { copied.ok(); }
                            cut = cut.wait_for(|cut| *cut) => { cut.ok(); }
                        }
                    }
                    drop(inbound);
                    live.send_modify(|n| *n -= 1);
                });
            }
        });
        Cuttable { port, cut, live, accept }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Closes every connection through it (answers once they are closed) and refuses new ones.
    async fn cut(&self) {
        self.cut.send_replace(true);
        let mut live = self.live.subscribe();
        within(live.wait_for(|n| *n == 0)).await.expect("the relay to NATS is running");
    }

    fn mend(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for Cuttable {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.accept.abort();
    }
}

/// Core NATS keeps nothing for a subscriber that is away: an edit A publishes while B is cut off from NATS
/// never reaches B over NATS. When B's connection comes back, each document it follows catches up (from
/// storage, and by asking the others with its heads), so bob's client on B gets the edit with no later
/// edit to carry it.
#[tokio::test]
async fn an_edit_published_while_an_instance_was_cut_off_from_nats_reaches_its_clients_when_it_is_back() {
    let nats = Nats::start().await;
    let to_nats = Cuttable::start(nats.port()).await;
    let (a, b) = two_instances_with(Some(&nats), |_, b| b.nats_url = Some(to_nats.url())).await;
    let (alice, bob_b, team) = team(&a, &b).await;
    let (_alice_sync, url, a_doc) = alices_document(&a, &alice, &team).await;
    let bob_sync = sync_client(&b, &bob_b, "desktop").await;
    let b_doc = bob_sync.open(&url).await.expect("open").expect("bob may read the team's document");
    text_when(&b_doc, |t| t == "v1").await;
    // Both instances follow the document: an edit through A reaches bob through B.
    splice_text(&a_doc, 2, 0, "!").expect("alice edits");
    text_when(&b_doc, |t| t == "v1!").await;
    // The test watches what A publishes on the document's subject.
    let watcher = async_nats::connect(nats.url()).await.expect("a NATS client of the test's own");
    let mut published = watcher.subscribe(format!("teamflow.doc.{}", url.document_id())).await.expect("subscribe");
    round_trip(&watcher).await.expect("the server has the subscription");

    to_nats.cut().await;
    splice_text(&a_doc, 3, 0, " while B was away").expect("alice edits");
    // A has published it, and NATS has passed it on while B was away: lost to B's subscription.
    within(async {
        while let Some(message) = published.next().await {
            if message.headers.as_ref().and_then(|h| h.get("TeamFlow-Op")).is_none() {
                return;
            }
        }
        panic!("the watcher's subscription ended");
    })
    .await;
    assert_eq!(read_text(&b_doc), "v1!", "nothing reached bob through B while B was cut off");

    let back = std::time::Instant::now();
    to_nats.mend();
    // async-nats redials with a back-off of up to 4 s: within text_when's patience.
    text_when(&b_doc, |t| t == "v1! while B was away").await;
    eprintln!("bob had alice's edit {:?} after B's connection to NATS was mended", back.elapsed());
}

/// A member removed and then let back in through an instance B never heard from (C, outside NATS: what a
/// NATS message a moment late looks like to B, stretched) opens the team's document through B at once:
/// B's cache still says "not a member", and the denied request is decided again from the database.
#[tokio::test]
async fn a_member_let_back_in_through_an_instance_the_other_did_not_hear_from_opens_documents_through_it() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob_b, team) = team(&a, &b).await;
    let (_alice_sync, url, _doc) = alices_document(&a, &alice, &team).await;
    let bob_id = bob_b.user_id().await;

    // Removed through A, which tells B: a device of bob's on B is refused (B has the removal in its cache).
    assert_eq!(alice.delete(&format!("/api/teams/{team}/members/{bob_id}")).await.0, StatusCode::NO_CONTENT);
    within(async {
        for device in 0.. {
            let sync = sync_client(&b, &bob_b, &format!("phone-{device}")).await;
            if sync.open(&url).await.expect("open").is_none() {
                break;
            }
        }
    })
    .await;

    // Let back in through C, which tells nobody.
    let mut outside = test_config(std::path::Path::new("."));
    outside.p2p.disabled = true;
    let c = a.start_beside(outside).await;
    c.client().with_token(alice.token.as_deref()).add_member(&team, "bob@example.test", "member").await;

    let tablet = sync_client(&b, &bob_b, "tablet").await;
    let again = tablet.open(&url).await.expect("open").expect("opens through B once a member again");
    text_when(&again, |t| t == "v1").await;
}
