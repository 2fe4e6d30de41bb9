//! What a device forgets when the right to it ends: the next account to sign in after the relay ended a
//! sign-in starts from an empty store (the same account keeps its own), nothing is readable while signed
//! out, and a team or a document that dropped out of the relay's lists while the device was away takes what
//! the device kept of it along (a team's documents' content included).

use std::time::Duration;

use serde_json::json;
use sqlx::ConnectOptions as _;
use teamflow_node::{Node, NodeError};
use teamflow_protocol::{DocumentUrl, Role};
use teamflow_tests::{DataDir, TestRelay, alice_and_bob, join, text_when, watch_until, within};

async fn node(dir: &DataDir, relay: &TestRelay) -> Node {
    Node::open(dir.path(), &relay.url("")).await.expect("open node")
}

/// Signs the account out on every device, as the person would from another one.
pub(crate) async fn sign_out_everywhere(relay: &TestRelay, email: &str, password: &str) {
    let (status, login) =
        relay.client().post("/api/auth/login", &json!({ "email": email, "password": password })).await;
    assert!(status.is_success(), "{login}");
    let elsewhere = relay.client().with_token(login["access_token"].as_str());
    assert!(elsewhere.post("/api/auth/logout-all", &json!({})).await.0.is_success());
}

/// The node's store in `dir`, read beside the open node.
async fn store(dir: &DataDir) -> sqlx::SqliteConnection {
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("node.db"))
        .read_only(true)
        .connect()
        .await
        .expect("open the store")
}

/// Rows of `table` in the node's store in `dir` (read beside the open node).
async fn rows(dir: &DataDir, table: &str) -> i64 {
    let mut store = store(dir).await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&mut store)
        .await
        .expect("count")
}

/// Stored chunks of the document at `url` in the node's store in `dir`.
async fn chunks(dir: &DataDir, url: &DocumentUrl) -> i64 {
    let mut store = store(dir).await;
    sqlx::query_scalar("SELECT COUNT(*) FROM sync_chunks WHERE key LIKE ? || '/%'")
        .bind(url.document_id())
        .fetch_one(&mut store)
        .await
        .expect("count")
}

/// Whether the node has finished purging the forgotten document at `url` (content deleted, log emptied).
async fn purged(dir: &DataDir, url: &DocumentUrl) -> bool {
    let mut store = store(dir).await;
    sqlx::query_scalar::<_, i64>("SELECT purged FROM forgotten_documents WHERE document_id = ?")
        .bind(url.as_str())
        .fetch_optional(&mut store)
        .await
        .expect("read")
        == Some(1)
}

