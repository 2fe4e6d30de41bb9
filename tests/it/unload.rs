//! Memory follows the working set: the relay drops a document no connected device has open, the node one
//! that is neither open nor syncing, each after an idle period, and loads it again on demand; no edit is
//! lost across an unload, and a document a connected device has open is never unloaded.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use teamflow_node::Node;
use teamflow_protocol::DocumentUrl;
use teamflow_sync::samod::DocumentId;
use teamflow_sync::{SyncClient, read_text, splice_text};
use teamflow_tests::{
    Client, DataDir, TestRelay, TwoMemberTeam, metric, sync_client, test_config, text_when, watch_until, within,
};
use tokio::sync::watch;

/// The relay's idle period in these tests: short to wait for, far longer than a tick of samod's (100 ms).
const IDLE_MS: u64 = 200;

type Loaded = watch::Receiver<HashSet<DocumentId>>;

/// A team on a relay that unloads documents after `idle_ms`, and the documents it holds in memory.
async fn team_unloading_after(idle_ms: u64) -> (TwoMemberTeam, Loaded) {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.limits.sync_unload_idle_ms = idle_ms;
    let (loaded_tx, loaded) = watch::channel(HashSet::new());
    config.documents_loaded = Some(loaded_tx);
    (TwoMemberTeam::on(TestRelay::start_with(dir, config).await).await, loaded)
}

fn id(url: &DocumentUrl) -> DocumentId {
    url.document_id().parse().expect("a document id")
}

/// Creates a text document, registers it to `team` and waits until the relay holds it.
async fn shared_document(
    sync: &mut SyncClient,
    owner: &Client,
    team: &str,
    text: &str,
) -> (DocumentUrl, teamflow_sync::samod::DocHandle) {
    let (url, handle) = sync.create_text(text).await.expect("create");
    let (status, body) =
        owner.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": url, "title": "Notes" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    sync.reconnect().await.expect("reconnect");
    assert!(
        within("the relay to acknowledge the document", sync.synced_with_relay(&handle)).await,
        "the relay has the document"
    );
    (url, handle)
}

async fn unloaded(loaded: &mut Loaded, url: &DocumentUrl, what: &str) {
    let id = id(url);
    watch_until(loaded, what, |ids| !ids.contains(&id)).await;
}

#[tokio::test]
async fn a_document_its_last_device_left_is_unloaded_and_a_later_device_gets_it_whole_and_edits_it() {
    let (t, mut loaded) = team_unloading_after(IDLE_MS).await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, doc) = shared_document(&mut alice, &t.alice, &t.id, "hello").await;
    assert!(loaded.borrow().contains(&id(&url)));
    assert_eq!(metric(&t.relay, "teamflow_sync_documents_loaded").await, 1);

    drop(doc);
    alice.stop().await;
    unloaded(&mut loaded, &url, "the document its last device left to unload").await;
    assert_eq!(metric(&t.relay, "teamflow_sync_documents_loaded").await, 0, "the gauge follows");

    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("loaded again from the database");
    text_when(&b_doc, |t| t == "hello").await;
    assert!(loaded.borrow().contains(&id(&url)));
    splice_text(&b_doc, 5, 0, " world").expect("edit");
    assert!(within("the relay to acknowledge the document", bob.synced_with_relay(&b_doc)).await);

    let phone = sync_client(&t.relay, &t.alice, "phone").await;
    let a_doc = phone.open(&url).await.expect("open").expect("found");
    text_when(&a_doc, |t| t == "hello world").await;
}

#[tokio::test]
async fn edits_racing_the_unload_are_never_lost() {
    // One millisecond: every samod tick unloads whatever no device has open.
    let (t, mut loaded) = team_unloading_after(1).await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let mut urls = Vec::new();
    for _ in 0..4 {
        let (url, doc) = shared_document(&mut alice, &t.alice, &t.id, "").await;
        drop(doc);
        urls.push(url);
    }
    alice.stop().await;

    let mut expected = String::new();
    for round in 0..8 {
        // A device opens every document, edits each, leaves as soon as the relay acknowledged the edits.
        let (client, device) = if round % 2 == 0 { (&t.alice, "laptop") } else { (&t.bob, "desktop") };
        let device = sync_client(&t.relay, client, device).await;
        let line = format!("{round};");
        let mut docs = Vec::new();
        for url in &urls {
            let doc = device.open(url).await.expect("open").expect("found");
            text_when(&doc, |t| t == expected).await;
            splice_text(&doc, expected.chars().count(), 0, &line).expect("edit");
            docs.push(doc);
        }
        for doc in &docs {
            assert!(
                within("the relay to acknowledge the document", device.synced_with_relay(doc)).await,
                "the relay acknowledged the edit"
            );
        }
        drop(docs);
        device.stop().await;
        expected.push_str(&line);
        // Every other round the next device comes while the relay may still be unloading; otherwise after.
        if round % 2 == 1 {
            for url in &urls {
                unloaded(&mut loaded, url, "the documents to unload").await;
            }
        }
    }
    let check = sync_client(&t.relay, &t.alice, "check").await;
    for url in &urls {
        let doc = check.open(url).await.expect("open").expect("found");
        assert_eq!(text_when(&doc, |t| t == expected).await, expected, "every acknowledged edit is there");
    }
}

