//! Read positions and notification settings in the node: reads kept offline and queued (one outbox entry per
//! team, moved forward), delivered when the relay is back; a read on one device reaching the other live
//! (its session hears `read_moved` and keeps it for offline use); counts from the cache offline; bad input.

use std::sync::Arc;

use teamflow_node::{Node, NodeError, OutboxKind, Session, SessionEvent};
use teamflow_protocol::mentions::mention;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_tests::session_events::{Events, loopback};
use teamflow_tests::{DataDir, TestRelay, alice_and_bob};

/// Alice on a second device.
async fn second_device(relay: &TestRelay) -> (DataDir, Node) {
    let dir = DataDir::new();
    let node = Node::open(dir.path(), &relay.url("")).await.expect("open node");
    node.sign_in("alice@example.test", "correct horse").await.expect("sign in");
    (dir, node)
}

#[tokio::test]
async fn reads_made_offline_wait_in_the_outbox_and_reach_the_other_device() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let alice_id = alice.user().await.expect("alice").id;
    bob.send_message(team, "one").await.expect("send");
    bob.send_message(team, &format!("two, {}", mention(alice_id, "Alice"))).await.expect("send");
    alice.send_message(team, "mine").await.expect("send");
    bob.send_message(team, "four").await.expect("send");

    let state = alice.read_state(team).await.expect("state");
    assert_eq!((state.read_seq, state.latest_seq, state.unread, state.mentions), (0, 4, 3, 1));
    alice.messages(team).await.expect("cached for offline reading");

    let addr = relay.addr;
    let dir = relay.stop().await;
    // Offline: kept here and counted from the cache; two reads make one waiting entry.
    let state = alice.mark_read(team, 1).await.expect("read offline");
    assert_eq!((state.read_seq, state.unread, state.mentions), (1, 2, 1));
    let state = alice.mark_read(team, 2).await.expect("read further offline");
    assert_eq!((state.read_seq, state.unread, state.mentions), (2, 1, 0));
    let state = alice.mark_read(team, 1).await.expect("a read behind changes nothing");
    assert_eq!(state.read_seq, 2);
    let waiting: Vec<_> =
        alice.outbox().await.expect("outbox").into_iter().filter(|e| e.kind == OutboxKind::Read).collect();
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(matches!(alice.mark_read(team, -1).await, Err(NodeError::Invalid(_))));

    let relay = TestRelay::start_again(dir, addr).await;
    let report = alice.flush().await.expect("flush");
    assert_eq!((report.delivered, report.pending), (1, 0));
    let (_d, laptop) = second_device(&relay).await;
    let state = laptop.read_state(team).await.expect("the other device's view");
    assert_eq!((state.read_seq, state.unread, state.mentions), (2, 1, 0));
    // Bob's own position is untouched by alice's reads.
    assert_eq!(bob.read_state(team).await.expect("bob").read_seq, 0);
}

#[tokio::test]
async fn a_read_on_one_device_reaches_the_others_session_and_is_kept_offline() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    for text in ["one", "two", "three"] {
        bob.send_message(team, text).await.expect("send");
    }
    let (_d, laptop) = second_device(&relay).await;
    let (sink, mut events) = Events::sink();
    let laptop = Session::start(Arc::new(laptop), sink, loopback()).await;
    events.online().await;
    laptop.join_room(team).await.expect("join");
    events.wait("team_state", |e| matches!(e, SessionEvent::Room { frame: ServerMessage::TeamState { .. }, .. })).await;
    laptop.node().messages(team).await.expect("cached");

    alice.mark_read(team, 3).await.expect("read on the phone");
    events.wait("read_moved",
        |e| matches!(e, SessionEvent::Room { frame: ServerMessage::ReadMoved { state }, .. } if state.read_seq == 3),
    )
    .await;
    drop(relay.stop().await);
    let state = laptop.node().read_state(team).await.expect("offline");
    assert_eq!((state.read_seq, state.unread), (3, 0), "the laptop kept what the phone read");
    laptop.close().await;
}

#[tokio::test]
async fn muting_and_notification_settings_are_kept_per_team() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    let settings = alice.notification_settings().await.expect("settings");
    assert!(!settings.every_message_unfocused && settings.muted.is_empty());
    let settings = alice.set_team_muted(team, true).await.expect("mute");
    assert_eq!(settings.muted, [team]);
    assert_eq!(alice.set_team_muted(team, true).await.expect("twice").muted, [team]);
    let settings = alice.set_every_message_unfocused(true).await.expect("every message");
    assert!(settings.every_message_unfocused);
    assert!(matches!(
        alice.set_team_muted(teamflow_protocol::TeamId::new(), true).await,
        Err(NodeError::NotFound("team"))
    ));
    assert!(alice.set_team_muted(team, false).await.expect("unmute").muted.is_empty());
    // Signing out forgets them with the rest of the user's data.
    alice.set_team_muted(team, true).await.expect("mute");
    alice.sign_out().await.expect("sign out");
    alice.sign_in("alice@example.test", "correct horse").await.expect("sign in");
    assert_eq!(alice.notification_settings().await.expect("settings"), Default::default());
}
