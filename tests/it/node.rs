//! The headless node against a real relay: sign-in that survives restarts, chat through the outbox
//! delivered exactly once and in order after being offline, refused changes marked failed, offline reading.

use teamflow_node::{CredentialStore, DocSync, Link, Node, NodeError, OutboxKind, OutboxState};
use teamflow_protocol::Role;
use teamflow_protocol::api::messages::Message;
use teamflow_protocol::api::projects::ProjectPatch;
use teamflow_protocol::api::teams::{DocumentEntry, ProjectStatus};
use teamflow_protocol::realtime::ServerMessage;
use teamflow_tests::{DataDir, TestRelay, alice_and_bob, test_config, watch_until, within};

async fn node(dir: &DataDir, relay: &TestRelay) -> Node {
    Node::open(dir.path(), &relay.url("")).await.expect("open node")
}

fn contents(messages: &[Message]) -> Vec<&str> {
    messages.iter().map(|m| m.content.as_str()).collect()
}

#[tokio::test]
async fn two_nodes_chat_through_the_relay() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "hello bob").await.expect("send");
    bob.send_message(team, "hi alice").await.expect("send");
    assert_eq!(contents(&alice.messages(team).await.expect("read")), ["hello bob", "hi alice"]);
    assert_eq!(alice.status().await.expect("status").pending, 0);
    let teams = bob.teams().await.expect("teams");
    assert_eq!(teams.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Node"]);
}

#[tokio::test]
async fn messages_written_offline_arrive_once_and_in_order() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "before").await.expect("send");

    let addr = relay.addr;
    let dir = relay.stop().await;
    for text in ["one", "two", "three"] {
        let entry = alice.send_message(team, text).await.expect("queued while offline");
        assert_eq!(entry.state, OutboxState::Pending);
    }
    let status = alice.status().await.expect("status");
    assert_eq!((status.pending, status.failed), (3, 0));
    let report = alice.flush().await.expect("flushing offline is not an error");
    assert_eq!((report.delivered, report.pending), (0, 3));
    assert_eq!(contents(&alice.messages(team).await.expect("cached")), ["before"], "offline reading uses the cache");

    let _relay = TestRelay::start_again(dir, addr).await;
    let report = alice.flush().await.expect("flush");
    assert_eq!((report.delivered, report.failed, report.pending), (3, 0, 0));
    assert_eq!(alice.flush().await.expect("flush again").delivered, 0, "nothing is sent twice");
    let seen = bob.messages(team).await.expect("read");
    assert_eq!(contents(&seen), ["before", "one", "two", "three"]);
    assert_eq!(seen.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
}

#[tokio::test]
async fn a_change_the_relay_refuses_is_marked_failed_and_not_retried() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let bob_id = bob.user().await.expect("signed in").id;
    // Bob writes while the relay is down; meanwhile he is removed from the team.
    let addr = relay.addr;
    let dir = relay.stop().await;
    bob.send_message(team, "am I still here?").await.expect("queued");
    let _relay = TestRelay::start_again(dir, addr).await;
    alice.remove_member(team, bob_id).await.expect("remove bob");

    let report = bob.flush().await.expect("flush");
    assert_eq!((report.delivered, report.failed, report.pending), (0, 1, 0));
    let outbox = bob.outbox().await.expect("outbox");
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].state, OutboxState::Failed);
    assert_eq!(outbox[0].error_code.as_deref(), Some("not_found"));
    assert_eq!(bob.flush().await.expect("flush again").failed, 0, "a refused change is not retried");
    assert_eq!(bob.status().await.expect("status").failed, 1, "and it is not silently dropped");
    assert!(alice.messages(team).await.expect("read").is_empty(), "nothing reached the team");
}

#[tokio::test]
async fn a_restarted_node_is_still_signed_in_and_reads_its_cache_while_the_relay_is_down() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "remember me").await.expect("send");
    assert_eq!(contents(&alice.messages(team).await.expect("read")), ["remember me"]);
    alice.close().await;

    // Restarted with the relay up: the saved sign-in refreshes into a working session.
    let alice = node(&a_dir, &relay).await;
    assert_eq!(alice.user().await.map(|u| u.display_name), Some("Alice".into()));
    assert_eq!(alice.teams().await.expect("teams").len(), 1);
    alice.close().await;

    // Restarted with the relay down: everything readable comes from the cache.
    let relay_url = relay.url("");
    let _dir = relay.stop().await;
    let alice = Node::open(a_dir.path(), &relay_url).await.expect("open");
    assert!(alice.status().await.expect("status").signed_in);
    assert_eq!(alice.teams().await.expect("cached teams").len(), 1);
    assert_eq!(contents(&alice.messages(team).await.expect("cached messages")), ["remember me"]);
}

