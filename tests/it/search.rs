//! The node's local search (SQLite FTS5): messages, projects and documents of every team the device has
//! seen, found offline, by stems and prefixes, with highlighted snippets; hostile queries are plain text;
//! what arrives live in a room is found without a refetch; sign-out empties the index.

use std::sync::Arc;

use teamflow_node::{MATCH_END, MATCH_START, NodeError, SearchTarget, Session, SessionEvent, Splice};
use teamflow_protocol::api::teams::ProjectInput;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_tests::session_events::{Events, loopback};
use teamflow_tests::{TestRelay, alice_and_bob};

fn marked(word: &str) -> String {
    format!("{MATCH_START}{word}{MATCH_END}")
}

#[tokio::test]
async fn messages_projects_and_documents_are_found_offline_by_stem_and_prefix() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    bob.send_message(team, "We deployed the billing service last night").await.expect("bob posts");
    bob.send_message(team, "Lunch at noon?").await.expect("bob posts");
    let alice_id = alice.user().await.expect("signed in").id;
    let mention = teamflow_protocol::mentions::mention(alice_id, "Alice");
    bob.send_message(team, &format!("{mention} can you review?")).await.expect("bob mentions alice");
    let project = ProjectInput {
        name: "Kubernetes migration".into(),
        description: "Move every service".into(),
        status: None,
        document_id: None,
        owner_id: None,
        due_date: None,
        client_id: None,
    };
    alice.create_project(team, project).await.expect("project");
    let (url, _handle) =
        alice.create_document(team, "Runbook", "Rollback: redeploy the previous release").await.expect("document");

    // What the device fetched is indexed as it is cached.
    assert_eq!(alice.messages(team).await.expect("messages").len(), 3);
    alice.projects(team).await.expect("projects");
    alice.documents(team).await.expect("documents");
    let dir = relay.stop().await;

    // Offline: a stem ("deploying" finds "deployed"), a prefix ("kube"), a document's text and title.
    let hits = alice.search("deploying", 10).await.expect("search");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].team_id, team);
    assert_eq!(hits[0].target, SearchTarget::Message { seq: 1 });
    assert_eq!(hits[0].title, "Bob");
    assert!(hits[0].snippet.contains(&marked("deployed")), "{:?}", hits[0].snippet);

    let hits = alice.search("kube", 10).await.expect("search");
    assert!(matches!(&hits[..], [hit] if matches!(hit.target, SearchTarget::Project { .. })), "{hits:?}");
    assert_eq!(hits[0].title, format!("{} migration", marked("Kubernetes")), "the whole word is marked");

    let hits = alice.search("rollback previous", 10).await.expect("search");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].target, SearchTarget::Document { url: url.to_string() });
    assert_eq!(hits[0].title, "Runbook");
    let hits = alice.search("runbook", 10).await.expect("search");
    assert_eq!(hits.len(), 1, "a document is found by its title: {hits:?}");

    // A mention is found by its name and shown as read; its wire form (a user id) is not in the index.
    let hits = alice.search("alice review", 10).await.expect("search");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].snippet.contains(&format!("@{} can you", marked("Alice"))), "{:?}", hits[0].snippet);
    assert!(alice.search("user", 10).await.expect("search").is_empty(), "no message matches its mention's wire form");
    assert!(alice.search(&alice_id.to_string()[..8], 10).await.expect("search").is_empty());

    // Every word must match; nothing found is an empty answer.
    assert!(alice.search("billing lunch", 10).await.expect("search").is_empty());
    assert!(alice.search("zebra", 10).await.expect("search").is_empty());
    drop(dir);
}

#[tokio::test]
async fn hostile_and_empty_queries_are_plain_text_never_errors() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "NEAR the \"quoted\" col:umn (parens) and a*star").await.expect("post");
    alice.messages(team).await.expect("messages");
    for query in ["", "   ", "\"", "*", "NEAR(", "a OR", "col:", "(((", "\u{2}\u{3}", "'; DROP TABLE search_items; --"]
    {
        alice.search(query, 10).await.unwrap_or_else(|e| panic!("{query:?} failed: {e}"));
    }
    for query in ["NEAR", "\"quoted\"", "col:umn", "(parens)"] {
        let hits = alice.search(query, 10).await.expect("search");
        assert_eq!(hits.len(), 1, "{query:?} finds the message as plain words: {hits:?}");
    }
    let long = "word ".repeat(10_000);
    assert!(alice.search(&long, 10).await.expect("a very long query is cut, not refused").is_empty());
    // The table survived the injection attempt above.
    assert_eq!(alice.search("parens", 10).await.expect("search").len(), 1);
}

