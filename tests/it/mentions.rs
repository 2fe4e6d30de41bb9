//! Mentions and read positions on the relay: mentions of members recorded (and of anyone else refused, with
//! nothing written), read positions that only move forward, unread and mention counts, a read on one device
//! reaching the person's other devices live (and no one else), and bad input.

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_protocol::UserId;
use teamflow_protocol::mentions::mention;
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{Client, TestRelay, TwoMemberTeam, assert_error};

async fn post(client: &Client, team: &str, client_id: &str, content: &str) -> (StatusCode, Value) {
    client.post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": client_id, "content": content })).await
}

async fn user_id(client: &Client) -> UserId {
    client.user_id().await.parse().expect("a user id")
}

async fn socket(relay: &TestRelay, client: &Client) -> RoomSocket {
    RoomSocket::connect(&relay.url(""), client.token.as_deref().expect("signed in")).await
}

#[tokio::test]
async fn mentions_of_members_are_recorded_and_of_anyone_else_refused() {
    let t = TwoMemberTeam::start().await;
    let carol = t.relay.user("carol").await;
    let (bob, carol_id) = (user_id(&t.bob).await, user_id(&carol).await);

    let (status, message) = post(&t.alice, &t.id, "m1", &format!("look {}", mention(bob, "bob"))).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["mentions"], json!([bob]));
    // Every reader gets the mentions with the message, from the history as from the post.
    let (_, page) = t.bob.get(&format!("/api/teams/{}/messages", t.id)).await;
    assert_eq!(page["messages"][0]["mentions"], json!([bob]));

    // Carol is no member: the whole post is refused, naming the field, and nothing is stored.
    let content = format!("{} and {}", mention(bob, "bob"), mention(carol_id, "carol"));
    let (status, error) = post(&t.alice, &t.id, "m2", &content).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(error["error"]["details"]["content"].as_str().is_some_and(|d| d.contains("not a member")), "{error}");
    let (_, page) = t.alice.get(&format!("/api/teams/{}/messages", t.id)).await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1));
    let (_, state) = t.bob.get(&format!("/api/teams/{}/read", t.id)).await;
    assert_eq!((state["unread"].as_i64(), state["mentions"].as_i64()), (Some(1), Some(1)), "{state}");

    // Text that only looks like a mention is text: stored, mentioning nobody.
    let (status, message) = post(&t.alice, &t.id, "m3", "@[bob](user:not-an-id) and @[unclosed").await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_eq!(message["mentions"], json!([]));

    // Too many mentions at once is refused too.
    let crowd: String = (0..51).map(|_| mention(UserId::new(), "x")).collect();
    let (status, error) = post(&t.alice, &t.id, "m4", &crowd).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn read_positions_only_move_forward_and_count_what_is_new() {
    let t = TwoMemberTeam::start().await;
    let alice = user_id(&t.alice).await;
    let path = format!("/api/teams/{}/read", t.id);
    let (status, state) = t.alice.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state, json!({ "team_id": t.id, "read_seq": 0, "latest_seq": 0, "unread": 0, "mentions": 0 }));

    post(&t.bob, &t.id, "b1", "one").await;
    post(&t.bob, &t.id, "b2", &format!("two for {}", mention(alice, "alice"))).await;
    post(&t.alice, &t.id, "a3", "my own message is never unread to me").await;
    post(&t.bob, &t.id, "b4", "four").await;
    let (_, state) = t.alice.get(&path).await;
    assert_eq!(
        (state["latest_seq"].as_i64(), state["unread"].as_i64(), state["mentions"].as_i64()),
        (Some(4), Some(3), Some(1))
    );

    let (status, state) = t.alice.put(&path, &json!({ "seq": 2 })).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        (state["read_seq"].as_i64(), state["unread"].as_i64(), state["mentions"].as_i64()),
        (Some(2), Some(1), Some(0))
    );
    // Behind the kept position: nothing changes, and it is no error (a slower device catching up).
    let (status, state) = t.alice.put(&path, &json!({ "seq": 1 })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state["read_seq"], 2);
    // Bob's position is his own.
    let (_, bobs) = t.bob.get(&path).await;
    assert_eq!((bobs["read_seq"].as_i64(), bobs["unread"].as_i64()), (Some(0), Some(1)));

    // Bad input: past the newest message, negative, not a number, unknown fields, no body.
    for bad in [json!({ "seq": 5 }), json!({ "seq": -1 })] {
        let (status, error) = t.alice.put(&path, &bad).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"]["seq"].is_string(), "{error}");
    }
    for bad in [json!({ "seq": "2" }), json!({ "seq": 3, "extra": true }), json!({})] {
        let (status, error) = t.alice.put(&path, &bad).await;
        assert!(status.is_client_error(), "{bad}: {status}");
        assert!(error["error"]["code"].is_string(), "{error}");
    }
    let (_, state) = t.alice.get(&path).await;
    assert_eq!(state["read_seq"], 2, "no refused request moved it");

    // A non-member learns nothing; no token, no answer.
    let carol = t.relay.user("carol").await;
    let (status, error) = carol.put(&path, &json!({ "seq": 1 })).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) = carol.get(&path).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) = t.alice.with_token(None).get(&path).await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn reading_on_one_device_tells_the_other_devices_and_no_one_else() {
    let t = TwoMemberTeam::start().await;
    let laptop = t.alice.sign_in("alice@example.test").await;
    let (mut phone_socket, mut laptop_socket, mut bob_socket) =
        (socket(&t.relay, &t.alice).await, socket(&t.relay, &laptop).await, socket(&t.relay, &t.bob).await);
    for s in [&mut phone_socket, &mut laptop_socket, &mut bob_socket] {
        s.join(&t.id).await;
    }
    post(&t.bob, &t.id, "b1", "one").await;
    post(&t.bob, &t.id, "b2", "two").await;

    let (status, _) = t.alice.put(&format!("/api/teams/{}/read", t.id), &json!({ "seq": 2 })).await;
    assert_eq!(status, StatusCode::OK);
    for s in [&mut phone_socket, &mut laptop_socket] {
        let moved = s.next_of("read_moved").await;
        assert_eq!(moved["state"]["read_seq"], 2);
        assert_eq!(moved["state"]["unread"], 0);
        assert_eq!(moved["state"]["team_id"], json!(t.id));
    }
    // Bob heard nothing of it: everything queued for him before a ping barrier is chat.
    let before = bob_socket.drain(7).await;
    assert!(before.iter().all(|f| f["type"] != "read_moved"), "{before:?}");

    // A position that did not move (already there) tells nobody.
    t.alice.put(&format!("/api/teams/{}/read", t.id), &json!({ "seq": 1 })).await;
    let before = laptop_socket.drain(8).await;
    assert!(before.iter().all(|f| f["type"] != "read_moved"), "{before:?}");
}