/// Where no Secret Service runs (CI, servers, containers: no session bus) the sign-in falls back to a file
/// only the user can read, and a restart finds it there. With a keychain (a desktop) the token is in the
/// keychain and no file may exist; either way the node reports truthfully where it is.
#[tokio::test]
async fn the_sign_in_is_kept_in_the_keychain_or_else_a_private_file_and_survives_a_restart() {
    let relay = TestRelay::start().await;
    let dir = DataDir::new();
    let alice = node(&dir, &relay).await;
    assert_eq!(alice.credential_store(), None);
    alice.sign_up("alice@example.test", "correct horse", "Alice").await.expect("sign up");
    let file = dir.path().join("credentials");
    let store = alice.status().await.expect("status").credentials;
    match store {
        Some(CredentialStore::File) => {
            let token = std::fs::read_to_string(&file).expect("credentials file");
            assert!(token.len() > 20, "the file holds the refresh token");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(&file).expect("stat").permissions().mode();
                assert_eq!(mode & 0o077, 0, "credentials readable by others: {mode:o}");
            }
        }
        Some(CredentialStore::Keychain) => assert!(!file.exists(), "a keychain-held token must not also be on disk"),
        None => panic!("signed in, but the node says the token is nowhere"),
    }
    alice.close().await;

    let alice = node(&dir, &relay).await;
    assert_eq!(alice.credential_store(), store, "found where it was kept");
    assert_eq!(alice.teams().await.expect("a working session after restart"), []);
    alice.sign_out().await.expect("sign out");
    assert_eq!(alice.credential_store(), None);
    assert!(!file.exists());
    alice.close().await;
    assert!(node(&dir, &relay).await.user().await.is_none(), "signed out for good");
}

#[tokio::test]
async fn signing_out_forgets_tokens_and_local_data() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "bye").await.expect("send");
    alice.sign_out().await.expect("sign out");
    assert!(!a_dir.path().join("credentials").exists());
    assert!(matches!(alice.teams().await, Err(NodeError::SignedOut)));
    alice.close().await;
    let again = node(&a_dir, &relay).await;
    assert!(again.user().await.is_none());
    assert!(matches!(again.messages(team).await, Err(NodeError::SignedOut)));
}

#[tokio::test]
async fn a_document_created_offline_is_registered_and_shared_once_back_online() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, _b, bob, team) = alice_and_bob(&relay).await;
    assert!(alice.documents(team).await.expect("the list, read once online").is_empty());
    let addr = relay.addr;
    let dir = relay.stop().await;

    let (url, doc) = alice.create_document(team, "Plan", "written offline").await.expect("create offline");
    assert_eq!(alice.status().await.expect("status").pending, 1, "the registration waits in the outbox");
    teamflow_sync::splice_text(&doc, 0, 0, "Draft: ").expect("edit offline");
    let titles =
        |list: Vec<DocumentEntry>| list.into_iter().map(|d| (d.document_id.to_string(), d.title)).collect::<Vec<_>>();
    let listed = titles(alice.documents(team).await.expect("the cached list"));
    assert_eq!(listed, [(url.to_string(), "Plan".to_owned())], "in the team's list while its registration waits");

    let _relay = TestRelay::start_again(dir, addr).await;
    assert_eq!(alice.flush().await.expect("flush").delivered, 1);
    let listed = titles(alice.documents(team).await.expect("the relay's list"));
    assert_eq!(listed, [(url.to_string(), "Plan".to_owned())], "once, now from the relay");
    alice.go_online().await.expect("online");
    assert!(within("the relay to acknowledge the document", alice.synced_with_relay(&doc)).await.expect("synced"));

    bob.go_online().await.expect("online");
    let shared = bob.open_document(&url).await.expect("open").expect("bob may read it");
    assert_eq!(teamflow_tests::text_when(&shared, |t| t == "Draft: written offline").await, "Draft: written offline");

    // Both on the document: each sees the other by name and colour (and never themselves).
    let a_presence = alice.join_presence(&doc).await.expect("alice present");
    let b_presence = bob.join_presence(&shared).await.expect("bob present");
    let mut seen = b_presence.peers();
    let peers = watch_until(&mut seen, "alice to show up for bob", |p| p.iter().any(|p| p.name == "Alice")).await;
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert!(peers[0].color.starts_with('#'));
    assert_eq!(peers[0].cursor, None, "no caret until alice places one");
    drop((a_presence, b_presence));

    // The document is kept on the device: a restarted node opens it with the relay gone.
    alice.close().await;
    let relay_url = _relay.url("");
    drop(_relay.stop().await);
    let alice = Node::open(a_dir.path(), &relay_url).await.expect("reopen");
    let local = alice.open_document(&url).await.expect("open").expect("from local storage");
    assert_eq!(teamflow_sync::read_text(&local), "Draft: written offline");
}