#[tokio::test]
async fn a_document_with_a_connected_device_is_never_unloaded() {
    let (t, mut loaded) = team_unloading_after(IDLE_MS).await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "kept").await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    text_when(&b_doc, |t| t == "kept").await;

    // A marker used after the kept document and then left: once it is unloaded, the kept document has been
    // idle longer than the period (were its devices not counted) and has been considered too.
    let mut tablet = sync_client(&t.relay, &t.alice, "tablet").await;
    let (marker, marker_doc) = shared_document(&mut tablet, &t.alice, &t.id, "marker").await;
    drop(marker_doc);
    tablet.stop().await;
    unloaded(&mut loaded, &marker, "the marker to unload").await;
    assert!(loaded.borrow().contains(&id(&url)), "alice and bob still have it open");
    assert_eq!(metric(&t.relay, "teamflow_sync_documents_loaded").await, 1);

    // Still the live document both are on: bob's edit reaches alice through the relay.
    splice_text(&b_doc, 4, 0, "!").expect("edit");
    text_when(&a_doc, |t| t == "kept!").await;
}

/// A signed-up node that unloads documents after `IDLE_MS`, online, with a team.
async fn unloading_node(relay: &TestRelay, dir: &DataDir) -> (Node, teamflow_protocol::TeamId) {
    let node = Node::open(dir.path(), &relay.url(""))
        .await
        .expect("open node")
        .with_unload_idle(Duration::from_millis(IDLE_MS));
    node.sign_up("alice@example.test", teamflow_tests::PASSWORD, "Alice").await.expect("sign up");
    let team = node.create_team("Docs").await.expect("team").id;
    node.go_online().await.expect("online");
    (node, team)
}

#[tokio::test]
async fn the_node_unloads_documents_not_open_and_in_sync_and_loads_them_again_on_use() {
    let relay = TestRelay::start().await;
    let dir = DataDir::new();
    let (node, team) = unloading_node(&relay, &dir).await;
    let mut loaded = node.loaded_documents().await.expect("sync client");
    let (open_url, open) = node.create_document(team, "Open", "open").await.expect("create");
    let (closed_url, closed) = node.create_document(team, "Closed", "closed").await.expect("create");
    assert!(within("the relay to acknowledge the document", node.synced_with_relay(&open)).await.expect("synced"));
    assert!(within("the relay to acknowledge the document", node.synced_with_relay(&closed)).await.expect("synced"));

    drop(closed);
    unloaded(&mut loaded, &closed_url, "the closed document to unload").await;
    assert!(loaded.borrow().contains(&id(&open_url)), "an open document stays loaded");

    // Used again: from the store, whole, and its edit reaches the relay.
    let again = node.open_document(&closed_url).await.expect("open").expect("in the store");
    assert_eq!(read_text(&again), "closed");
    splice_text(&again, 6, 0, "!").expect("edit");
    assert!(within("the relay to acknowledge the document", node.synced_with_relay(&again)).await.expect("synced"));
    drop(again);
    unloaded(&mut loaded, &closed_url, "the document to unload again").await;
    let again = node.open_document(&closed_url).await.expect("open").expect("in the store");
    assert_eq!(read_text(&again), "closed!");
    drop((open, again));
    node.close().await;
}

#[tokio::test]
async fn an_edit_made_offline_keeps_its_document_loaded_until_the_relay_has_it() {
    let relay = TestRelay::start().await;
    let dir = DataDir::new();
    let (node, team) = unloading_node(&relay, &dir).await;
    let mut loaded = node.loaded_documents().await.expect("sync client");
    let (edited_url, edited) = node.create_document(team, "Edited", "draft").await.expect("create");
    let (marker_url, marker) = node.create_document(team, "Marker", "marker").await.expect("create");
    assert!(within("the relay to acknowledge the document", node.synced_with_relay(&edited)).await.expect("synced"));
    assert!(within("the relay to acknowledge the document", node.synced_with_relay(&marker)).await.expect("synced"));

    // Offline, an edit the relay has not got; the document is closed at once.
    node.go_offline().await;
    splice_text(&edited, 5, 0, " v2").expect("edit");
    drop(edited);
    // The marker, synced before going offline, is closed after: once it is unloaded, the edited document
    // has been considered too, and kept, since only it can offer the edit when the link is back.
    drop(marker);
    unloaded(&mut loaded, &marker_url, "the marker to unload").await;
    assert!(loaded.borrow().contains(&id(&edited_url)), "the offline edit keeps its document loaded");

    // Back online the edit reaches the relay, and then the document may go.
    node.go_online().await.expect("online");
    unloaded(&mut loaded, &edited_url, "the document, once synced, to unload").await;
    let phone = sync_client(&relay, &relay.client().sign_in("alice@example.test").await, "phone").await;
    let doc = phone.open(&edited_url).await.expect("open").expect("on the relay");
    assert_eq!(text_when(&doc, |t| t == "draft v2").await, "draft v2");
    node.close().await;
}