/// Waits until the node has purged the forgotten document at `url`.
async fn until_purged(dir: &DataDir, url: &DocumentUrl) {
    tokio::time::timeout(Duration::from_secs(30), async {
        while !purged(dir, url).await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{url} was not purged"));
}

/// Whether `text` can be read anywhere in the store's files (deleted rows leave their bytes in free pages
/// and in the write-ahead log until something overwrites them).
fn readable_in_store(dir: &DataDir, text: &str) -> bool {
    ["node.db", "node.db-wal"].iter().any(|file| {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        bytes.windows(text.len()).any(|w| w == text.as_bytes())
    })
}

#[tokio::test]
async fn after_the_relay_ends_a_sign_in_the_next_account_inherits_nothing_and_the_same_one_keeps_its_own() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "the plan for Friday").await.expect("message");
    alice.messages(team).await.expect("alice reads the chat");
    assert_eq!(alice.search("friday", 10).await.expect("search").len(), 1);
    // One more written while the relay is away: it waits in the outbox.
    let addr = relay.addr;
    let dir = relay.stop().await;
    alice.send_message(team, "and the budget").await.expect("queued");
    alice.close().await;
    let relay = TestRelay::start_again(dir, addr).await;

    // Alice signs out everywhere from another device: the relay ends this device's sign-in too.
    sign_out_everywhere(&relay, "alice@example.test", "correct horse").await;
    let device = node(&a_dir, &relay).await;
    assert!(matches!(device.teams().await, Err(NodeError::SignedOut)), "the relay ended the sign-in");
    // Nothing the store holds is readable while nobody is signed in.
    assert!(matches!(device.search("friday", 10).await, Err(NodeError::SignedOut)));
    assert!(matches!(device.outbox().await, Err(NodeError::SignedOut)));

    // Alice again: her cache, her index and her undelivered message are still hers.
    device.sign_in("alice@example.test", "correct horse").await.expect("alice signs in again");
    assert_eq!(device.search("friday", 10).await.expect("search").len(), 1, "alice keeps her own data");
    assert_eq!(device.outbox().await.expect("outbox").len(), 1, "alice keeps her undelivered message");
    device.close().await;
    sign_out_everywhere(&relay, "alice@example.test", "correct horse").await;

    // Someone else on the same device: an empty store, and alice's message is never sent as theirs.
    let device = node(&a_dir, &relay).await;
    assert!(matches!(device.teams().await, Err(NodeError::SignedOut)));
    device.sign_up("carol@example.test", "staple battery horse", "Carol").await.expect("carol signs up");
    assert!(device.search("friday", 10).await.expect("search").is_empty(), "carol finds none of alice's chat");
    assert!(device.outbox().await.expect("outbox").is_empty(), "alice's undelivered message is not carol's");
    for table in ["cached_messages", "search_items", "cached_teams", "outbox"] {
        assert_eq!(rows(&a_dir, table).await, 0, "{table} still holds alice's rows");
    }
    device.close().await;
}

#[tokio::test]
async fn a_team_that_dropped_out_while_the_device_was_away_is_forgotten_on_the_next_list() {
    let relay = TestRelay::start().await;
    let (_a, alice, b_dir, bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "the plan for Friday").await.expect("message");
    bob.messages(team).await.expect("bob reads the chat");
    let (url, _doc) = bob.create_document(team, "Salaries", "Confidential figures").await.expect("document");
    bob.documents(team).await.expect("bob lists the documents");
    assert!(!bob.search("friday", 10).await.expect("search").is_empty());
    assert!(!bob.search("salaries", 10).await.expect("search").is_empty());
    assert_eq!(rows(&b_dir, "document_teams").await, 1, "{url} belongs to the team");

    // Removed while bob's device is in no room of the team: no frame tells it.
    let bob_id = bob.user().await.expect("bob").id;
    alice.remove_member(team, bob_id).await.expect("remove bob");

    // The next list of teams no longer has it: what the device kept of it goes.
    assert!(bob.teams().await.expect("teams").is_empty());
    assert!(bob.search("friday", 10).await.expect("search").is_empty(), "the team's chat is forgotten");
    assert!(bob.search("salaries", 10).await.expect("search").is_empty(), "the team's documents are forgotten");
    for table in ["cached_messages", "cached_teams", "document_teams", "search_items"] {
        assert_eq!(rows(&b_dir, table).await, 0, "{table} still holds the team's rows");
    }
    bob.close().await;
}

