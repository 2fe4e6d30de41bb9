//! The node's `Session`, as the desktop shell drives it but without a window: staying online (retrying until
//! the relay answers), rooms with typing, open documents with edits, changes and presence, all reported
//! through one event sink; and sign-out ending it.

use std::sync::Arc;

use teamflow_node::{Link, Node, NodeError, Session, SessionEvent, Splice, TextUpdate};
use teamflow_protocol::realtime::ServerMessage;
use teamflow_tests::session_events::{Events, loopback};
use teamflow_tests::{DataDir, TestRelay, alice_and_bob, within};

#[tokio::test]
async fn a_session_runs_rooms_and_documents_and_reports_them_as_events() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let bob_id = bob.user().await.expect("bob").id;
    let ((alice_sink, mut alice_events), (bob_sink, mut bob_events)) = (Events::sink(), Events::sink());
    let alice = Session::start(Arc::new(alice), alice_sink, loopback()).await;
    let bob = Session::start(Arc::new(bob), bob_sink, loopback()).await;
    alice_events.online().await;
    bob_events.online().await;

    // Rooms: the state first, then a teammate's typing; joining twice is harmless.
    alice.join_room(team).await.expect("alice joins");
    alice.join_room(team).await.expect("joining again");
    let members = alice_events
        .room_frame(team, "team_state", |f| match f {
            ServerMessage::TeamState { members, .. } => Some(members.len()),
            _ => None,
        })
        .await;
    assert_eq!(members, 2);
    bob.join_room(team).await.expect("bob joins");
    bob_events
        .room_frame(team, "bob's team_state", |f| matches!(f, ServerMessage::TeamState { .. }).then_some(()))
        .await;
    bob.typing(team);
    let typist = alice_events
        .room_frame(team, "bob typing", |f| match f {
            ServerMessage::Typing { user_id, .. } => Some(user_id),
            _ => None,
        })
        .await;
    assert_eq!(typist, bob_id);

    // Documents: alice's, opened by both; bob's edit reaches alice as an event, and she reads it.
    let (url, handle) = alice.node().create_document(team, "Plan", "hello").await.expect("create");
    assert!(
        within("the relay to acknowledge the document", alice.node().synced_with_relay(&handle)).await.expect("synced"),
        "the relay holds it before bob asks"
    );
    let url = url.to_string();
    let opened: TextUpdate = alice.open_document(&url).await.expect("alice opens");
    assert_eq!(opened.text, "hello");
    let base: Vec<String> = opened.heads.iter().map(ToString::to_string).collect();
    let bobs = bob.open_document(&url).await.expect("bob opens");
    assert_eq!(bobs.text, "hello");
    let bob_base: Vec<String> = bobs.heads.iter().map(ToString::to_string).collect();
    let edit = Splice { position: 5, delete: 0, insert: " world".into() };
    assert_eq!(bob.edit_document(&url, &bob_base, &[edit]).await.expect("bob edits").text, "hello world");
    let changed = alice_events
        .until("bob's edit at alice's", |e| match e {
            SessionEvent::DocumentChanged { url } => Some(url),
            _ => None,
        })
        .await;
    assert_eq!(changed, url);
    let now = alice.document_since(&url, &base).await.expect("since");
    assert_eq!(now.text, "hello world");
    assert_eq!(alice.document_history(&url).await.expect("history").len(), 2);
    assert_eq!(alice.document_at(&url, &base).await.expect("then"), "hello");

    // Presence: bob's cursor reaches alice with his name.
    bob.set_cursor(&url, 3, 5).await.expect("cursor");
    let cursor = alice_events
        .until("bob's cursor", |e| match e {
            SessionEvent::Presence { url: u, peers } if u == url => {
                peers.into_iter().find(|p| p.user_id == bob_id && p.cursor.as_ref().is_some_and(|c| c.anchor == 3))
            }
            _ => None,
        })
        .await;
    assert_eq!(cursor.name, "Bob");

    // Bad input is refused with a reason, not a panic.
    assert!(matches!(alice.open_document("not a url").await, Err(NodeError::Invalid(_))));
    assert!(matches!(alice.document_at(&url, &["zz".into()]).await, Err(NodeError::Invalid(_))));

    // Signing out ends it: documents are closed and nothing works until a new sign-in.
    alice.sign_out().await.expect("sign out");
    assert!(matches!(alice.open_document(&url).await, Err(NodeError::SignedOut)));
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_session_keeps_trying_until_the_relay_answers() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    let addr = relay.addr;
    let dir: DataDir = relay.stop().await;

    let (sink, mut events) = Events::sink();
    let session = Session::start(Arc::new(alice), sink, loopback()).await;
    events
        .until("a status while the relay is down", |e| {
            matches!(e, SessionEvent::Status(s) if s.signed_in && s.link != Link::Online).then_some(())
        })
        .await;
    // The team's room too: joined while the relay is down, it connects once the relay answers.
    session.join_room(team).await.expect("joining while the relay is down is not a failure");
    let _relay = TestRelay::start_again(dir, addr).await;
    // The link and the room each redial on their own backoff: either may come back first.
    let (mut online, mut joined) = (false, false);
    events
        .until("the relay link and the room's team_state", |e| {
            match e {
                SessionEvent::Status(s) if s.link == Link::Online => online = true,
                SessionEvent::Room { team: t, frame: ServerMessage::TeamState { .. } } if t == team => joined = true,
                _ => {}
            }
            (online && joined).then_some(())
        })
        .await;
    session.close().await;
}

