//! Sign-ins and what ends them: sign-out, sign-out everywhere, a password change or reset, refresh-token
//! reuse, an administrator disabling the account, its deletion, and an access token expiring unrenewed.
//! Each ends exactly the sessions it should, live `/api/ws` and `/sync` connections included (close 4003 or
//! 4001 with a reason). Also: one-time tickets for clients that cannot set headers, the sign-in back-off,
//! the profile, and the administrator's commands on a running relay.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_relay::auth::{AUDIENCE, AccessClaims};
use teamflow_tests::socket::{Ended, RoomSocket, bearer_request};
use teamflow_tests::{Client, PASSWORD, TestRelay, assert_error};
use tokio_tungstenite::tungstenite::Message;

const RELAY: &str = env!("CARGO_BIN_EXE_teamflow-relay-under-test");

/// A live connection must close this soon after its session ends (the relay's own ends are immediate; one
/// made by the admin command is seen within the relay's 250 ms poll). Generous for two shared cores.
const PROMPTLY: Duration = Duration::from_secs(3);

/// One sign-in of `email`: a client on its access token, and its refresh token.
async fn sign_in(relay: &TestRelay, email: &str, password: &str) -> (Client, String) {
    let (status, body) = relay.client().post("/api/auth/login", &json!({ "email": email, "password": password })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        relay.client().with_token(body["access_token"].as_str()),
        body["refresh_token"].as_str().expect("refresh").to_owned(),
    )
}

type RawSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A `/sync` connection of `client`'s session (no protocol spoken: the relay keeps it open regardless of
/// the handshake for 5 s, well past what these tests wait for).
async fn sync_socket(relay: &TestRelay, client: &Client, device: &str) -> RawSocket {
    let user = client.user_id().await;
    let url = format!("{}?peer_id={user}:{device}", relay.url("/sync").replacen("http://", "ws://", 1));
    let token = client.token.as_deref().expect("token");
    tokio_tungstenite::connect_async(bearer_request(&url, token)).await.expect("sync upgrade").0
}

/// How the relay ended a `/sync` connection.
async fn sync_ended(socket: &mut RawSocket) -> Ended {
    loop {
        match tokio::time::timeout(PROMPTLY, socket.next()).await.expect("the sync connection ended promptly") {
            Some(Ok(Message::Close(Some(frame)))) => {
                return Ended::Closed { code: frame.code.into(), reason: frame.reason.to_string() };
            }
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Ended::Dropped,
            Some(Ok(_)) => {}
        }
    }
}

async fn room_ended(socket: &mut RoomSocket) -> Ended {
    tokio::time::timeout(PROMPTLY, socket.ended()).await.expect("the room socket ended promptly")
}

fn closed(code: u16, reason: &str) -> Ended {
    Ended::Closed { code, reason: reason.to_owned() }
}

/// The socket is still served: a ping gets its pong.
async fn still_open(socket: &mut RoomSocket) {
    socket.drain(7).await;
}