/// A document whose registration the relay refused (its author became a viewer meanwhile) stays in the
/// author's list: its content is only on this device, and the list is where it is found.
#[tokio::test]
async fn a_document_whose_registration_was_refused_stays_in_its_authors_list() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    assert!(bob.documents(team).await.expect("the list, read once").is_empty());
    let bob_id = bob.user().await.expect("signed in").id;
    alice.change_role(team, bob_id, Role::Viewer).await.expect("made a viewer");
    let (url, _doc) = bob.create_document(team, "Notes", "mine").await.expect("created here");
    bob.flush().await.expect("flush");
    assert_eq!(bob.status().await.expect("status").failed, 1, "the relay refused the registration");
    let listed: Vec<String> =
        bob.documents(team).await.expect("list").iter().map(|d| d.document_id.to_string()).collect();
    assert_eq!(listed, [url.to_string()]);
}

/// A link opened before its document reached the relay is "not found" then, and opens once the
/// relay holds it: looking again asks again rather than repeating the first answer.
#[tokio::test]
async fn a_document_looked_for_before_it_reached_the_relay_opens_once_it_has() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let addr = relay.addr;
    let dir = relay.stop().await;
    let (url, doc) = alice.create_document(team, "Plan", "not yet shared").await.expect("create offline");

    let _relay = TestRelay::start_again(dir, addr).await;
    bob.go_online().await.expect("online");
    assert!(bob.open_document(&url).await.expect("open").is_none(), "the relay does not hold it yet");

    assert_eq!(alice.flush().await.expect("flush").delivered, 1);
    alice.go_online().await.expect("online");
    assert!(within("the relay to acknowledge the document", alice.synced_with_relay(&doc)).await.expect("synced"));
    let shared = bob.open_document(&url).await.expect("open").expect("the relay holds it now");
    assert_eq!(teamflow_tests::text_when(&shared, |t| t == "not yet shared").await, "not yet shared");
}