/// The app opened on a train: the sign-in is restored from disk but the node has no access token, and the
/// teams' rooms are joined before the relay can be reached. Once it answers, the room is live.
#[tokio::test]
async fn a_room_joined_by_a_node_started_offline_is_live_once_the_relay_answers() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.close().await;
    let (addr, url) = (relay.addr, relay.url(""));
    let dir: DataDir = relay.stop().await;

    let alice = Node::open(a_dir.path(), &url).await.expect("opened offline");
    let (sink, mut events) = Events::sink();
    let session = Session::start(Arc::new(alice), sink, loopback()).await;
    session.join_room(team).await.expect("joining offline is not a failure");

    let _relay = TestRelay::start_again(dir, addr).await;
    events
        .room_frame(team, "the room's team_state", |f| matches!(f, ServerMessage::TeamState { .. }).then_some(()))
        .await;
    bob.send_message(team, "welcome back").await.expect("send");
    let content = events
        .room_frame(team, "bob's message, live", |f| match f {
            ServerMessage::NewMessage { message } => Some(message.content),
            _ => None,
        })
        .await;
    assert_eq!(content, "welcome back");
    session.close().await;
}

/// One device, two people in turn (a shared machine, or the desktop's sign-out then sign-in): the second
/// person's link comes online like the first's did.
#[tokio::test]
async fn after_a_sign_out_the_next_persons_link_comes_online() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, _b, _bob, _team) = alice_and_bob(&relay).await;
    let (_carol, _dave) = (relay.user("carol").await, relay.user("dave").await);
    let (sink, mut events) = Events::sink();
    let session = Session::start(Arc::new(alice), sink, loopback()).await;
    events.online().await;
    for round in 0..3 {
        session.sign_out().await.expect("sign out");
        events
            .until("the signed-out status", |e| matches!(e, SessionEvent::Status(s) if !s.signed_in).then_some(()))
            .await;
        let who = if round % 2 == 0 { "carol" } else { "dave" };
        session
            .sign_in(&format!("{who}@example.test"), teamflow_tests::PASSWORD)
            .await
            .unwrap_or_else(|e| panic!("{who} signs in: {e}"));
        events.online().await;
    }
    session.close().await;
    drop(a_dir);
}

/// Signs in `email` over HTTP, as another device would; answers that device's client.
async fn other_device(relay: &TestRelay, email: &str, password: &str) -> teamflow_tests::Client {
    let (status, body) =
        relay.client().post("/api/auth/login", &serde_json::json!({ "email": email, "password": password })).await;
    assert!(status.is_success(), "{email} signs in elsewhere: {body}");
    relay.client().with_token(body["access_token"].as_str())
}

