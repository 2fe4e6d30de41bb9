//! Realtime rooms through a real relay: chat both ways exactly once, presence, fan-out of REST changes,
//! revocation on live sockets, and bad input: unauthenticated upgrades, garbage, floods, oversized frames,
//! silent and non-reading clients.

use std::io::{Read, Write};

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_tests::socket::{Ended, RoomSocket};
use teamflow_tests::{Client, DataDir, TestRelay, TwoMemberTeam, test_config};
use tokio_tungstenite::tungstenite::Message;

async fn team() -> TwoMemberTeam {
    TwoMemberTeam::start().await
}

async fn team_on(relay: TestRelay) -> TwoMemberTeam {
    TwoMemberTeam::on(relay).await
}

async fn socket(relay: &TestRelay, client: &Client) -> RoomSocket {
    RoomSocket::connect(&relay.url(""), client.token.as_deref().expect("signed in")).await
}

fn types(frames: &[Value]) -> Vec<&str> {
    frames.iter().map(|f| f["type"].as_str().unwrap_or("?")).collect()
}

#[tokio::test]
async fn unauthenticated_upgrades_get_401_not_101() {
    let relay = TestRelay::start().await;
    let ws_url = relay.url("/api/ws").replacen("http://", "ws://", 1);
    let alice = relay.user("alice").await;
    let token = alice.token.clone().expect("token");
    // A token in the URL is never read, valid or not: only the header, or a one-time ticket.
    for url in [ws_url.clone(), format!("{ws_url}?token=forged.token.here"), format!("{ws_url}?token={token}")] {
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            }
            other => panic!("expected a 401 refusal, got {other:?}"),
        }
    }
    let request = teamflow_tests::socket::bearer_request(&format!("{ws_url}?protocol=2"), &token);
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        }
        other => panic!("expected a 400 for an unknown protocol, got {other:?}"),
    }
    // A plain GET with a valid token is told it needs an upgrade, in the error shape.
    let (status, body) = alice.get("/api/ws").await;
    teamflow_tests::assert_error(status, &body, StatusCode::BAD_REQUEST, "validation_failed");
}

