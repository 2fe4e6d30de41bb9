//! Emoji reactions on chat messages: a member puts one on or takes it off, idempotently; every member's room
//! hears the change, a device that was away finds it in the change feed, and a node queues reactions offline
//! and shows them over what it kept until they are delivered. Bad input, viewers, deleted messages and the
//! cap on different emoji get clear refusals.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_node::{OutboxKind, Session};
use teamflow_protocol::api::messages::MAX_REACTIONS;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_tests::session_events::{Events, loopback};
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{TestRelay, TwoMemberTeam, alice_and_bob, assert_error};

async fn post(t: &TwoMemberTeam, content: &str) -> Value {
    let (status, message) = t
        .alice
        .post(
            &format!("/api/teams/{}/messages", t.id),
            &json!({ "client_id": uuid::Uuid::now_v7().to_string(), "content": content }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    message
}

fn reactions(t: &TwoMemberTeam, message: &Value) -> String {
    format!("/api/teams/{}/messages/{}/reactions", t.id, message["id"].as_str().expect("message id"))
}

#[tokio::test]
async fn reactions_go_on_and_off_once_each_and_every_member_hears_them() {
    let t = TwoMemberTeam::start().await;
    let (alice_id, bob_id) = (t.alice.user_id().await, t.bob.user_id().await);
    let mut room = RoomSocket::connect(&t.relay.url(""), t.alice.token.as_deref().expect("signed in")).await;
    room.join(&t.id).await;
    let message = post(&t, "shipped the release").await;
    assert_eq!(message["reactions"], json!([]));

    let (status, after) = t.bob.put(&reactions(&t, &message), &json!({ "emoji": "🎉", "on": true })).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(after["reactions"], json!([{ "emoji": "🎉", "user_ids": [bob_id] }]));
    assert_eq!(room.next_of("message_changed").await["message"], after, "alice's room hears it");
    // Again: no change, answered as it is, told to no one (the next frame is alice's own reaction).
    let (status, again) = t.bob.put(&reactions(&t, &message), &json!({ "emoji": "🎉", "on": true })).await;
    assert_eq!((status, &again), (StatusCode::OK, &after));
    let (_, both) = t.alice.put(&reactions(&t, &message), &json!({ "emoji": "🎉", "on": true })).await;
    assert_eq!(both["reactions"], json!([{ "emoji": "🎉", "user_ids": [bob_id, alice_id] }]));
    assert_eq!(room.next_of("message_changed").await["message"], both, "one frame per change");
    let (_, more) = t.alice.put(&reactions(&t, &message), &json!({ "emoji": "👀", "on": true })).await;
    room.next_of("message_changed").await;
    assert_eq!(
        more["reactions"],
        json!([{ "emoji": "🎉", "user_ids": [bob_id, alice_id] }, { "emoji": "👀", "user_ids": [alice_id] }])
    );

    // Taken off: only the caller's own; taking off one that is not there changes nothing.
    let (_, off) = t.bob.put(&reactions(&t, &message), &json!({ "emoji": "🎉", "on": false })).await;
    assert_eq!(
        off["reactions"],
        json!([{ "emoji": "🎉", "user_ids": [alice_id] }, { "emoji": "👀", "user_ids": [alice_id] }])
    );
    assert_eq!(room.next_of("message_changed").await["message"], off);
    let (status, same) = t.bob.put(&reactions(&t, &message), &json!({ "emoji": "👀", "on": false })).await;
    assert_eq!((status, &same), (StatusCode::OK, &off));

    // Listed with its reactions, and in the change feed, each change with a newer number.
    let (_, page) = t.bob.get(&format!("/api/teams/{}/messages", t.id)).await;
    assert_eq!(page["messages"], json!([off]));
    let (_, changes) = t.bob.get(&format!("/api/teams/{}/messages/changes?after=0", t.id)).await;
    assert_eq!(changes["messages"], json!([off]));
    assert!(off["change_seq"].as_i64() > after["change_seq"].as_i64(), "{off} after {after}");
    assert!(off["edited_at"].is_null(), "a reaction is not an edit");
    // A post retried under its client id answers the message as it is now, reactions and all.
    let retry = json!({ "client_id": message["client_id"], "content": message["content"] });
    let (status, again) = t.alice.post(&format!("/api/teams/{}/messages", t.id), &retry).await;
    assert_eq!((status, &again), (StatusCode::OK, &off));

    // Deleted: its reactions go with its words, and none can be added.
    let path = format!("/api/teams/{}/messages/{}", t.id, message["id"].as_str().expect("id"));
    let (_, deleted) = t.alice.delete(&path).await;
    assert_eq!(deleted["reactions"], json!([]));
    let (status, error) = t.bob.put(&reactions(&t, &message), &json!({ "emoji": "👍", "on": true })).await;
    assert_error(status, &error, StatusCode::GONE, "gone");
    // Taking one off is done already: answered as it is (a device's queued "off" delivers cleanly).
    let (status, same) = t.bob.put(&reactions(&t, &message), &json!({ "emoji": "🎉", "on": false })).await;
    assert_eq!((status, &same), (StatusCode::OK, &deleted));
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_reactions")
        .fetch_one(t.relay.db().await.pool())
        .await
        .expect("count");
    assert_eq!(rows, 0, "a deleted message's reactions are not kept");
}

#[tokio::test]
async fn a_reaction_must_be_one_emoji_from_a_member_on_a_message_of_the_team() {
    let t = TwoMemberTeam::start().await;
    let message = post(&t, "standup in five").await;
    let path = reactions(&t, &message);
    for emoji in ["", "+1", ":tada:", "👍👍", "a", " 👍", "\u{200b}", &"👍".repeat(20)] {
        let (status, error) = t.bob.put(&path, &json!({ "emoji": emoji, "on": true })).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"]["emoji"].is_string(), "{error}");
    }
    let (status, error) = t.bob.put(&path, &json!({ "emoji": "👍" })).await;
    assert!(status.is_client_error() && error["error"]["code"].is_string(), "{status}: {error}");
    let (status, error) = t.bob.put(&path, &json!({ "emoji": "👍", "on": true, "by": "alice" })).await;
    assert!(status.is_client_error() && error["error"]["code"].is_string(), "{status}: {error}");

    // Not a message of this team, or not a member of it: not found.
    let other = format!("/api/teams/{}/messages/{}/reactions", t.id, uuid::Uuid::now_v7());
    let (status, error) = t.bob.put(&other, &json!({ "emoji": "👍", "on": true })).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let outsider = t.relay.user("mallory").await;
    let (status, error) = outsider.put(&path, &json!({ "emoji": "👍", "on": true })).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) = t.relay.client().put(&path, &json!({ "emoji": "👍", "on": true })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");

    // A viewer reads, and does not react.
    let bob_id = t.bob.user_id().await;
    let (status, _) =
        t.alice.patch(&format!("/api/teams/{}/members/{bob_id}", t.id), &json!({ "role": "viewer" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = t.bob.put(&path, &json!({ "emoji": "👍", "on": true })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");

    // At most MAX_REACTIONS different emoji; more of one already there still go on.
    let emoji: Vec<String> =
        (0..MAX_REACTIONS).map(|i| char::from_u32(0x1F600 + i as u32).expect("emoji").to_string()).collect();
    for e in &emoji {
        let (status, body) = t.alice.put(&path, &json!({ "emoji": e, "on": true })).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, error) = t.alice.put(&path, &json!({ "emoji": "🚀", "on": true })).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, body) = t.alice.put(&path, &json!({ "emoji": emoji[0], "on": false })).await;
    assert_eq!((status, body["reactions"].as_array().map(Vec::len)), (StatusCode::OK, Some(MAX_REACTIONS - 1)));
}

#[tokio::test]
async fn members_reacting_at_once_never_pass_the_cap_of_different_emoji() {
    let t = TwoMemberTeam::start().await;
    let message = post(&t, "pizza friday?").await;
    let path = reactions(&t, &message);
    // Two people put on twelve different emoji each, all at once: 24 asked, 20 fit.
    let bodies: Vec<Value> = (0..24u32)
        .map(|i| json!({ "emoji": char::from_u32(0x1F32D + i).expect("emoji").to_string(), "on": true }))
        .collect();
    let tries = bodies.iter().enumerate().map(|(i, body)| if i % 2 == 0 { &t.alice } else { &t.bob }.put(&path, body));
    let mut refused = 0;
    for (status, body) in futures::future::join_all(tries).await {
        match status {
            StatusCode::OK => {}
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    let (_, page) = t.alice.get(&format!("/api/teams/{}/messages", t.id)).await;
    let held = page["messages"][0]["reactions"].as_array().expect("reactions").len();
    assert_eq!((held, refused), (MAX_REACTIONS, 24 - MAX_REACTIONS), "{page}");
}

#[tokio::test]
async fn a_node_reacts_offline_shows_it_at_once_and_delivers_it_when_back() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "the deploy is green").await.expect("send");
    let shown = bob.messages(team).await.expect("read and kept");
    let bob_id = bob.user().await.expect("bob").id;

    let addr = relay.addr;
    let dir = relay.stop().await;
    let entry = bob.react(team, shown[0].id, "✅", true).await.expect("queued offline");
    assert_eq!(entry.kind, OutboxKind::Reaction);
    bob.react(team, shown[0].id, "👀", true).await.expect("queued offline");
    bob.react(team, shown[0].id, "👀", false).await.expect("taken back offline");
    let refused = bob.react(team, shown[0].id, "ok", true).await.expect_err("not an emoji");
    assert!(matches!(refused, teamflow_node::NodeError::Invalid(_)), "{refused}");
    let offline = bob.messages(team).await.expect("offline");
    assert_eq!(offline[0].reactions.len(), 1, "shown over the kept copy at once: {:?}", offline[0].reactions);
    assert_eq!((offline[0].reactions[0].emoji.as_str(), &offline[0].reactions[0].user_ids[..]), ("✅", &[bob_id][..]));

    // Back: delivered in order, and alice's app hears it in the room.
    let relay = TestRelay::start_again(dir, addr).await;
    let (sink, mut events) = Events::sink();
    let alice = Session::start(Arc::new(alice), sink, loopback()).await;
    events.online().await;
    alice.join_room(team).await.expect("join");
    assert_eq!(bob.flush().await.expect("flush").delivered, 3);
    let heard = events
        .room_frame(team, "bob's reaction", |frame| match frame {
            ServerMessage::MessageChanged { message } if !message.reactions.is_empty() => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(heard.reactions.len(), 1);
    let kept = bob.messages(team).await.expect("online");
    assert_eq!(kept[0].reactions, heard.reactions, "the relay's copy, kept");
    alice.close().await;
    drop(relay);
}