/// The account controls as the desktop's Account screen drives them: the name (kept on the device for the
/// next start), the password (a wrong current one changes nothing; the right one ends the other sign-ins,
/// not this one), and signing out everywhere.
#[tokio::test]
async fn the_account_controls_rename_change_the_password_and_sign_out_everywhere() {
    let relay = TestRelay::start().await;
    let (a_dir, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let (sink, _events) = Events::sink();
    let session = Session::start(Arc::new(alice), sink, loopback()).await;

    let renamed = session.update_display_name("Alicia").await.expect("rename");
    assert_eq!(renamed.display_name, "Alicia");
    assert_eq!(session.node().user().await.map(|u| u.display_name).as_deref(), Some("Alicia"));
    let names: Vec<String> = bob.members(team).await.expect("members").into_iter().map(|m| m.display_name).collect();
    assert!(names.contains(&"Alicia".to_owned()), "teammates see the new name: {names:?}");

    // Kept on the device: the next start shows it before the relay is asked.
    session.close().await;
    session.node().shutdown().await;
    let alice = Node::open(a_dir.path(), &relay.url("")).await.expect("reopen");
    assert_eq!(alice.user().await.map(|u| u.display_name).as_deref(), Some("Alicia"));
    let (sink, _events) = Events::sink();
    let session = Session::start(Arc::new(alice), sink, loopback()).await;

    let phone = other_device(&relay, "alice@example.test", "correct horse").await;
    let refused = session.change_password("not my password", "a new long password").await;
    assert!(
        matches!(&refused, Err(NodeError::Api(teamflow_node::ApiFailure::Refused { status: 422, code, .. })) if code == "validation_failed"),
        "{refused:?}"
    );
    assert!(phone.get("/api/me").await.0.is_success(), "a refused change ends nothing");
    session.change_password("correct horse", "a new long password").await.expect("change");
    assert_eq!(phone.get("/api/me").await.0.as_u16(), 401, "the other device is signed out");
    assert!(session.node().teams().await.is_ok(), "this one stays signed in");

    let laptop = other_device(&relay, "alice@example.test", "a new long password").await;
    session.sign_out_everywhere().await.expect("everywhere");
    assert_eq!(laptop.get("/api/me").await.0.as_u16(), 401, "every other sign-in ended");
    assert!(session.node().user().await.is_none(), "signed out here");

    session.close().await;
    drop(a_dir);
}

/// Deleting the account asks for the password again; the last owner of a team cannot; a member can, and is
/// signed out with the account gone.
#[tokio::test]
async fn deleting_the_account_needs_the_password_and_no_team_left_without_an_owner() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, _team) = alice_and_bob(&relay).await;
    let (sink, _events) = Events::sink();
    let owner = Session::start(Arc::new(alice), sink.clone(), loopback()).await;
    let member = Session::start(Arc::new(bob), sink, loopback()).await;

    let last_owner = owner.delete_account("correct horse").await;
    assert!(
        matches!(&last_owner, Err(NodeError::Api(teamflow_node::ApiFailure::Refused { status: 409, .. }))),
        "{last_owner:?}"
    );
    assert!(owner.node().user().await.is_some(), "still signed in");
    let wrong = member.delete_account("not my password").await;
    assert!(matches!(&wrong, Err(NodeError::Api(teamflow_node::ApiFailure::Refused { status: 422, .. }))), "{wrong:?}");
    assert!(member.node().user().await.is_some(), "still signed in");

    member.delete_account("battery staple").await.expect("delete");
    assert!(member.node().user().await.is_none(), "signed out here");
    let (status, _) = relay
        .client()
        .post("/api/auth/login", &serde_json::json!({ "email": "bob@example.test", "password": "battery staple" }))
        .await;
    assert_eq!(status.as_u16(), 401, "the account is gone");
    owner.close().await;
    member.close().await;
}

/// A team renamed elsewhere: the room's `team_renamed` reaches the session, and the cached list of teams
/// (read offline, after a restart say) has the new name.
#[tokio::test]
async fn a_team_renamed_elsewhere_is_renamed_in_the_cached_list() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    assert_eq!(alice.teams().await.expect("teams").iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Node"]);
    let (sink, mut events) = Events::sink();
    let session = Session::start(Arc::new(alice), sink, loopback()).await;
    session.join_room(team).await.expect("join");
    events
        .room_frame(team, "the room's team_state", |f| matches!(f, ServerMessage::TeamState { .. }).then_some(()))
        .await;

    let laptop = other_device(&relay, "alice@example.test", "correct horse").await;
    let (status, body) = laptop.put(&format!("/api/teams/{team}"), &serde_json::json!({ "name": "Renamed" })).await;
    assert!(status.is_success(), "{body}");
    let name = events
        .room_frame(team, "team_renamed", |f| match f {
            ServerMessage::TeamRenamed { name, .. } => Some(name),
            _ => None,
        })
        .await;
    assert_eq!(name, "Renamed");

    let _dir = relay.stop().await;
    let cached = session.node().teams().await.expect("the cached list");
    assert_eq!(cached.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["Renamed"]);
    session.close().await;
}