#[tokio::test]
async fn what_arrives_live_is_found_and_sign_out_empties_the_index() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let (alice_sink, mut events) = Events::sink();
    let session = Session::start(Arc::new(alice), alice_sink, loopback()).await;
    session.join_room(team).await.expect("join");
    events.wait("team_state", |e| matches!(e, SessionEvent::Room { frame: ServerMessage::TeamState { .. }, .. })).await;

    // A teammate's message, heard in the room: found without fetching history.
    bob.send_message(team, "The quarterly roadmap is ready for review").await.expect("bob posts");
    events
        .wait("bob's message", |e| matches!(e, SessionEvent::Room { frame: ServerMessage::NewMessage { .. }, .. }))
        .await;
    let hits = session.node().search("roadmap", 10).await.expect("search");
    assert_eq!(hits.len(), 1, "{hits:?}");

    // A document typed in: its text is indexed while open, and finally when it closes.
    let (url, _handle) = session.node().create_document(team, "Notes", "").await.expect("document");
    let url = url.to_string();
    let opened = session.open_document(&url).await.expect("open");
    let base: Vec<String> = opened.heads.iter().map(ToString::to_string).collect();
    let edit = Splice { position: 0, delete: 0, insert: "Retrospective actions".into() };
    session.edit_document(&url, &base, &[edit]).await.expect("edit");
    session.close_document(&url).await;
    session.close().await;
    let hits = session.node().search("retrospective", 10).await.expect("search");
    assert_eq!(hits.len(), 1, "the text typed before closing is found: {hits:?}");

    session.node().sign_out().await.expect("sign out");
    assert!(
        matches!(session.node().search("roadmap", 10).await, Err(NodeError::SignedOut)),
        "nothing searched signed out"
    );
    // Signed in again: the index was emptied, not just hidden.
    session.node().sign_in("alice@example.test", "correct horse").await.expect("sign in again");
    assert!(session.node().search("roadmap", 10).await.expect("search").is_empty(), "sign-out forgets the index");
    assert!(session.node().search("notes", 10).await.expect("search").is_empty());
}

#[tokio::test]
async fn a_team_one_is_removed_from_or_leaves_is_forgotten_on_the_device() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "Salary bands for next year").await.expect("post");
    let bob_id = bob.user().await.expect("bob").id;
    let (bob_sink, mut events) = Events::sink();
    let bob = Session::start(Arc::new(bob), bob_sink, loopback()).await;
    bob.join_room(team).await.expect("join");
    events.wait("team_state", |e| matches!(e, SessionEvent::Room { frame: ServerMessage::TeamState { .. }, .. })).await;
    bob.node().messages(team).await.expect("bob reads the chat");
    assert_eq!(bob.node().search("salary", 10).await.expect("search").len(), 1);

    // Removed by the owner: the room says so, and what bob's device kept of the team goes with it.
    alice.remove_member(team, bob_id).await.expect("remove bob");
    events
        .wait("access revoked", |e| matches!(e, SessionEvent::Room { frame: ServerMessage::AccessRevoked { .. }, .. }))
        .await;
    assert!(bob.node().search("salary", 10).await.expect("search").is_empty(), "the index forgot the team");
    let dir = relay.stop().await;
    assert!(
        matches!(bob.node().messages(team).await.as_deref(), Ok([])),
        "offline, no cached message of the team is left"
    );
    bob.close().await;
    drop(dir);
}

#[tokio::test]
async fn leaving_a_team_forgets_it_and_the_last_owner_cannot_leave() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "Quarterly planning notes").await.expect("post");
    bob.messages(team).await.expect("bob reads");
    assert_eq!(bob.search("quarterly", 10).await.expect("search").len(), 1);
    bob.leave_team(team).await.expect("bob leaves");
    assert!(bob.search("quarterly", 10).await.expect("search").is_empty());
    assert!(bob.teams().await.expect("teams").iter().all(|t| t.id != team));
    let refused = alice.leave_team(team).await;
    assert!(
        matches!(&refused, Err(teamflow_node::NodeError::Api(teamflow_node::ApiFailure::Refused { status: 409, .. }))),
        "{refused:?}"
    );
    assert_eq!(alice.search("quarterly", 10).await.expect("search").len(), 1, "a refused leave forgets nothing");
}