#[tokio::test]
async fn one_status_follows_the_link_the_outbox_and_each_document_and_delivery_resumes_by_itself() {
    let relay = TestRelay::start().await;
    let (_a_dir, alice, _b_dir, bob, team) = alice_and_bob(&relay).await;
    let mut status = alice.watch_status();
    let now = status.borrow().clone();
    assert!(now.signed_in && now.credentials.is_some());
    assert_eq!((now.link, now.pending, now.failed), (Link::Offline, 0, 0));
    assert!(now.peers.is_empty() && now.documents.is_empty());

    let alice = std::sync::Arc::new(alice);
    let delivery = tokio::spawn({
        let alice = alice.clone();
        async move { alice.keep_delivering().await }
    });
    alice.go_online().await.expect("online");
    let online = watch_until(&mut status, "the relay link", |s| s.link == Link::Online).await;
    assert_eq!(online.peers, [teamflow_relay::sync::RELAY_PEER_ID]);

    let (plan_url, plan) = alice.create_document(team, "Plan", "v1").await.expect("create");
    watch_until(&mut status, "the new document to sync", |s| s.documents.get(&plan_url) == Some(&DocSync::Synced))
        .await;

    // The relay goes away: the link redials, edits and messages stay here.
    let addr = relay.addr;
    let dir = relay.stop().await;
    watch_until(&mut status, "the link to drop", |s| s.link == Link::Connecting && s.peers.is_empty()).await;
    let writer = alice.text_writer(&plan).await.expect("writer");
    for (i, ch) in " offline".chars().enumerate() {
        writer.splice(teamflow_sync::Splice { position: 2 + i, delete: 0, insert: ch.into() }).await.expect("type");
    }
    writer.flush().await.expect("typed");
    watch_until(&mut status, "the edit to be local-only", |s| s.documents.get(&plan_url) == Some(&DocSync::LocalOnly))
        .await;
    for text in ["one", "two"] {
        alice.send_message(team, text).await.expect("queued");
    }
    let (notes_url, _notes) = alice.create_document(team, "Notes", "made offline").await.expect("create offline");
    let queued = watch_until(&mut status, "three queued changes", |s| s.pending == 3).await;
    assert_eq!(queued.documents.get(&notes_url), Some(&DocSync::LocalOnly), "unregistered, so local only");

    // Back: nothing but the relay coming back makes the node deliver and resync.
    let _relay = TestRelay::start_again(dir, addr).await;
    watch_until(&mut status, "everything delivered and synced", |s| {
        s.link == Link::Online && s.pending == 0 && s.documents.values().all(|d| *d == DocSync::Synced)
    })
    .await;
    delivery.abort();

    assert_eq!(contents(&bob.messages(team).await.expect("messages")), ["one", "two"]);
    bob.go_online().await.expect("bob online");
    for (url, text) in [(&plan_url, "v1 offline"), (&notes_url, "made offline")] {
        let doc = bob.open_document(url).await.expect("open").expect("shared with bob");
        assert_eq!(teamflow_tests::text_when(&doc, |t| t == text).await, text);
    }
}