#[tokio::test]
async fn a_document_deleted_while_the_device_was_away_is_forgotten_on_the_next_list_and_one_made_offline_stays() {
    let relay = TestRelay::start().await;
    let (_a, alice, b_dir, bob, team) = alice_and_bob(&relay).await;
    let (salaries, _doc) = bob.create_document(team, "Salaries", "Confidential figures").await.expect("document");
    bob.documents(team).await.expect("bob lists the documents");
    assert!(!bob.search("salaries", 10).await.expect("search").is_empty());

    // Deleted by alice while bob's device is in no room of the team: no frame tells it.
    alice.delete_document(team, &salaries).await.expect("alice deletes it");
    // And one bob makes offline: its registration waits in the outbox, so the relay does not list it yet.
    let addr = relay.addr;
    let dir = relay.stop().await;
    let (draft, _doc) = bob.create_document(team, "Draft", "written offline").await.expect("made offline");
    let _relay = TestRelay::start_again(dir, addr).await;

    let listed = bob.documents(team).await.expect("the next list");
    // The relay lists neither; the draft is listed from the outbox, where its registration waits.
    assert_eq!(listed.iter().map(|d| d.document_id.to_string()).collect::<Vec<_>>(), [draft.to_string()]);
    assert!(bob.search("salaries", 10).await.expect("search").is_empty(), "the deleted document is forgotten");
    assert_eq!(rows(&b_dir, "document_teams").await, 1, "only the draft keeps its team entry");
    assert_eq!(bob.outbox().await.expect("outbox").len(), 1, "the draft's registration still waits");
    assert_eq!(bob.flush().await.expect("flush").delivered, 1);
    let listed = bob.documents(team).await.expect("listed once registered");
    assert_eq!(listed.iter().map(|d| d.document_id.to_string()).collect::<Vec<_>>(), [draft.to_string()]);
    assert_eq!(rows(&b_dir, "document_teams").await, 1);
    bob.close().await;
}

#[tokio::test]
async fn when_the_relay_ends_a_sign_in_the_next_call_signs_the_device_out() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "the plan for Friday").await.expect("message");
    alice.messages(team).await.expect("alice reads the chat");
    assert!(alice.credential_store().is_some());

    sign_out_everywhere(&relay, "alice@example.test", "correct horse").await;
    // Her access token is still within its lifetime, but the relay no longer takes it: the first call finds
    // the sign-in over, not a refused request to retry later.
    assert!(matches!(alice.teams().await, Err(NodeError::SignedOut)), "signed out at the first call");
    assert_eq!(alice.credential_store(), None, "the refresh token is forgotten");
    assert!(matches!(alice.search("friday", 10).await, Err(NodeError::SignedOut)), "and nothing is read");
    // Signing in again works, and her data is still hers.
    alice.sign_in("alice@example.test", "correct horse").await.expect("sign in again");
    assert_eq!(alice.search("friday", 10).await.expect("search").len(), 1);
    alice.close().await;
}