#[tokio::test]
async fn signing_out_ends_that_sessions_connections_and_no_others() {
    let relay = TestRelay::start().await;
    relay.user("alice").await;
    let (laptop, laptop_refresh) = sign_in(&relay, "alice@example.test", PASSWORD).await;
    let (phone, _) = sign_in(&relay, "alice@example.test", PASSWORD).await;
    let mut laptop_room = RoomSocket::connect(&relay.url(""), laptop.token.as_deref().expect("token")).await;
    let mut laptop_sync = sync_socket(&relay, &laptop, "laptop").await;
    let mut phone_room = RoomSocket::connect(&relay.url(""), phone.token.as_deref().expect("token")).await;

    let (status, _) = relay.client().post("/api/auth/logout", &json!({ "refresh_token": laptop_refresh })).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(room_ended(&mut laptop_room).await, closed(4003, "signed_out"));
    assert_eq!(sync_ended(&mut laptop_sync).await, closed(4003, "signed_out"));
    still_open(&mut phone_room).await;
    // The ended session's access token is refused everywhere, before it would have expired.
    let (status, body) = laptop.get("/api/me").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(phone.get("/api/me").await.0, StatusCode::OK);
    let refused = tokio_tungstenite::connect_async(bearer_request(
        &relay.url("/api/ws").replacen("http://", "ws://", 1),
        laptop.token.as_deref().expect("token"),
    ))
    .await;
    assert!(
        matches!(refused, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let (other, _) = sign_in(&relay, "alice@example.test", PASSWORD).await;
    let bob = relay.user("bob").await;
    let mut mine = RoomSocket::connect(&relay.url(""), alice.token.as_deref().expect("token")).await;
    let mut other_sync = sync_socket(&relay, &other, "desktop").await;
    let mut bobs = RoomSocket::connect(&relay.url(""), bob.token.as_deref().expect("token")).await;
    assert_eq!(alice.post("/api/auth/logout-all", &json!({})).await.0, StatusCode::NO_CONTENT);
    assert_eq!(room_ended(&mut mine).await, closed(4003, "signed_out_everywhere"));
    assert_eq!(sync_ended(&mut other_sync).await, closed(4003, "signed_out_everywhere"));
    still_open(&mut bobs).await;
    assert_eq!(alice.get("/api/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(other.get("/api/me").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_the_callers() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let (other, other_refresh) = sign_in(&relay, "alice@example.test", PASSWORD).await;
    let mut mine = RoomSocket::connect(&relay.url(""), alice.token.as_deref().expect("token")).await;
    let mut theirs = RoomSocket::connect(&relay.url(""), other.token.as_deref().expect("token")).await;
    let mut their_sync = sync_socket(&relay, &other, "phone").await;

    let wrong = json!({ "current_password": "not the password", "new_password": "a new password" });
    let (status, body) = alice.post("/api/me/password", &wrong).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(body["error"]["details"]["current_password"].is_string(), "{body}");
    let short = json!({ "current_password": PASSWORD, "new_password": "short" });
    assert_eq!(alice.post("/api/me/password", &short).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    still_open(&mut theirs).await;

    let change = json!({ "current_password": PASSWORD, "new_password": "a new password" });
    assert_eq!(alice.post("/api/me/password", &change).await.0, StatusCode::NO_CONTENT);
    assert_eq!(room_ended(&mut theirs).await, closed(4003, "password_changed"));
    assert_eq!(sync_ended(&mut their_sync).await, closed(4003, "password_changed"));
    still_open(&mut mine).await;
    assert_eq!(alice.get("/api/me").await.0, StatusCode::OK);
    let (status, _) = relay.client().post("/api/auth/refresh", &json!({ "refresh_token": other_refresh })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    sign_in(&relay, "alice@example.test", "a new password").await;
}

#[tokio::test]
async fn reusing_a_refresh_token_ends_its_session_live() {
    let relay = TestRelay::start().await;
    relay.user("alice").await;
    let (alice, first) = sign_in(&relay, "alice@example.test", PASSWORD).await;
    let mut room = RoomSocket::connect(&relay.url(""), alice.token.as_deref().expect("token")).await;
    let mut sync = sync_socket(&relay, &alice, "laptop").await;
    let (status, next) = relay.client().post("/api/auth/refresh", &json!({ "refresh_token": first })).await;
    assert_eq!(status, StatusCode::OK);
    // Its successor used first, so presenting the old token again is a replay, not a client's retry.
    let successor = next["refresh_token"].as_str().expect("refresh token");
    let (status, _) = relay.client().post("/api/auth/refresh", &json!({ "refresh_token": successor })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = relay.client().post("/api/auth/refresh", &json!({ "refresh_token": first })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reused");
    assert_eq!(room_ended(&mut room).await, closed(4003, "refresh_token_reused"));
    assert_eq!(sync_ended(&mut sync).await, closed(4003, "refresh_token_reused"));
}

/// A token of `client`'s session that expires `secs` from now, signed by the relay.
async fn short_token(relay: &TestRelay, client: &Client, user: &str, secs: u64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    relay
        .sign(&AccessClaims {
            sub: user.to_owned(),
            iss: "teamflow-relay".into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + secs,
            sid: client.session_id(),
        })
        .await
}

#[tokio::test]
async fn a_connection_closes_when_its_token_expires_unless_renewed_in_band() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let user = alice.user_id().await;
    let expiring = short_token(&relay, &alice, &user, 3).await;
    let mut renewed = RoomSocket::connect(&relay.url(""), &expiring).await;
    let mut left = RoomSocket::connect(&relay.url(""), &expiring).await;
    let mut sync = sync_socket(&relay, &alice.with_token(Some(&expiring)), "laptop").await;

    // A token of another user or another sign-in does not renew.
    let bob = relay.user("bob").await;
    renewed.send(json!({ "type": "renew", "token": bob.token })).await;
    assert_eq!(renewed.next_of("error").await["code"], "forbidden");
    let (other_session, _) = sign_in(&relay, "alice@example.test", PASSWORD).await;
    renewed.send(json!({ "type": "renew", "token": other_session.token })).await;
    assert_eq!(renewed.next_of("error").await["code"], "forbidden");
    renewed.send(json!({ "type": "renew", "token": "garbage" })).await;
    assert_eq!(renewed.next_of("error").await["code"], "unauthorized");

    renewed.send(json!({ "type": "renew", "token": alice.token })).await;
    let answer = renewed.next_of("renewed").await;
    assert!(answer["expires_in"].as_u64().is_some_and(|s| s > 60), "{answer}");

    // Waiting on the expiry itself: the unrenewed connections close when it comes.
    assert_eq!(left.ended().await, closed(4001, "token_expired"));
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(10), sync_ended(&mut sync)).await.expect("sync closed"),
        closed(4001, "token_expired")
    );
    still_open(&mut renewed).await;
}

#[tokio::test]
async fn tickets_stand_in_for_the_header_once_and_briefly() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let ws = relay.url("/api/ws").replacen("http://", "ws://", 1);
    let ticket = |answer: Value| answer["ticket"].as_str().expect("ticket").to_owned();

    let (status, answer) = alice.post("/api/auth/ticket", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["expires_in"], 30);
    let first = ticket(answer);
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws}?ticket={first}")).await.expect("upgrade");
    let welcome = socket.next().await.expect("frame").expect("ok");
    assert!(welcome.to_text().expect("text").contains("welcome"));
    let again = tokio_tungstenite::connect_async(format!("{ws}?ticket={first}")).await;
    assert!(
        matches!(again, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == StatusCode::UNAUTHORIZED),
        "single use"
    );

    // On /sync too.
    let user = alice.user_id().await;
    let sync = relay.url("/sync").replacen("http://", "ws://", 1);
    let second = ticket(alice.post("/api/auth/ticket", &json!({})).await.1);
    assert!(tokio_tungstenite::connect_async(format!("{sync}?ticket={second}&peer_id={user}:browser")).await.is_ok());

    // A ticket dies with its session; and it never works as a bearer token.
    let third = ticket(alice.post("/api/auth/ticket", &json!({})).await.1);
    assert_eq!(alice.with_token(Some(&third)).get("/api/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(alice.post("/api/auth/logout-all", &json!({})).await.0, StatusCode::NO_CONTENT);
    let after = tokio_tungstenite::connect_async(format!("{ws}?ticket={third}")).await;
    assert!(
        matches!(after, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == StatusCode::UNAUTHORIZED)
    );
    assert_eq!(relay.client().post("/api/auth/ticket", &json!({})).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn five_wrong_passwords_make_further_attempts_for_that_email_wait() {
    let relay = TestRelay::start().await;
    relay.user("alice").await;
    relay.user("bob").await;
    let login = |email: &str, password: &str| {
        let client = relay.client();
        let body = json!({ "email": email, "password": password });
        async move { client.post("/api/auth/login", &body).await }
    };
    // Four mistakes cost nothing (and a success forgets them).
    for _ in 0..4 {
        assert_eq!(login("alice@example.test", "not the password").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login("alice@example.test", PASSWORD).await.0, StatusCode::OK);
    let mut wrong_answers = Vec::new();
    for _ in 0..5 {
        let (status, body) = login("alice@example.test", "not the password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        wrong_answers.push(body);
    }
    // Now even the right password waits, answered exactly as a wrong one.
    let (status, body) = login("ALICE@example.test", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, wrong_answers[0]);
    // Another account is not held back.
    assert_eq!(login("bob@example.test", PASSWORD).await.0, StatusCode::OK);
}

/// Runs `teamflow-relay admin ARGS` against `relay`'s data directory, as another process would; its stdout.
pub(crate) fn admin(relay: &TestRelay, args: &[&str]) -> String {
    let mut command = std::process::Command::new(RELAY);
    command.arg("admin").args(args).arg("--data-dir").arg(relay.data_dir()).arg("--public-url").arg(relay.url(""));
    if let Some(url) = relay.database_url() {
        command.arg("--database-url").arg(url);
    }
    let output = command.output().expect("run teamflow-relay admin");
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert!(output.status.success(), "admin {args:?}: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

#[tokio::test]
async fn the_administrator_disables_enables_resets_and_invites_while_the_relay_runs() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let alice = relay.user("alice").await;
    let mut room = RoomSocket::connect(&relay.url(""), alice.token.as_deref().expect("token")).await;
    let mut sync = sync_socket(&relay, &alice, "laptop").await;
    let mut owners = RoomSocket::connect(&relay.url(""), owner.token.as_deref().expect("token")).await;

    let users = admin(&relay, &["users"]);
    assert_eq!(users.lines().count(), 2, "{users}");
    assert!(users.lines().next().is_some_and(|l| l.starts_with("owner@example.test") && l.contains("administrator")));

    // Another process disables alice: the running relay ends her connections within its poll.
    admin(&relay, &["disable", "Alice@Example.test"]);
    assert_eq!(room_ended(&mut room).await, closed(4003, "account_disabled"));
    assert_eq!(sync_ended(&mut sync).await, closed(4003, "account_disabled"));
    still_open(&mut owners).await;
    assert_eq!(alice.get("/api/me").await.0, StatusCode::UNAUTHORIZED);
    let (status, body) =
        relay.client().post("/api/auth/login", &json!({ "email": "alice@example.test", "password": PASSWORD })).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    assert!(admin(&relay, &["users"]).contains("disabled"));
    admin(&relay, &["enable", "alice@example.test"]);
    sign_in(&relay, "alice@example.test", PASSWORD).await;

    // A reset link: once, and every sign-in ends.
    let (signed_in, _) = sign_in(&relay, "alice@example.test", PASSWORD).await;
    let mut signed_in_room = RoomSocket::connect(&relay.url(""), signed_in.token.as_deref().expect("token")).await;
    let printed = admin(&relay, &["reset-password", "alice@example.test"]);
    let link = printed.lines().next().expect("a link");
    assert!(link.starts_with(&format!("{}/reset-password/", relay.url(""))), "{printed}");
    let token = link.rsplit('/').next().expect("token");
    let reset = json!({ "token": token, "new_password": "reset password" });
    assert_eq!(relay.client().post("/api/auth/reset-password", &reset).await.0, StatusCode::NO_CONTENT);
    assert_eq!(room_ended(&mut signed_in_room).await, closed(4003, "password_changed"));
    let (status, body) = relay.client().post("/api/auth/reset-password", &reset).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    sign_in(&relay, "alice@example.test", "reset password").await;

    // An invitation link for a team, from the command line.
    let team = owner.create_team("Crew").await;
    let link = admin(&relay, &["invite", "--team", &team, "--role", "member"]);
    let token = link.trim().rsplit('/').next().expect("token");
    let (status, preview) = relay.client().get(&format!("/api/invitations/{token}")).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["inviter_name"], "the relay's administrator");
    let newcomer = relay.user("newcomer").await;
    assert_eq!(newcomer.post(&format!("/api/invitations/{token}/accept"), &json!({})).await.0, StatusCode::OK);
}

#[tokio::test]
async fn deleting_an_account_keeps_its_messages_as_deleted_user() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let bob = relay.user("bob").await;
    let team = owner.create_team("Crew").await;
    owner.add_member(&team, "bob@example.test", "member").await;
    let bob = bob.sign_in("bob@example.test").await;
    let (status, _) =
        bob.post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "m1", "content": "hello" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut bobs_room = RoomSocket::connect(&relay.url(""), bob.token.as_deref().expect("token")).await;

    let (status, body) = owner.send(reqwest::Method::DELETE, "/api/me", Some(&json!({ "password": PASSWORD }))).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) =
        bob.send(reqwest::Method::DELETE, "/api/me", Some(&json!({ "password": "wrong password" }))).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, _) = bob.send(reqwest::Method::DELETE, "/api/me", Some(&json!({ "password": PASSWORD }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(room_ended(&mut bobs_room).await, closed(4003, "account_deleted"));
    assert_eq!(bob.get("/api/me").await.0, StatusCode::UNAUTHORIZED);
    let (_, messages) = owner.get(&format!("/api/teams/{team}/messages")).await;
    assert_eq!(messages["messages"][0]["content"], "hello");
    assert_eq!(messages["messages"][0]["author_name"], "Deleted user");
    let (_, members) = owner.get(&format!("/api/teams/{team}/members")).await;
    assert_eq!(members.as_array().expect("members").len(), 1);
    let (status, _) =
        relay.client().post("/api/auth/login", &json!({ "email": "bob@example.test", "password": PASSWORD })).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The email is free again.
    relay.user("bob").await;
}

#[tokio::test]
async fn the_display_name_changes() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let (status, user) = alice.patch("/api/me", &json!({ "display_name": "  Alice Liddell " })).await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["display_name"], "Alice Liddell");
    assert_eq!(alice.get("/api/me").await.1["user"]["display_name"], "Alice Liddell");
    let (status, body) = alice.patch("/api/me", &json!({ "display_name": "" })).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn a_node_keeps_its_room_open_past_its_token_by_renewing_in_band() {
    let dir = teamflow_tests::DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.limits.access_token_ttl_secs = 10;
    let relay = TestRelay::start_with(dir, config).await;
    let node_dir = teamflow_tests::DataDir::new();
    let node = teamflow_node::Node::open(node_dir.path(), &relay.url("")).await.expect("open");
    node.sign_up("alice@example.test", PASSWORD, "Alice").await.expect("sign up");
    let team = node.create_team("Crew").await.expect("team").id;
    let mut frames = node.subscribe(team).await.expect("subscribe");
    assert!(matches!(frames.recv().await, Some(teamflow_protocol::realtime::ServerMessage::TeamState { .. })));
    // A socket of another sign-in, never renewed: its close marks the moment the node's first token expired.
    let (clock, _) = sign_in(&relay, "alice@example.test", PASSWORD).await;
    let mut clock = RoomSocket::connect(&relay.url(""), clock.token.as_deref().expect("token")).await;

    let stop = tokio_util::sync::CancellationToken::new();
    let check = async {
        let ended = tokio::time::timeout(Duration::from_secs(60), async {
            loop {
                if let Err(ended) = clock.next_or_end().await {
                    return ended;
                }
            }
        })
        .await
        .expect("the unrenewed socket closed at its expiry");
        assert_eq!(ended, closed(4001, "token_expired"));
        let (poster, _) = sign_in(&relay, "alice@example.test", PASSWORD).await;
        let body = json!({ "client_id": "after-expiry", "content": "still here" });
        assert_eq!(poster.post(&format!("/api/teams/{team}/messages"), &body).await.0, StatusCode::CREATED);
        // The node's socket is the same one: the message arrives with no reconnection (`team_state`) before it.
        loop {
            match tokio::time::timeout(Duration::from_secs(30), frames.recv()).await.expect("a frame").expect("open") {
                teamflow_protocol::realtime::ServerMessage::NewMessage { message } => {
                    assert_eq!(message.content, "still here");
                    break;
                }
                teamflow_protocol::realtime::ServerMessage::TeamState { .. } => panic!("the room reconnected"),
                _ => {}
            }
        }
        stop.cancel();
    };
    tokio::join!(node.keep_access_fresh(stop.clone()), check);
    node.close().await;
}