#[tokio::test]
async fn project_changes_made_offline_arrive_once_and_members_projects_and_activity_read_from_the_cache() {
    let relay = TestRelay::start().await;
    let (_a_dir, alice, _b_dir, bob, team) = alice_and_bob(&relay).await;
    let input = teamflow_tests::project_input;
    let launch = alice.create_project(team, input("Launch")).await.expect("create");
    assert_eq!(launch.kind, OutboxKind::ProjectCreate);
    let projects = alice.projects(team).await.expect("projects");
    assert_eq!(projects.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Launch"]);
    assert_eq!(alice.members(team).await.expect("members").len(), 2);
    assert!(alice.activity(team, None).await.expect("activity").items.is_empty());

    let addr = relay.addr;
    let dir = relay.stop().await;
    alice.create_project(team, input("Written offline")).await.expect("queued");
    let renamed =
        ProjectPatch { name: Some("Launch v2".into()), status: Some(ProjectStatus::Paused), ..ProjectPatch::default() };
    alice.patch_project(team, projects[0].id, renamed).await.expect("queued");
    let queued = alice.outbox().await.expect("outbox");
    assert_eq!(
        queued.iter().map(|e| (e.kind, e.content.as_str())).collect::<Vec<_>>(),
        [(OutboxKind::ProjectCreate, "Written offline"), (OutboxKind::ProjectPatch, "Launch v2")]
    );
    // Offline: the last answers, from the cache; what was never fetched says so.
    assert_eq!(alice.members(team).await.expect("cached members").len(), 2);
    assert_eq!(alice.projects(team).await.expect("cached projects").len(), 1);
    assert!(alice.activity(team, None).await.expect("cached activity").items.is_empty());
    assert!(matches!(bob.projects(team).await, Err(NodeError::NotCached(_))));

    let _relay = TestRelay::start_again(dir, addr).await;
    assert_eq!(alice.flush().await.expect("flush").delivered, 2);
    assert_eq!(alice.flush().await.expect("again").delivered, 0, "nothing left to send twice");
    let seen_by_bob = bob.projects(team).await.expect("projects");
    let mut names: Vec<(&str, ProjectStatus)> = seen_by_bob.iter().map(|p| (p.name.as_str(), p.status)).collect();
    names.sort();
    assert_eq!(names, [("Launch v2", ProjectStatus::Paused), ("Written offline", ProjectStatus::Active)]);
}

#[tokio::test]
async fn a_project_created_online_is_in_the_cache_offline_without_a_read_in_between() {
    let relay = TestRelay::start().await;
    let (_a_dir, alice, _b_dir, _bob, team) = alice_and_bob(&relay).await;
    let input = teamflow_tests::project_input;
    assert!(alice.projects(team).await.expect("projects").is_empty(), "the cached list starts empty");
    alice.create_project(team, input("Launch")).await.expect("create");
    assert_eq!(alice.outbox().await.expect("outbox").len(), 0, "delivered at once");

    let _dir = relay.stop().await;
    let cached = alice.projects(team).await.expect("cached projects");
    assert_eq!(cached.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Launch"], "kept from the relay's answer");
}

/// The next frame from a room subscription that matches `want`, within a deadline.
pub(crate) async fn frame_until(
    room: &mut tokio::sync::mpsc::Receiver<ServerMessage>,
    what: &str,
    mut want: impl FnMut(&ServerMessage) -> bool,
) -> ServerMessage {
    let found = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(frame) = room.recv().await {
            if want(&frame) {
                return Some(frame);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(frame)) => frame,
        Ok(None) => panic!("the room stream ended while waiting for {what}"),
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

#[tokio::test]
async fn a_room_subscription_rejoins_after_the_relay_restarts_and_ends_when_access_is_revoked() {
    let relay = TestRelay::start().await;
    let (_a_dir, alice, _b_dir, bob, team) = alice_and_bob(&relay).await;
    let mut room = bob.subscribe(team).await.expect("subscribe");
    frame_until(&mut room, "the team state", |f| matches!(f, ServerMessage::TeamState { .. })).await;

    let addr = relay.addr;
    let dir = relay.stop().await;
    let _relay = TestRelay::start_again(dir, addr).await;
    // Rejoined by itself: a fresh team state, then live traffic again.
    frame_until(&mut room, "the team state after the restart", |f| matches!(f, ServerMessage::TeamState { .. })).await;
    alice.send_message(team, "after the restart").await.expect("send");
    let message = frame_until(&mut room, "the new message", |f| matches!(f, ServerMessage::NewMessage { .. })).await;
    assert!(matches!(message, ServerMessage::NewMessage { message } if message.content == "after the restart"));

    let bob_id = bob.user().await.expect("bob").id;
    alice.remove_member(team, bob_id).await.expect("remove bob");
    frame_until(&mut room, "the revocation", |f| matches!(f, ServerMessage::AccessRevoked { .. })).await;
    let rest = tokio::time::timeout(std::time::Duration::from_secs(30), room.recv()).await;
    assert!(matches!(rest, Ok(None)), "no redial into a team one has left: {rest:?}");
}

/// A relay that refuses the room (here: another relay on the same address, which never signed this token)
/// is not "unreachable": joining fails with its status and stable code, and is not retried as if offline.
#[tokio::test]
async fn a_room_the_relay_refuses_fails_with_the_relays_code() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    let addr = relay.addr;
    let _dir = relay.stop().await;
    let stranger = DataDir::new();
    let config = test_config(stranger.path());
    let _other = TestRelay::start_at(stranger, config, addr).await;
    match alice.join_room(team).await {
        Err(NodeError::Api(failure @ teamflow_node::ApiFailure::Refused { status: 401, .. })) => {
            assert!(!failure.is_transient(), "a refusal is not retried as if offline: {failure}");
        }
        other => panic!("expected the relay's 401, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_change_can_be_retried_once_the_cause_is_fixed_or_discarded() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let bob_id = bob.user().await.expect("signed in").id;
    alice.remove_member(team, bob_id).await.expect("remove bob");
    let first = bob.send_message(team, "let me back in").await.expect("queued");
    let second = bob.send_message(team, "never mind").await.expect("queued");
    assert_eq!(bob.status().await.expect("status").failed, 2, "both refused: bob is not a member");

    teamflow_tests::join(&alice, team, &bob, "bob@example.test", Role::Member).await;
    assert!(bob.retry(&first.client_id).await.expect("retry"));
    assert!(bob.discard(&second.client_id).await.expect("discard"));
    assert!(!bob.retry(&second.client_id).await.expect("retry a discarded one"), "nothing left to retry");
    assert!(!bob.discard("no-such-entry").await.expect("discard unknown"));
    let report = bob.flush().await.expect("flush");
    assert_eq!((report.delivered, report.failed, report.pending), (1, 0, 0));
    assert_eq!(contents(&alice.messages(team).await.expect("read")), ["let me back in"]);
    let status = bob.status().await.expect("status");
    assert_eq!((status.pending, status.failed), (0, 0));
}

#[tokio::test]
async fn history_pages_back_by_seq_from_the_relay_and_from_the_cache_offline() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    for n in 1..=5 {
        alice.send_message(team, &format!("m{n}")).await.expect("send");
    }
    assert_eq!(alice.status().await.expect("status").pending, 0, "all delivered");
    let page = alice.messages_before(team, 4, 2).await.expect("page");
    assert_eq!(contents(&page), ["m2", "m3"], "the two just before seq 4, oldest first");
    assert!(alice.messages_before(team, 1, 50).await.expect("start").is_empty(), "nothing before the first");
    assert_eq!(contents(&bob.messages_before(team, 6, 2).await.expect("latest")), ["m4", "m5"]);

    let _dir = relay.stop().await;
    let cached = alice.messages_before(team, 3, 50).await.expect("from the cache");
    assert_eq!(contents(&cached), ["m1", "m2"]);
    // Bob only read the two latest: offline, an empty page before them would claim the history starts
    // there, which only the relay knows.
    assert!(matches!(bob.messages_before(team, 4, 50).await, Err(NodeError::NotCached(_))));
    assert_eq!(contents(&bob.messages_before(team, 6, 50).await.expect("cached")), ["m4", "m5"]);
}

#[tokio::test]
async fn typing_in_a_joined_room_reaches_the_other_members() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let bob_id = bob.user().await.expect("signed in").id;
    let mut alice_room = alice.subscribe(team).await.expect("alice joins");
    frame_until(&mut alice_room, "alice's team_state", |f| matches!(f, ServerMessage::TeamState { .. })).await;
    let mut bob_room = bob.join_room(team).await.expect("bob joins");
    frame_until(&mut bob_room.frames, "bob's team_state", |f| matches!(f, ServerMessage::TeamState { .. })).await;

    bob_room.typing();
    let frame = frame_until(&mut alice_room, "bob typing", |f| matches!(f, ServerMessage::Typing { .. })).await;
    assert!(matches!(frame, ServerMessage::Typing { team_id, user_id } if team_id == team && user_id == bob_id));
}

#[tokio::test]
async fn a_projects_document_is_made_once_and_linked_to_the_project() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.go_online().await.expect("online");
    alice.create_project(team, teamflow_tests::project_input("Roadmap")).await.expect("create");
    let project = alice.projects(team).await.expect("projects").into_iter().next().expect("the project").id;

    let url = alice.project_document(team, project).await.expect("document");
    assert_eq!(alice.project_document(team, project).await.expect("again"), url, "made once");
    let linked = bob.projects(team).await.expect("bob's view").into_iter().find(|p| p.id == project).expect("project");
    assert_eq!(linked.document_id, Some(url.clone()), "the teammate sees the link");
    assert!(
        bob.documents(team).await.expect("documents").iter().any(|d| d.document_id == url && d.title == "Roadmap"),
        "registered under the project's name"
    );
    assert!(matches!(
        alice.project_document(team, teamflow_protocol::ProjectId::new()).await,
        Err(NodeError::NotFound("project"))
    ));
}

#[tokio::test]
async fn the_device_keeps_its_peer_id_and_a_certificate_that_works_offline_until_it_expires() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    let peer = alice.device_peer_id();
    assert!(peer.starts_with("12D3KooW"), "an Ed25519 libp2p peer id: {peer}");

    let cert = alice.device_certificate().await.expect("certificate");
    let key = alice.relay_certificate_key().await.expect("relay key");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let body = cert.verify(&key, &peer, now).expect("signed by the relay, for this device");
    assert_eq!(body.teams.iter().map(|g| (g.team_id, g.role)).collect::<Vec<_>>(), [(team, Role::Owner)]);
    assert_eq!(alice.device_certificate().await.expect("again"), cert, "kept while it is fresh");
    alice.close().await;

    // The same device after a restart, with the relay gone: same peer id, the kept certificate and key.
    let relay_url = relay.url("");
    let _dir = relay.stop().await;
    let alice = Node::open(a_dir.path(), &relay_url).await.expect("reopen");
    assert_eq!(alice.device_peer_id(), peer);
    assert_eq!(alice.device_certificate().await.expect("kept offline"), cert);
    assert_eq!(alice.relay_certificate_key().await.expect("kept key"), key);
}

/// A team created (or joined) is in the device's next certificate at once, not after its half-life:
/// teammates' devices share only the teams a certificate names.
#[tokio::test]
async fn a_new_team_is_in_the_devices_certificate_as_soon_as_the_device_knows_of_it() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    alice.teams().await.expect("teams");
    let first = alice.device_certificate().await.expect("certificate");
    let grants = |c: &teamflow_protocol::api::devices::DeviceCertificate| {
        let mut teams: Vec<String> = c.body.teams.iter().map(|g| g.team_id.to_string()).collect();
        teams.sort();
        teams
    };
    assert_eq!(grants(&first), [team.to_string()]);
    assert_eq!(alice.device_certificate().await.expect("again"), first, "kept while nothing changed");

    let second = alice.create_team("Second").await.expect("team").id;
    alice.teams().await.expect("teams, read again");
    let renewed = alice.device_certificate().await.expect("renewed");
    let mut both = vec![team.to_string(), second.to_string()];
    both.sort();
    assert_eq!(grants(&renewed), both);
}