#[tokio::test]
async fn a_removed_members_device_purges_the_teams_documents_and_opens_them_no_more_until_they_rejoin() {
    let relay = TestRelay::start().await;
    let (_a, alice, b_dir, bob, team) = alice_and_bob(&relay).await;
    bob.close().await;
    // Bob's device again (its sign-in restored), unloading unused documents quickly.
    let bob = node(&b_dir, &relay).await.with_unload_idle(Duration::from_millis(200));
    bob.go_online().await.expect("online");
    let mut loaded = bob.loaded_documents().await.expect("sync client");
    let (salaries, closed) =
        bob.create_document(team, "Salaries", "Confidential figures Wxyzzyplugh").await.expect("document");
    let (roadmap, open) = bob.create_document(team, "Roadmap", "Secret launch date").await.expect("document");
    for handle in [&closed, &open] {
        assert!(
            within("the relay to acknowledge the document", bob.synced_with_relay(handle)).await.expect("synced"),
            "the relay has it"
        );
    }
    drop(closed);
    let salaries_id: teamflow_sync::samod::DocumentId = salaries.document_id().parse().expect("id");
    watch_until(&mut loaded, "the closed document to unload", |ids| !ids.contains(&salaries_id)).await;
    assert!(chunks(&b_dir, &salaries).await > 0 && chunks(&b_dir, &roadmap).await > 0);
    for text in ["Confidential figures", "Secret launch date", "wxyzzyplugh"] {
        // The last as the search index keeps its words.
        assert!(readable_in_store(&b_dir, text), "{text} is stored to begin with");
    }

    // Removed while bob's device is in no room of the team; the next list of teams tells it.
    let bob_id = bob.user().await.expect("bob").id;
    alice.remove_member(team, bob_id).await.expect("remove bob");
    assert!(bob.teams().await.expect("teams").is_empty());

    // The document not in memory is gone from the store, to its last byte (at once, unless the sync
    // client's lock was taken just then: its follower purges it instead).
    until_purged(&b_dir, &salaries).await;
    assert_eq!(chunks(&b_dir, &salaries).await, 0, "the removed team's document is still stored");
    assert!(!readable_in_store(&b_dir, "Confidential figures"), "its text is still readable in the store's files");
    assert!(!readable_in_store(&b_dir, "wxyzzyplugh"), "its words are still readable in the search index");
    // Neither opens any more, the one still open here included.
    assert!(bob.open_document(&salaries).await.expect("open").is_none(), "opened from what the device kept");
    assert!(bob.open_document(&roadmap).await.expect("open").is_none(), "opened from what the device kept");
    // The one still open goes once it is closed and leaves memory, even with an edit made after the team
    // was forgotten, which the relay never takes.
    assert!(chunks(&b_dir, &roadmap).await > 0, "not purged under samod's feet while loaded");
    teamflow_sync::splice_text(&open, 0, 0, "Late: ").expect("an edit on the open document");
    drop(open);
    until_purged(&b_dir, &roadmap).await;
    assert_eq!(chunks(&b_dir, &roadmap).await, 0, "the removed team's open document is still stored");
    assert!(!readable_in_store(&b_dir, "Secret launch date"), "its text is still readable in the store's files");

    // Invited back: the team's documents open again, whole, from the relay.
    join(&alice, team, &bob, "bob@example.test", Role::Member).await;
    assert_eq!(bob.documents(team).await.expect("documents").len(), 2);
    // At once: the relay's live connection, and this device's own share decision for the relay, may still
    // hold the denial until they hear of the rejoin; each decides again when asked (samod's recheck).
    let again = bob.open_document(&salaries).await.expect("open").expect("opens from the relay once a member again");
    assert!(within("the relay's copy to arrive", bob.caught_up_with_relay(&again)).await.expect("caught up"));
    assert_eq!(teamflow_sync::read_text(&again), "Confidential figures Wxyzzyplugh");
    drop(again);
    bob.close().await;
}

