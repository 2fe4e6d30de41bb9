//! Changing a chat message after it was posted: the author edits, the author or an admin deletes, every
//! member's room hears it, unread and mention counts follow, a device that was away catches up from the
//! change feed, and a node queues both offline and lays them over what it shows until they are delivered.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_node::{OutboxKind, OutboxState, Session};
use teamflow_protocol::realtime::ServerMessage;
use teamflow_tests::session_events::{Events, loopback};
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{TestRelay, TwoMemberTeam, alice_and_bob, assert_error};

async fn post(t: &TwoMemberTeam, who: &teamflow_tests::Client, client_id: &str, content: &str) -> Value {
    let (status, message) = who
        .post(&format!("/api/teams/{}/messages", t.id), &json!({ "client_id": client_id, "content": content }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    message
}

fn path(t: &TwoMemberTeam, message: &Value) -> String {
    format!("/api/teams/{}/messages/{}", t.id, message["id"].as_str().expect("message id"))
}

#[tokio::test]
async fn an_author_edits_then_deletes_a_message_and_every_member_hears_each() {
    let t = TwoMemberTeam::start().await;
    let bob_id = t.bob.user_id().await;
    let mut room = RoomSocket::connect(&t.relay.url(""), t.bob.token.as_deref().expect("bob is signed in")).await;
    room.join(&t.id).await;
    let message = post(&t, &t.alice, "a-1", "lunch at noon").await;
    assert_eq!((message["edited_at"].clone(), message["deleted"].clone()), (Value::Null, json!(false)));
    let read = format!("/api/teams/{}/read", t.id);
    assert_eq!(t.bob.get(&read).await.1["mentions"], 0);

    // Edited to mention bob: his room hears the new text, and his mention count has it.
    let text = format!("lunch at one, @[bob](user:{bob_id})?");
    let (status, edited) = t.alice.patch(&path(&t, &message), &json!({ "content": text })).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!((edited["content"].as_str(), edited["seq"].as_i64()), (Some(text.as_str()), Some(1)));
    assert!(edited["edited_at"].is_string(), "{edited}");
    assert_eq!(edited["mentions"], json!([bob_id]));
    let heard = room.next_of("message_changed").await;
    assert_eq!(heard["message"], edited);
    assert_eq!(t.bob.get(&read).await.1["mentions"], 1);
    // The same text again is no change: answered as it is, nothing new stamped.
    let (status, again) = t.alice.patch(&path(&t, &message), &json!({ "content": text })).await;
    assert_eq!((status, again), (StatusCode::OK, edited.clone()));

    // Deleted: its place stays, its words go, from the listing, bob's counts and his room.
    let (status, deleted) = t.alice.delete(&path(&t, &message)).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!((deleted["deleted"].clone(), deleted["content"].clone()), (json!(true), json!("")));
    assert_eq!(deleted["mentions"], json!([]));
    assert_eq!(room.next_of("message_changed").await["message"], deleted);
    let (_, page) = t.bob.get(&format!("/api/teams/{}/messages", t.id)).await;
    assert_eq!(page["messages"], json!([deleted]));
    let state = t.bob.get(&read).await.1;
    assert_eq!(
        (state["unread"].clone(), state["mentions"].clone(), state["latest_seq"].clone()),
        (json!(0), json!(0), json!(1))
    );
    // Deleting again answers it as it is; editing it now is refused as gone.
    assert_eq!(t.alice.delete(&path(&t, &message)).await, (StatusCode::OK, deleted));
    let (status, error) = t.alice.patch(&path(&t, &message), &json!({ "content": "back" })).await;
    assert_error(status, &error, StatusCode::GONE, "gone");
    // The next post still takes the next place.
    assert_eq!(post(&t, &t.bob, "b-1", "noted").await["seq"], 2);
}

#[tokio::test]
async fn only_the_author_edits_and_admins_delete_anyones_message() {
    let t = TwoMemberTeam::start().await;
    let from_alice = post(&t, &t.alice, "a-1", "the owner's words").await;
    let from_bob = post(&t, &t.bob, "b-1", "a member's words").await;

    let (status, error) = t.bob.patch(&path(&t, &from_alice), &json!({ "content": "mine now" })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    let (status, error) = t.bob.delete(&path(&t, &from_alice)).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    // Not even the owner rewrites someone else's words; she may delete them.
    let (status, error) = t.alice.patch(&path(&t, &from_bob), &json!({ "content": "what bob meant" })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    let (status, deleted) = t.alice.delete(&path(&t, &from_bob)).await;
    assert_eq!((status, deleted["deleted"].clone()), (StatusCode::OK, json!(true)));
    let (_, page) = t.alice.get(&format!("/api/teams/{}/messages", t.id)).await;
    assert_eq!(page["messages"][1]["content"], "the owner's words", "untouched: {page}");

    // Made a viewer, bob can no longer write, so no longer rewrite; taking back his own words he still may.
    let own = post(&t, &t.bob, "b-2", "said before").await;
    let bob_id = t.bob.user_id().await;
    let (status, _) =
        t.alice.patch(&format!("/api/teams/{}/members/{bob_id}", t.id), &json!({ "role": "viewer" })).await;
    assert!(status.is_success());
    let (status, error) = t.bob.patch(&path(&t, &own), &json!({ "content": "said after" })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(t.bob.delete(&path(&t, &own)).await.0, StatusCode::OK);

    // Someone outside the team learns nothing about its messages.
    let outsider = t.relay.user("eve").await;
    let (status, error) = outsider.delete(&path(&t, &from_alice)).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn a_post_retried_after_its_message_changed_finds_it_as_it_is_now() {
    let t = TwoMemberTeam::start().await;
    let posts = format!("/api/teams/{}/messages", t.id);
    let body = json!({ "client_id": "lost-answer", "content": "as first sent" });
    let message = post(&t, &t.alice, "lost-answer", "as first sent").await;
    let (_, edited) = t.alice.patch(&path(&t, &message), &json!({ "content": "as changed" })).await;
    // The outbox sends the post again (its answer was lost): the same message, not a conflict.
    assert_eq!(t.alice.post(&posts, &body).await, (StatusCode::OK, edited));
    let (_, deleted) = t.alice.delete(&path(&t, &message)).await;
    assert_eq!(t.alice.post(&posts, &body).await, (StatusCode::OK, deleted));
    // Another text under an id never changed is still a conflict.
    post(&t, &t.alice, "kept", "kept").await;
    let (status, error) = t.alice.post(&posts, &json!({ "client_id": "kept", "content": "other" })).await;
    assert_error(status, &error, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn a_typo_is_fixed_after_someone_mentioned_left_and_mirrored_messages_stay_as_mirrored() {
    let t = TwoMemberTeam::start().await;
    let bob_id = t.bob.user_id().await;
    let message = post(&t, &t.alice, "a-1", &format!("@[bob](user:{bob_id}) teh plan")).await;
    let (status, _) = t.alice.delete(&format!("/api/teams/{}/members/{bob_id}", t.id)).await;
    assert!(status.is_success());
    let fixed = format!("@[bob](user:{bob_id}) the plan");
    let (status, edited) = t.alice.patch(&path(&t, &message), &json!({ "content": fixed })).await;
    assert_eq!((status, edited["mentions"].clone()), (StatusCode::OK, json!([bob_id])), "{edited}");
    // Mentioning him anew is still refused.
    let plain = post(&t, &t.alice, "a-2", "no one yet").await;
    let (status, error) = t.alice.patch(&path(&t, &plain), &json!({ "content": fixed })).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // A message under the mirror's client ids is the service's record: deleted, never rewritten.
    let mirrored = post(&t, &t.alice, "slack-Ev0123", "[Slack] sam: ship it").await;
    let (status, error) = t.alice.patch(&path(&t, &mirrored), &json!({ "content": "[Slack] sam: don't" })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(t.alice.delete(&path(&t, &mirrored)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn edits_racing_deletions_never_leave_words_in_a_deleted_message() {
    let t = TwoMemberTeam::start().await;
    let bob_id = t.bob.user_id().await;
    let mut messages = Vec::new();
    for n in 0..12 {
        messages.push(post(&t, &t.alice, &format!("r-{n}"), &format!("draft {n}")).await);
    }
    let mention = format!("@[bob](user:{bob_id}) final");
    let racers: Vec<_> = messages
        .iter()
        .flat_map(|message| {
            let at = path(&t, message);
            let (editor, deleter) = (t.alice.clone(), t.alice.clone());
            let (at_edit, body) = (at.clone(), json!({ "content": mention }));
            [
                tokio::spawn(async move { editor.patch(&at_edit, &body).await.0 }),
                tokio::spawn(async move { deleter.delete(&at).await.0 }),
            ]
        })
        .collect();
    for racer in racers {
        let status = racer.await.expect("task");
        assert!(status == StatusCode::OK || status == StatusCode::GONE, "{status}");
    }
    let (_, page) = t.bob.get(&format!("/api/teams/{}/messages", t.id)).await;
    for message in page["messages"].as_array().expect("messages") {
        assert_eq!(
            (&message["deleted"], &message["content"], &message["mentions"]),
            (&json!(true), &json!(""), &json!([]))
        );
    }
    let state = t.bob.get(&format!("/api/teams/{}/read", t.id)).await.1;
    assert_eq!((state["unread"].clone(), state["mentions"].clone()), (json!(0), json!(0)), "{state}");
}

#[tokio::test]
async fn bad_changes_are_refused_and_change_nothing() {
    let t = TwoMemberTeam::start().await;
    let message = post(&t, &t.alice, "a-1", "as posted").await;
    let at = path(&t, &message);
    for (body, field) in [
        (json!({ "content": "   " }), "content"),
        (json!({ "content": "x".repeat(10_001) }), "content"),
        (json!({ "content": format!("hi @[eve](user:{})", uuid::Uuid::now_v7()) }), "content"),
    ] {
        let (status, error) = t.alice.patch(&at, &body).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"][field].is_string(), "{field}: {error}");
    }
    let (status, error) = t.alice.patch(&at, &json!({ "content": "x", "pinned": true })).await;
    assert!(status.is_client_error() && error["error"]["code"].is_string(), "{status}: {error}");
    let (status, error) = t.alice.patch(&at, &json!({})).await;
    assert!(status.is_client_error() && error["error"]["code"].is_string(), "{status}: {error}");
    // A message of this team that does not exist, and an id that is no id.
    let unknown = format!("/api/teams/{}/messages/{}", t.id, uuid::Uuid::now_v7());
    let (status, error) = t.alice.patch(&unknown, &json!({ "content": "x" })).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) = t.alice.delete(&format!("/api/teams/{}/messages/not-an-id", t.id)).await;
    assert!(status.is_client_error() && error["error"]["code"].is_string(), "{status}: {error}");
    // A message of another team is not found through this one.
    let (status, other) = t.alice.post("/api/teams", &json!({ "name": "Elsewhere" })).await;
    assert!(status.is_success());
    let elsewhere = format!(
        "/api/teams/{}/messages/{}",
        other["id"].as_str().expect("team id"),
        message["id"].as_str().expect("id")
    );
    let (status, error) = t.alice.delete(&elsewhere).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");

    let (_, page) = t.alice.get(&format!("/api/teams/{}/messages", t.id)).await;
    assert_eq!(page["messages"], json!([message]), "nothing changed");
}

#[tokio::test]
async fn a_node_changes_messages_offline_shows_them_changed_and_delivers_once_back() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "see you at 9").await.expect("send");
    alice.send_message(team, "bring the slides").await.expect("send");
    let shown = alice.messages(team).await.expect("read");
    let (first, second) = (shown[0].id, shown[1].id);

    let addr = relay.addr;
    let dir = relay.stop().await;
    let edit = alice.edit_message(team, first, "see you at 10").await.expect("queued offline");
    assert_eq!((edit.kind, edit.state), (OutboxKind::MessageEdit, OutboxState::Pending));
    // Reworded, then deleted after all: the deletion replaces the waiting edit.
    alice.edit_message(team, second, "bring the slides, printed").await.expect("queued offline");
    let delete = alice.delete_message(team, second).await.expect("queued offline");
    assert_eq!((delete.kind, delete.content.as_str()), (OutboxKind::MessageDelete, "bring the slides"));
    let waiting: Vec<_> = alice.outbox().await.expect("outbox").iter().map(|e| e.kind).collect();
    assert_eq!(waiting, [OutboxKind::MessageEdit, OutboxKind::MessageDelete]);
    assert!(alice.search("slides", 10).await.expect("search").is_empty(), "the deleted words are not searched");
    // Shown changed at once, offline.
    let offline = alice.messages(team).await.expect("cached");
    assert_eq!((offline[0].content.as_str(), offline[0].edited_at.is_some()), ("see you at 10", true));
    assert!(offline[1].deleted && offline[1].content.is_empty(), "{:?}", offline[1]);
    let unknown = alice.edit_message(team, teamflow_protocol::MessageId::new(), "x").await;
    assert!(matches!(unknown, Err(teamflow_node::NodeError::NotFound(_))), "{unknown:?}");

    let relay = TestRelay::start_again(dir, addr).await;
    let report = alice.flush().await.expect("flush");
    assert_eq!((report.delivered, report.failed, report.pending), (2, 0, 0));
    let seen = bob.messages(team).await.expect("read");
    assert_eq!(
        seen.iter().map(|m| (m.content.as_str(), m.deleted)).collect::<Vec<_>>(),
        [("see you at 10", false), ("", true)]
    );
    assert!(seen[0].edited_at.is_some());
    let hits = alice.search("slides", 10).await.expect("search");
    assert!(hits.is_empty(), "a deleted message is not found: {hits:?}");
    // Bob has read neither: one is unread, on the relay and from his cache alike.
    assert_eq!(bob.read_state(team).await.expect("read state").unread, 1);

    // Bob may not delete alice's message: refused, kept as failed, shown as the relay has it.
    bob.delete_message(team, first).await.expect("queued");
    let outbox = bob.outbox().await.expect("outbox");
    assert_eq!(
        (outbox.len(), outbox[0].state, outbox[0].error_code.as_deref()),
        (1, OutboxState::Failed, Some("forbidden"))
    );
    assert_eq!(bob.messages(team).await.expect("read")[0].content, "see you at 10");
    let dir = relay.stop().await;
    assert_eq!(bob.read_state(team).await.expect("read offline").unread, 1, "the deleted one is not unread offline");
    drop(dir);
}

#[tokio::test]
async fn the_change_feed_pages_through_the_latest_change_of_each_message() {
    let t = TwoMemberTeam::start().await;
    let feed = |after: i64, limit: i64| format!("/api/teams/{}/messages/changes?after={after}&limit={limit}", t.id);
    let (status, empty) = t.bob.get(&feed(0, 50)).await;
    assert_eq!((status, empty), (StatusCode::OK, json!({ "messages": [], "next_after": 0, "more": false })));

    let one = post(&t, &t.alice, "c-1", "one").await;
    let two = post(&t, &t.alice, "c-2", "two").await;
    post(&t, &t.alice, "c-3", "three, never changed").await;
    t.alice.patch(&path(&t, &one), &json!({ "content": "one, first edit" })).await;
    t.alice.delete(&path(&t, &two)).await;
    let (_, last_edit) = t.alice.patch(&path(&t, &one), &json!({ "content": "one, second edit" })).await;

    // Each changed message once, as it is now, in the order of its last change.
    let (_, page) = t.bob.get(&feed(0, 1)).await;
    assert_eq!((page["messages"][0]["deleted"].clone(), page["more"].clone()), (json!(true), json!(true)), "{page}");
    let (_, rest) = t.bob.get(&feed(page["next_after"].as_i64().expect("cursor"), 1)).await;
    assert_eq!(rest["messages"], json!([last_edit]));
    assert_eq!((rest["next_after"].clone(), rest["more"].clone()), (json!(3), json!(false)));
    let (_, none) = t.bob.get(&feed(3, 50)).await;
    assert_eq!((none["messages"].clone(), none["next_after"].clone()), (json!([]), json!(3)));

    let outsider = t.relay.user("eve").await;
    let (status, error) = outsider.get(&feed(0, 50)).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) = t.bob.get(&format!("/api/teams/{}/messages/changes?after=soon", t.id)).await;
    assert!(status.is_client_error() && error["error"]["code"].is_string(), "{status}: {error}");
}

#[tokio::test]
async fn a_device_that_was_away_learns_of_deletions_and_edits_when_it_rejoins() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    for text in ["the secret plan", "lunch at noon", "see you there"] {
        alice.send_message(team, text).await.expect("send");
    }
    let shown = bob.messages(team).await.expect("read and kept");
    assert_eq!(bob.search("secret", 10).await.expect("search").len(), 1);

    // While bob's device is not in the room, alice takes one back and rewords another.
    alice.delete_message(team, shown[0].id).await.expect("delete");
    alice.edit_message(team, shown[1].id, "lunch at one").await.expect("edit");
    assert!(alice.outbox().await.expect("outbox").is_empty(), "both delivered");
    assert_eq!(bob.search("secret", 10).await.expect("search").len(), 1, "nothing told bob's device yet");

    let (sink, mut events) = Events::sink();
    let session = Session::start(Arc::new(bob), sink, loopback()).await;
    events.online().await;
    session.join_room(team).await.expect("join");
    // After the join, the app is told of each change it missed, as the room would have, once it is kept.
    let deleted = shown[0].id;
    let mut told = Vec::new();
    while told.len() < 2 {
        let change = events
            .room_frame(team, "the missed changes told to the app", |frame| match frame {
                ServerMessage::MessageChanged { message } => {
                    Some((message.id == deleted, message.deleted, message.content))
                }
                _ => None,
            })
            .await;
        told.push(change);
    }
    assert_eq!(told, [(true, true, String::new()), (false, false, "lunch at one".to_owned())]);
    let bob = session.node();
    assert!(bob.search("secret", 10).await.expect("search").is_empty(), "the deleted words left bob's device");
    assert_eq!(bob.search("one", 10).await.expect("search").len(), 1, "the edit is searchable");
    drop(relay.stop().await);
    let offline = bob.messages(team).await.expect("offline");
    let kept: Vec<_> = offline.iter().map(|m| (m.content.as_str(), m.deleted)).collect();
    assert_eq!(kept, [("", true), ("lunch at one", false), ("see you there", false)]);
    session.close().await;
}