#[tokio::test]
async fn without_a_kept_certificate_an_offline_device_has_none_to_show() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, _team) = alice_and_bob(&relay).await;
    let _dir = relay.stop().await;
    assert!(matches!(alice.device_certificate().await, Err(NodeError::NotCached(_))));
}

#[tokio::test]
async fn an_admin_connects_rotates_lists_and_removes_integrations_through_the_node() {
    use teamflow_protocol::api::integrations::{IntegrationInput, Service};
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = teamflow_tests::alice_and_bob(&relay).await;
    let input = IntegrationInput { service: Service::Github, secret: None, mirror_to_chat: false };
    let created = alice.create_integration(team, &input).await.expect("connect GitHub");
    assert!(created.secret.len() >= 32, "a generated secret, shown once");
    assert!(created.webhook_url.contains(&created.id));
    let listed = alice.integrations(team).await.expect("list");
    assert_eq!(listed.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [created.id.as_str()]);
    let rotated = alice.rotate_integration(team, &created.id, None).await.expect("rotate");
    assert_ne!(rotated.secret, created.secret);
    assert!(alice.integration_failures(team, &created.id).await.expect("failures").is_empty());
    // A member is refused with the relay's reason; a malformed id never leaves the node.
    let refused = bob.create_integration(team, &input).await;
    assert!(
        matches!(refused, Err(NodeError::Api(teamflow_node::ApiFailure::Refused { status: 403, .. }))),
        "{refused:?}"
    );
    assert!(matches!(alice.delete_integration(team, "../members").await, Err(NodeError::Invalid(_))));
    alice.delete_integration(team, &created.id).await.expect("remove");
    assert!(alice.integrations(team).await.expect("list").is_empty());
}

/// History names people, not devices: a document made on a node names its author in its first change,
/// which every copy carries (the window names its own sessions' first changes the same way).
#[tokio::test]
async fn a_document_made_on_a_node_names_its_author_in_its_first_change() {
    let relay = TestRelay::start().await;
    let (_a_dir, alice, _b_dir, bob, team) = alice_and_bob(&relay).await;
    let (url, handle) = alice.create_document(team, "Notes", "hello").await.expect("create");
    let alice_id = alice.user().await.expect("signed in").id.to_string();
    let named = Some(teamflow_sync::author_message(&alice_id));
    let history = teamflow_sync::rich::history(&handle);
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].message, named);

    alice.flush().await.expect("registered");
    alice.go_online().await.expect("online");
    assert!(within("the relay to acknowledge the document", alice.synced_with_relay(&handle)).await.expect("synced"));
    bob.go_online().await.expect("online");
    let copy = bob.open_document(&url).await.expect("open").expect("shared with bob");
    assert_eq!(teamflow_tests::text_when(&copy, |t| t == "hello").await, "hello");
    assert_eq!(teamflow_sync::rich::history(&copy)[0].message, named, "every copy says whose it is");
}