#[tokio::test]
async fn a_deleted_document_is_kept_while_it_can_be_restored_then_purged_and_a_restore_brings_it_back() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, b_dir, bob, team) = alice_and_bob(&relay).await;
    alice.close().await;
    bob.close().await;
    // Both devices again, unloading unused documents quickly; bob's purges a deleted document a second after
    // it learns of it, alice's keeps it as long as the relay can restore it (30 days).
    let alice = node(&a_dir, &relay).await.with_unload_idle(Duration::from_millis(200));
    let bob = node(&b_dir, &relay)
        .await
        .with_unload_idle(Duration::from_millis(200))
        .with_deleted_documents_kept(Duration::from_secs(1));
    for device in [&alice, &bob] {
        device.go_online().await.expect("online");
    }
    let (salaries, handle) =
        bob.create_document(team, "Salaries", "Confidential figures Wxyzzyplugh").await.expect("document");
    assert!(within("the relay to acknowledge it", bob.synced_with_relay(&handle)).await.expect("synced"));
    drop(handle);
    alice.documents(team).await.expect("alice lists it");
    let copy = alice.open_document(&salaries).await.expect("open").expect("a member opens it");
    assert!(within("the relay's copy to arrive", alice.caught_up_with_relay(&copy)).await.expect("caught up"));
    drop(copy);
    // Stored once out of memory.
    let id: teamflow_sync::samod::DocumentId = salaries.document_id().parse().expect("id");
    for (device, dir) in [(&alice, &a_dir), (&bob, &b_dir)] {
        let mut loaded = device.loaded_documents().await.expect("sync client");
        watch_until(&mut loaded, "the closed document to unload", |ids| !ids.contains(&id)).await;
        assert!(chunks(dir, &salaries).await > 0, "both devices store it");
    }

    alice.delete_document(team, &salaries).await.expect("delete");
    assert!(bob.documents(team).await.expect("the next list").is_empty());
    // Past bob's time: his device purges it, to its last byte, and opens it no more.
    until_purged(&b_dir, &salaries).await;
    assert_eq!(chunks(&b_dir, &salaries).await, 0);
    assert!(!readable_in_store(&b_dir, "Confidential figures"), "its text is still readable in bob's store");
    assert!(bob.open_document(&salaries).await.expect("open").is_none(), "opened from what the device kept");
    // Alice's device, within its time, still has it (it would have purged it as soon as it left memory).
    assert!(chunks(&a_dir, &salaries).await > 0, "purged before the relay stopped restoring it");
    assert!(!purged(&a_dir, &salaries).await);

    // Restored: both devices list it again and open it, whole, bob's from the relay.
    alice.restore_document(team, &salaries).await.expect("restore");
    assert_eq!(bob.documents(team).await.expect("listed again").len(), 1);
    for (who, device) in [("alice", &alice), ("bob", &bob)] {
        let again = device.open_document(&salaries).await.expect("open").expect("restored: it opens again");
        let what = format!("the relay's copy on {who}'s device");
        assert!(within(&what, device.caught_up_with_relay(&again)).await.expect("caught up"));
        assert_eq!(teamflow_sync::read_text(&again), "Confidential figures Wxyzzyplugh");
    }
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_member_invited_back_while_a_document_is_still_open_gets_what_was_written_meanwhile() {
    let relay = TestRelay::start().await;
    let (_a, alice, b_dir, bob, team) = alice_and_bob(&relay).await;
    bob.close().await;
    let bob = node(&b_dir, &relay).await.with_unload_idle(Duration::from_millis(200));
    bob.go_online().await.expect("online");
    alice.go_online().await.expect("online");
    let (roadmap, open) = bob.create_document(team, "Roadmap", "Launch in May").await.expect("document");
    assert!(within("the relay to acknowledge it", bob.synced_with_relay(&open)).await.expect("synced"));
    alice.documents(team).await.expect("alice lists it");
    let alices = alice.open_document(&roadmap).await.expect("open").expect("a member opens it");
    assert!(within("the relay's copy to arrive", alice.caught_up_with_relay(&alices)).await.expect("caught up"));

    // Bob is removed while the document is open on his device: it stays loaded (not purged under samod's
    // feet), and opens no more.
    let bob_id = bob.user().await.expect("bob").id;
    alice.remove_member(team, bob_id).await.expect("remove bob");
    assert!(bob.teams().await.expect("teams").is_empty());
    assert!(bob.open_document(&roadmap).await.expect("open").is_none());
    assert!(chunks(&b_dir, &roadmap).await > 0, "purged while open");

    // Written while he is out, then he is invited back with the document still open on his device.
    teamflow_sync::splice_text(&alices, 0, 0, "Moved: ").expect("alice's edit");
    assert!(within("the relay to take alice's edit", alice.synced_with_relay(&alices)).await.expect("synced"));
    join(&alice, team, &bob, "bob@example.test", Role::Member).await;
    assert_eq!(bob.documents(team).await.expect("documents").len(), 1);
    let again = bob.open_document(&roadmap).await.expect("open").expect("opens once a member again");
    // Waited for as it arrives: the document was loaded all along, so "caught up with the relay" would
    // answer from what the relay said before the removal, until its answer to the device's new share
    // decision comes (CI met exactly that).
    assert_eq!(text_when(&again, |text| text.starts_with("Moved: ")).await, "Moved: Launch in May");
    drop((open, again, alices));
    alice.close().await;
    bob.close().await;
}