#[tokio::test]
async fn many_projects_arrive_in_pages_after_the_team_state() {
    let t = team().await;
    let page = teamflow_protocol::realtime::PROJECTS_PER_FRAME;
    let path = format!("/api/teams/{}/projects", t.id);
    for i in 0..page + 3 {
        let (status, body) = t.alice.post(&path, &json!({ "name": format!("project {i:02}") })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut a = socket(&t.relay, &t.alice).await;
    a.send(json!({ "type": "join_team", "team_id": t.id })).await;
    let state = a.next().await;
    let more = a.next().await;
    assert_eq!(state["type"], "team_state");
    assert_eq!(more["type"], "team_projects", "the rest follows at once: {more}");
    assert_eq!(more["team_id"], t.id.as_str());
    let first = state["projects"].as_array().expect("projects");
    let rest = more["projects"].as_array().expect("projects");
    assert_eq!((first.len(), rest.len()), (page, 3));
    // Together, the same list in the same order as the REST listing.
    let paged: Vec<&Value> = first.iter().chain(rest).map(|p| &p["id"]).collect();
    let (_, listed) = t.alice.get(&path).await;
    let listed: Vec<&Value> = listed.as_array().expect("a list").iter().map(|p| &p["id"]).collect();
    assert_eq!(paged, listed);
}

#[tokio::test]
async fn a_large_team_arrives_in_pages_of_members_right_after_the_team_state() {
    let t = team().await;
    let page = teamflow_protocol::realtime::MEMBERS_PER_FRAME;
    // Alice, bob and enough others for a second page, some of them online.
    let mut others = Vec::new();
    for i in 0..page {
        let name = format!("member{i}");
        t.relay.user(&name).await;
        t.alice.add_member(&t.id, &format!("{name}@example.test"), "member").await;
        others.push(name);
    }
    let mut b = socket(&t.relay, &t.bob).await;
    b.join(&t.id).await;
    let mut a = socket(&t.relay, &t.alice).await;
    a.send(json!({ "type": "join_team", "team_id": t.id })).await;
    let state = a.next().await;
    let more = a.next().await;
    assert_eq!(state["type"], "team_state");
    assert_eq!(more["type"], "team_members", "the rest follows at once: {more}");
    assert_eq!(more["team_id"], t.id.as_str());
    let first = state["members"].as_array().expect("members");
    let rest = more["members"].as_array().expect("members");
    assert_eq!(first.len(), page);
    assert_eq!(rest.len(), 2, "alice, bob and one page of others: two left over");
    let everyone: Vec<&Value> = first.iter().chain(rest).collect();
    let mut names: Vec<&str> = everyone.iter().map(|m| m["display_name"].as_str().expect("name")).collect();
    names.sort_unstable();
    let mut expected: Vec<&str> = others.iter().map(String::as_str).chain(["alice", "bob"]).collect();
    expected.sort_unstable();
    assert_eq!(names, expected, "every member exactly once");
    let online: Vec<&str> =
        everyone.iter().filter(|m| m["online"] == true).map(|m| m["display_name"].as_str().expect("name")).collect();
    assert_eq!(online.len(), 2, "alice and bob: {online:?}");
}

#[tokio::test]
async fn joining_gives_the_team_state_and_outsiders_learn_nothing() {
    let t = team().await;
    let mut a = socket(&t.relay, &t.alice).await;
    let state = a.join(&t.id).await;
    assert_eq!(state["team"]["name"], "Team");
    assert_eq!(state["latest_seq"], 0);
    let members = state["members"].as_array().expect("members");
    let online: Vec<(&str, bool)> = members
        .iter()
        .map(|m| (m["display_name"].as_str().expect("name"), m["online"].as_bool().expect("online")))
        .collect();
    assert_eq!(online, [("alice", true), ("bob", false)]);

    let mallory = t.relay.user("mallory").await;
    let mut m = socket(&t.relay, &mallory).await;
    m.send(json!({ "type": "join_team", "team_id": t.id })).await;
    let refused = m.next().await;
    m.send(json!({ "type": "join_team", "team_id": uuid::Uuid::now_v7() })).await;
    let missing = m.next().await;
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["code"], "forbidden");
    assert_eq!(refused["ref"], "join_team");
    assert_eq!(refused, missing, "a real team and a missing one look the same");
    // And mallory receives none of the team's traffic.
    t.alice.post(&format!("/api/teams/{}/messages", t.id), &json!({ "client_id": "x", "content": "secret" })).await;
    assert_eq!(m.drain(1).await, Vec::<Value>::new());
}

#[tokio::test]
async fn chat_flows_both_ways_exactly_once() {
    let t = team().await;
    let mut a = socket(&t.relay, &t.alice).await;
    let mut b = socket(&t.relay, &t.bob).await;
    a.join(&t.id).await;
    b.join(&t.id).await;
    assert_eq!(a.next_of("user_joined").await["user_id"], t.bob.user_id().await);

    let send = json!({ "type": "send_message", "team_id": t.id, "client_msg_id": "m-1", "content": "hi bob" });
    a.send(send.clone()).await;
    let mut alice_saw = Vec::new();
    while alice_saw.len() < 2 {
        alice_saw.push(a.next().await);
    }
    let ack = alice_saw.iter().find(|f| f["type"] == "message_ack").expect("ack");
    assert_eq!(ack["client_msg_id"], "m-1");
    assert_eq!(ack["seq"], 1);
    assert!(alice_saw.iter().any(|f| f["type"] == "new_message"), "{alice_saw:?}");
    let got = b.next_of("new_message").await;
    assert_eq!(got["message"]["content"], "hi bob");
    assert_eq!(got["message"]["author_name"], "alice");

    // A retry (say after a lost ack) is acknowledged again but reaches nobody twice.
    a.send(send).await;
    let retry_ack = a.next_of("message_ack").await;
    assert_eq!(retry_ack["message_id"], ack["message_id"]);
    assert_eq!(types(&b.drain(1).await), Vec::<&str>::new());

    // Bob answers over the socket; alice hears it.
    b.send(json!({ "type": "send_message", "team_id": t.id, "client_msg_id": "b-1", "content": "hi alice" })).await;
    assert_eq!(a.next_of("new_message").await["message"]["seq"], 2);
    let (_, page) = t.alice.get(&format!("/api/teams/{}/messages", t.id)).await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn invalid_messages_get_error_frames_with_their_ref() {
    let t = team().await;
    let viewer = t.relay.user("viewer").await;
    t.alice.add_member(&t.id, "viewer@example.test", "viewer").await;
    let mut v = socket(&t.relay, &viewer).await;
    v.send(json!({ "type": "send_message", "team_id": t.id, "client_msg_id": "v-1", "content": "let me in" })).await;
    let error = v.next().await;
    assert_eq!((error["code"].as_str(), error["ref"].as_str()), (Some("forbidden"), Some("v-1")));
    let mut a = socket(&t.relay, &t.alice).await;
    a.send(json!({ "type": "send_message", "team_id": t.id, "client_msg_id": "a-1", "content": "  " })).await;
    let error = a.next().await;
    assert_eq!((error["code"].as_str(), error["ref"].as_str()), (Some("validation_failed"), Some("a-1")));
}

#[tokio::test]
async fn presence_follows_the_last_connection_of_each_user() {
    let t = team().await;
    let mut a = socket(&t.relay, &t.alice).await;
    a.join(&t.id).await;
    let bob_id = t.bob.user_id().await;
    let mut b1 = socket(&t.relay, &t.bob).await;
    let mut b2 = socket(&t.relay, &t.bob).await;
    b1.join(&t.id).await;
    assert_eq!(a.next_of("user_joined").await["user_id"], bob_id);
    let state = b2.join(&t.id).await;
    assert!(state["members"].as_array().expect("members").iter().all(|m| m["online"] == true));
    drop(b1);
    // Bob is still online through b2: alice sees nothing yet.
    assert_eq!(types(&a.drain(1).await), Vec::<&str>::new());
    b2.send(json!({ "type": "leave_team", "team_id": t.id })).await;
    let left = a.next_of("user_left").await;
    assert_eq!(left["user_id"], bob_id);
}

#[tokio::test]
async fn rest_changes_and_socket_project_updates_fan_out() {
    let t = team().await;
    let mut b = socket(&t.relay, &t.bob).await;
    b.join(&t.id).await;
    let (_, project) = t.alice.post(&format!("/api/teams/{}/projects", t.id), &json!({ "name": "Roadmap" })).await;
    assert_eq!(b.next_of("project_updated").await["project"], project);
    t.alice
        .post(&format!("/api/teams/{}/messages", t.id), &json!({ "client_id": "rest", "content": "via REST" }))
        .await;
    assert_eq!(b.next_of("new_message").await["message"]["content"], "via REST");

    let mut a = socket(&t.relay, &t.alice).await;
    a.send(json!({
        "type": "update_project", "team_id": t.id, "project_id": project["id"],
        "project": { "name": "Roadmap 2", "status": "paused" }
    }))
    .await;
    let updated = b.next_of("project_updated").await;
    assert_eq!(updated["project"]["name"], "Roadmap 2");
    assert_eq!(updated["project"]["status"], "paused");
    t.alice.delete(&format!("/api/teams/{}/projects/{}", t.id, project["id"].as_str().expect("id"))).await;
    assert_eq!(b.next_of("project_deleted").await["project_id"], project["id"]);

    b.send(json!({ "type": "typing", "team_id": t.id })).await;
    a.join(&t.id).await;
    b.send(json!({ "type": "typing", "team_id": t.id })).await;
    assert_eq!(a.next_of("typing").await["user_id"], t.bob.user_id().await);
    assert!(!types(&b.drain(7).await).contains(&"typing"), "typing is not echoed to its sender");
}

#[tokio::test]
async fn removing_or_demoting_a_member_cuts_their_live_traffic() {
    let t = team().await;
    let carol = t.relay.user("carol").await;
    t.alice.add_member(&t.id, "carol@example.test", "member").await;
    let mut b = socket(&t.relay, &t.bob).await;
    let mut c = socket(&t.relay, &carol).await;
    b.join(&t.id).await;
    c.join(&t.id).await;
    let (bob_id, carol_id) = (t.bob.user_id().await, carol.user_id().await);

    let (status, _) = t.alice.delete(&format!("/api/teams/{}/members/{bob_id}", t.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(b.next_of("access_revoked").await["team_id"], t.id);
    t.alice
        .post(&format!("/api/teams/{}/messages", t.id), &json!({ "client_id": "after", "content": "bob is gone" }))
        .await;
    let carol_saw = c.next_of("new_message").await;
    assert_eq!(carol_saw["message"]["content"], "bob is gone");
    assert!(!types(&b.drain(1).await).contains(&"new_message"), "no more team traffic for bob");
    b.send(json!({ "type": "send_message", "team_id": t.id, "client_msg_id": "late", "content": "hello?" })).await;
    assert_eq!(b.next().await["code"], "forbidden");

    // Lowering a role revokes too: carol must rejoin, now as a viewer.
    t.alice.patch(&format!("/api/teams/{}/members/{carol_id}", t.id), &json!({ "role": "viewer" })).await;
    assert_eq!(c.next_of("access_revoked").await["team_id"], t.id);
    let rejoined = c.join(&t.id).await;
    let me = rejoined["members"].as_array().expect("members").iter().find(|m| m["user_id"] == carol_id).cloned();
    assert_eq!(me.expect("carol")["role"], "viewer");
}

#[tokio::test]
async fn malformed_frames_get_errors_and_persistent_garbage_is_closed() {
    let t = team().await;
    let mut a = socket(&t.relay, &t.alice).await;
    for garbage in ["not json", "{\"type\":\"shout\"}", "{\"type\":\"join_team\"}", "{\"type\":\"ping\",\"x\":1}"] {
        a.send_raw(Message::text(garbage)).await;
        let error = a.next().await;
        assert_eq!(error["type"], "error", "{garbage}");
        assert_eq!(error["code"], "validation_failed", "{garbage}");
    }
    a.send_raw(Message::binary(vec![0, 1, 2])).await;
    assert_eq!(a.next().await["code"], "validation_failed");
    // Still alive after five.
    assert_eq!(a.drain(3).await, Vec::<Value>::new());
    a.send_raw(Message::text("{")).await;
    assert_eq!(a.ended().await, Ended::Closed { code: 1008, reason: "too many malformed frames".into() });
}

#[tokio::test]
async fn floods_are_refused_then_closed() {
    let t = team().await;
    let mut a = socket(&t.relay, &t.alice).await;
    // Far more than the relay reads at once (about 90 KB): bytes still unread when it closes must not turn
    // the close into a reset that loses the error frames sent just before it.
    for n in 0..2000 {
        a.send(json!({ "type": "ping", "nonce": n })).await;
    }
    let mut limited = 0;
    let ended = loop {
        match tokio::time::timeout(teamflow_tests::socket::PATIENCE, a.next_or_end()).await.expect("in time") {
            Ok(frame) => limited += usize::from(frame["code"] == "rate_limited"),
            Err(ended) => break ended,
        }
    };
    assert!(limited > 0, "some frames were refused before the close");
    assert_eq!(ended, Ended::Closed { code: 1008, reason: "message rate exceeded".into() });
}

#[tokio::test]
async fn oversized_frames_end_the_connection() {
    let t = team().await;
    let mut a = socket(&t.relay, &t.alice).await;
    let huge =
        json!({ "type": "send_message", "team_id": t.id, "client_msg_id": "big", "content": "x".repeat(100 * 1024) });
    a.send(huge).await;
    assert!(matches!(a.ended().await, Ended::Closed { .. } | Ended::Dropped));
    let (_, page) = t.alice.get(&format!("/api/teams/{}/messages", t.id)).await;
    assert_eq!(page["messages"], json!([]), "nothing was stored");
    // The user can connect again.
    socket(&t.relay, &t.alice).await.drain(1).await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected_without_slowing_others() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.limits.ws_queue = 4;
    let t = team_on(TestRelay::start_with(dir, config).await).await;
    let mut a = socket(&t.relay, &t.alice).await;
    a.join(&t.id).await;
    let mut b = socket(&t.relay, &t.bob).await;
    b.join(&t.id).await;
    a.next_of("user_joined").await;
    let bob_id = t.bob.user_id().await;
    // Bob stops reading. Big messages fill the socket buffers, then his queue: the hub cuts him off,
    // which alice sees as bob leaving, while she keeps receiving everything.
    let content = "y".repeat(10_000);
    let mut sent = 0;
    let mut received = 0;
    'flood: while sent < 5_000 {
        let (status, _) = t
            .alice
            .post(
                &format!("/api/teams/{}/messages", t.id),
                &json!({ "client_id": format!("f{sent}"), "content": content }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        sent += 1;
        loop {
            let frame = a.next().await;
            match frame["type"].as_str() {
                Some("new_message") => {
                    received += 1;
                    break;
                }
                Some("user_left") if frame["user_id"] == bob_id => break 'flood,
                _ => {}
            }
        }
    }
    assert!(sent < 5_000, "bob was never disconnected");
    assert!(received >= sent - 1, "alice got {received} of {sent}");
    assert_eq!(b.ended().await, Ended::Closed { code: 1013, reason: "too slow: the outgoing queue filled up".into() });
}

#[tokio::test]
async fn a_silent_client_is_closed_by_the_heartbeat() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.limits.ws_heartbeat_secs = 1;
    let relay = TestRelay::start_with(dir, config).await;
    let alice = relay.user("alice").await;
    let token = alice.token.clone().expect("token");
    let addr = relay.addr;
    // A raw socket that completes the handshake and then never answers a ping.
    let close_code = tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
        write!(
            tcp,
            "GET /api/ws HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .expect("handshake");
        let mut bytes = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = tcp.read(&mut chunk).expect("read before the relay closes");
            if n == 0 {
                return None;
            }
            bytes.extend_from_slice(&chunk[..n]);
            if let Some(code) = close_code_in(&bytes) {
                return Some(code);
            }
        }
    })
    .await
    .expect("raw client");
    assert_eq!(close_code, Some(1001));
}

/// Finds a close frame's status code in raw server-to-client WebSocket bytes (after the HTTP response).
fn close_code_in(bytes: &[u8]) -> Option<u16> {
    let start = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let mut frames = &bytes[start..];
    while frames.len() >= 2 {
        let opcode = frames[0] & 0x0f;
        let (len, header) = match frames[1] & 0x7f {
            126 if frames.len() >= 4 => (usize::from(u16::from_be_bytes([frames[2], frames[3]])), 4),
            127 => return None,
            126 => return None,
            n => (usize::from(n), 2),
        };
        if frames.len() < header + len {
            return None;
        }
        if opcode == 0x8 && len >= 2 {
            return Some(u16::from_be_bytes([frames[header], frames[header + 1]]));
        }
        frames = &frames[header + len..];
    }
    None
}
