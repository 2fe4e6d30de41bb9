//! Two relay instances joined by a real NATS server (`--nats-url`): room traffic (chat, typing, presence)
//! posted through one reaches room sockets on the other, and revocations (a member removed, a user signed
//! out everywhere) cut the other's sockets and document sync. The instances share one data directory (one SQLite file and
//! signing key), as instances on one machine may; on PostgreSQL they would share `--database-url`
//! instead. Without NATS, the same two instances do not see each other's frames.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_protocol::realtime::CLOSE_SESSION_ENDED;
use teamflow_relay::RelayError;
use teamflow_relay::cluster::{ClusterError, round_trip};
use teamflow_sync::{read_text, splice_text};
use teamflow_tests::services::Nats;

use super::{two_instances, two_instances_with};
use teamflow_tests::socket::{Ended, RoomSocket};
use teamflow_tests::{Client, DataDir, TestRelay, sync_client, test_config, text_when, within};

/// A guard against a hang, not a timing: the machine is shared and loaded. The time measured is reported.
const HANG_GUARD: Duration = Duration::from_secs(5);

/// Alice (owner) and bob (member) of a team, made through A; the same accounts on B (one database, one
/// signing key: A's tokens are good on B).
async fn team(a: &TestRelay, b: &TestRelay) -> (Client, Client, String, Client, Client) {
    let alice = a.user("alice").await;
    let bob = a.user("bob").await;
    let team = alice.create_team("Team").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    let on_b = |client: &Client| b.client().with_token(client.token.as_deref());
    let (alice_b, bob_b) = (on_b(&alice), on_b(&bob));
    (alice, bob, team, alice_b, bob_b)
}

async fn socket(relay: &TestRelay, client: &Client) -> RoomSocket {
    RoomSocket::connect(&relay.url(""), client.token.as_deref().expect("signed in")).await
}

fn types(frames: &[Value]) -> Vec<&str> {
    frames.iter().map(|f| f["type"].as_str().unwrap_or("?")).collect()
}

/// Waits for a frame of type `kind` on `socket`, failing with the time waited if none comes in time.
async fn within_guard(socket: &mut RoomSocket, kind: &str, since: Instant) -> Value {
    match tokio::time::timeout(HANG_GUARD, socket.next_of(kind)).await {
        Ok(frame) => frame,
        Err(_) => panic!("no {kind} within {:?} (waited {:?})", HANG_GUARD, since.elapsed()),
    }
}

#[tokio::test]
async fn chat_typing_and_presence_on_one_instance_reach_room_sockets_on_the_other() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob, team, _, _) = team(&a, &b).await;
    let (alice_id, bob_id) = (alice.user_id().await, bob.user_id().await);

    let mut bob_on_b = socket(&b, &bob).await;
    bob_on_b.join(&team).await;
    // Alice joins on A: bob, on B, sees her come online; she learns bob is online, in her team state or
    // (when B's answer to A's hello comes after her join) right after it.
    let mut alice_on_a = socket(&a, &alice).await;
    let (state, _) = alice_on_a.join_seeing(&team).await;
    assert_eq!(within_guard(&mut bob_on_b, "user_joined", Instant::now()).await["user_id"], alice_id);
    let bob_online_in_state =
        state["members"].as_array().expect("members").iter().any(|m| m["user_id"] == bob_id && m["online"] == true);
    if !bob_online_in_state {
        assert_eq!(within_guard(&mut alice_on_a, "user_joined", Instant::now()).await["user_id"], bob_id);
    }

    // A message posted through A's REST API reaches bob's socket on B.
    let posted = Instant::now();
    let (status, body) = alice
        .post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "a-1", "content": "hi from A" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let got = within_guard(&mut bob_on_b, "new_message", posted).await;
    assert_eq!(got["message"]["content"], "hi from A");
    assert_eq!(got["message"]["seq"], 1);

    // Bob answers through his socket on B; alice's socket on A gets it, numbered next (after her own).
    assert_eq!(within_guard(&mut alice_on_a, "new_message", posted).await["message"]["seq"], 1);
    bob_on_b.send(json!({ "type": "send_message", "team_id": team, "client_msg_id": "b-1", "content": "hi A" })).await;
    let got = within_guard(&mut alice_on_a, "new_message", Instant::now()).await;
    assert_eq!((got["message"]["content"].as_str(), got["message"]["seq"].as_i64()), (Some("hi A"), Some(2)));

    // Typing on A reaches B (and is not echoed back to its sender on A).
    alice_on_a.send(json!({ "type": "typing", "team_id": team })).await;
    assert_eq!(within_guard(&mut bob_on_b, "typing", Instant::now()).await["user_id"], alice_id);
    assert!(!types(&alice_on_a.drain(1).await).contains(&"typing"));

    // Bob's only socket leaves on B: alice, on A, sees him go offline.
    bob_on_b.send(json!({ "type": "leave_team", "team_id": team })).await;
    assert_eq!(within_guard(&mut alice_on_a, "user_left", Instant::now()).await["user_id"], bob_id);
}

#[tokio::test]
async fn removing_a_member_on_one_instance_cuts_their_room_socket_on_the_other() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob, team, alice_b, _) = team(&a, &b).await;
    let bob_id = bob.user_id().await;
    let mut bob_on_b = socket(&b, &bob).await;
    bob_on_b.join(&team).await;
    let mut alice_on_b = socket(&b, &alice_b).await;
    alice_on_b.join(&team).await;

    let removed = Instant::now();
    let (status, _) = alice.delete(&format!("/api/teams/{team}/members/{bob_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let revoked = within_guard(&mut bob_on_b, "access_revoked", removed).await;
    let took = removed.elapsed();
    assert_eq!(revoked["team_id"], team, "after {took:?}");
    eprintln!("bob's socket on B was told of his removal on A after {took:?}");

    // B no longer takes bob as a member (its access cache was told before his socket was), and the team
    // goes on without him.
    bob_on_b.send(json!({ "type": "send_message", "team_id": team, "client_msg_id": "late", "content": "?" })).await;
    assert_eq!(bob_on_b.next().await["code"], "forbidden");
    alice.post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "after", "content": "bob left" })).await;
    assert_eq!(within_guard(&mut alice_on_b, "new_message", Instant::now()).await["message"]["content"], "bob left");
    assert!(!types(&bob_on_b.drain(2).await).contains(&"new_message"), "no more team traffic for bob on B");
}

#[tokio::test]
async fn signing_out_everywhere_on_one_instance_closes_the_users_socket_on_the_other() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (_, bob, team, _, _) = team(&a, &b).await;
    let mut bob_on_b = socket(&b, &bob).await;
    bob_on_b.join(&team).await;

    let signed_out = Instant::now();
    let (status, body) = bob.post("/api/auth/logout-all", &json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let ended = tokio::time::timeout(HANG_GUARD, bob_on_b.ended())
        .await
        .unwrap_or_else(|_| panic!("bob's socket on B still open after {:?}", signed_out.elapsed()));
    eprintln!("bob's socket on B closed {:?} after he signed out everywhere on A", signed_out.elapsed());
    assert_eq!(ended, Ended::Closed { code: CLOSE_SESSION_ENDED, reason: "signed_out_everywhere".into() });
}

#[tokio::test]
async fn without_nats_two_instances_on_one_data_directory_do_not_see_each_others_frames() {
    let (a, b) = two_instances(None).await;
    let (alice, bob, team, _, bob_b) = team(&a, &b).await;
    let mut alice_on_a = socket(&a, &alice).await;
    alice_on_a.join(&team).await;
    let mut bob_on_b = socket(&b, &bob).await;
    bob_on_b.join(&team).await;

    alice.post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "a-1", "content": "from A" })).await;
    assert_eq!(alice_on_a.next_of("new_message").await["message"]["content"], "from A");
    // A later message posted through B reaches bob; the one posted through A never did.
    bob_b.post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "b-1", "content": "from B" })).await;
    let mut bob_saw = Vec::new();
    loop {
        let frame = bob_on_b.next().await;
        if frame["type"] == "new_message" && frame["message"]["content"] == "from B" {
            break;
        }
        bob_saw.push(frame);
    }
    assert!(!bob_saw.iter().any(|f| f["type"] == "new_message"), "{bob_saw:?}");
}

#[tokio::test]
async fn a_relay_that_cannot_reach_nats_does_not_start_and_says_why_without_the_password() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.p2p.disabled = true;
    config.nats_url = Some(format!("nats://relay:s3cret-pw@127.0.0.1:{port}"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let outcome =
        tokio::time::timeout(Duration::from_secs(30), teamflow_relay::run(listener, config, std::future::pending()))
            .await
            .expect("the relay gives up rather than hangs");
    match outcome {
        Err(error @ RelayError::Cluster(ClusterError::Unreachable(_))) => {
            let said = error.to_string();
            assert!(said.contains("--nats-url") && said.contains("cannot reach"), "{said}");
            assert!(!said.contains("s3cret-pw"), "the password is never repeated: {said}");
        }
        other => panic!("expected the relay to refuse to start without NATS, got {other:?}"),
    }
    assert!(!dir.path().join("relay.db").exists(), "nothing was opened before NATS answered");
}

#[tokio::test]
async fn removing_a_member_on_one_instance_stops_their_document_sync_on_the_other() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob, team, alice_b, bob_b) = team(&a, &b).await;
    let carol = a.user("carol").await;
    alice.add_member(&team, "carol@example.test", "member").await;
    let carol_b = b.client().with_token(carol.token.as_deref());
    // Everyone syncs through B; the document is registered through B too, so B's registry cache is current.
    let mut alice_sync = sync_client(&b, &alice_b, "laptop").await;
    let (url, a_doc) = alice_sync.create_text("v1").await.expect("create");
    let (status, body) =
        alice_b.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": url, "title": "Notes" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    alice_sync.reconnect().await.expect("reconnect");
    assert!(
        within("the relay to acknowledge the document", alice_sync.synced_with_relay(&a_doc)).await,
        "B has the document"
    );
    let bob_sync = sync_client(&b, &bob_b, "desktop").await;
    let b_doc = bob_sync.open(&url).await.expect("open").expect("bob may read the team's document");
    let carol_sync = sync_client(&b, &carol_b, "phone").await;
    let c_doc = carol_sync.open(&url).await.expect("open").expect("carol may read it");
    text_when(&b_doc, |t| t == "v1").await;
    text_when(&c_doc, |t| t == "v1").await;
    // Bob's room socket on B tells the test when B has heard of his removal (its access cache is told
    // before his sockets are).
    let mut bob_on_b = socket(&b, &bob_b).await;
    bob_on_b.join(&team).await;

    let removed = Instant::now();
    let bob_id = bob.user_id().await;
    let (status, _) = alice.delete(&format!("/api/teams/{team}/members/{bob_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    within_guard(&mut bob_on_b, "access_revoked", removed).await;
    eprintln!("B heard of bob's removal on A after {:?}", removed.elapsed());
    // A fresh device of bob's on B cannot fetch the document; its connect-and-ask round trip also outlasts
    // the re-decision B makes for bob's live sync connection, which is asynchronous.
    let bob_new_device = sync_client(&b, &bob_b, "new-laptop").await;
    assert!(bob_new_device.open(&url).await.expect("lookup").is_none(), "B refuses the removed member");
    splice_text(&b_doc, 2, 0, " INTRUDER").expect("bob edits locally");
    splice_text(&a_doc, 2, 0, " secret").expect("edit");
    // Carol, still a member, gets alice's edit: B has fanned it out to everyone still allowed.
    text_when(&c_doc, |t| t == "v1 secret").await;
    assert!(!read_text(&b_doc).contains("secret"), "the removed member gets no new content on B");
    assert!(!read_text(&c_doc).contains("INTRUDER"), "and their edits reach no one");
}

/// The ended-sessions notices on NATS are what closes connections on other instances: signing out
/// announces them, and a notice alone (with no row in the database) closes the matching connection.
#[tokio::test]
async fn ended_sign_ins_are_announced_on_nats_and_a_notice_alone_closes_their_connections() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (_, bob, _, _, _) = team(&a, &b).await;
    let carol = a.user("carol").await;
    let watcher = async_nats::connect(nats.url()).await.expect("a NATS client of the test's own");
    let mut notices = watcher.subscribe("teamflow.account.*").await.expect("subscribe");
    round_trip(&watcher).await.expect("the server has the subscription");

    // Out: bob signs out everywhere on A; A says so on bob's subject, naming his sign-in.
    let bob_id = bob.user_id().await;
    let (status, _) = bob.post("/api/auth/logout-all", &json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let notice = tokio::time::timeout(HANG_GUARD, futures::StreamExt::next(&mut notices))
        .await
        .expect("a notice in time")
        .expect("the subscription is open");
    assert_eq!(notice.subject.as_str(), format!("teamflow.account.{bob_id}"));
    assert!(notice.headers.as_ref().and_then(|h| h.get("TeamFlow-Instance")).is_some(), "it names its instance");
    let body: Value = serde_json::from_slice(&notice.payload).expect("a JSON notice");
    assert_eq!(body["reason"], "signed_out_everywhere");
    assert!(body["sessions"].as_array().expect("sessions").contains(&json!(bob.session_id())), "{body}");

    // In: a notice from some other instance ends carol's sign-in on B, though the database never ended it.
    let mut carol_on_b = socket(&b, &carol).await;
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("TeamFlow-Instance", uuid::Uuid::new_v4().to_string().as_str());
    let carol_id = carol.user_id().await;
    let ended = json!({ "user": carol_id, "sessions": [carol.session_id()], "reason": "password_changed" });
    let sent = Instant::now();
    watcher
        .publish_with_headers(format!("teamflow.account.{carol_id}"), headers, ended.to_string().into())
        .await
        .expect("publish");
    watcher.flush().await.expect("flush");
    let closed = tokio::time::timeout(HANG_GUARD, carol_on_b.ended())
        .await
        .unwrap_or_else(|_| panic!("carol's socket on B still open after {:?}", sent.elapsed()));
    assert_eq!(closed, Ended::Closed { code: CLOSE_SESSION_ENDED, reason: "password_changed".into() });
    // B refuses that sign-in's token from now on.
    assert_eq!(b.client().with_token(carol.token.as_deref()).get("/api/me").await.0, StatusCode::UNAUTHORIZED);
}

/// A removal the other instances never heard of (made through an instance outside the cluster, as one
/// made while B was cut off from NATS) reaches B's sockets when B's connection to NATS comes back: B then
/// re-checks what it holds rather than trusting what it was told before.
#[tokio::test]
async fn after_losing_nats_an_instance_rechecks_its_room_sockets_and_cuts_a_member_removed_meanwhile() {
    let mut nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob, team, _, _) = team(&a, &b).await;
    let mut outside = test_config(std::path::Path::new("."));
    outside.p2p.disabled = true;
    let c = a.start_beside(outside).await;
    let alice_c = c.client().with_token(alice.token.as_deref());
    let mut bob_on_b = socket(&b, &bob).await;
    bob_on_b.join(&team).await;

    let bob_id = bob.user_id().await;
    let (status, _) = alice_c.delete(&format!("/api/teams/{team}/members/{bob_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Nothing told B: C is not in the cluster.
    assert!(!types(&bob_on_b.drain(1).await).contains(&"access_revoked"));

    let outage = Instant::now();
    nats.restart().await;
    // async-nats redials with a back-off: a generous guard, and the time it took in the failure message.
    match tokio::time::timeout(Duration::from_secs(30), bob_on_b.next_of("access_revoked")).await {
        Ok(revoked) => assert_eq!(revoked["team_id"], team),
        Err(_) => panic!("bob still in the room on B {:?} after the NATS restart", outage.elapsed()),
    }
    eprintln!("B cut bob {:?} after NATS went down", outage.elapsed());
    bob_on_b.send(json!({ "type": "send_message", "team_id": team, "client_msg_id": "late", "content": "?" })).await;
    assert_eq!(bob_on_b.next().await["code"], "forbidden", "B's access cache was emptied too");
}

/// An instance back on NATS asks the others to re-check (what it announced while cut off may never have
/// left it): on that notice alone, B cuts a member removed without its knowledge.
#[tokio::test]
async fn a_recheck_notice_makes_an_instance_cut_a_member_removed_without_its_knowledge() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob, team, _, _) = team(&a, &b).await;
    let mut outside = test_config(std::path::Path::new("."));
    outside.p2p.disabled = true;
    let c = a.start_beside(outside).await;
    let mut bob_on_b = socket(&b, &bob).await;
    bob_on_b.join(&team).await;
    let bob_id = bob.user_id().await;
    let alice_c = c.client().with_token(alice.token.as_deref());
    assert_eq!(alice_c.delete(&format!("/api/teams/{team}/members/{bob_id}")).await.0, StatusCode::NO_CONTENT);
    assert!(!types(&bob_on_b.drain(1).await).contains(&"access_revoked"), "nothing told B: C is outside");

    let other = async_nats::connect(nats.url()).await.expect("a NATS client of the test's own");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("TeamFlow-Instance", uuid::Uuid::new_v4().to_string().as_str());
    let sent = Instant::now();
    other.publish_with_headers("teamflow.cluster.recheck", headers, bytes::Bytes::new()).await.expect("publish");
    other.flush().await.expect("flush");
    let revoked = within_guard(&mut bob_on_b, "access_revoked", sent).await;
    assert_eq!(revoked["team_id"], team);
}

/// The headers a stand-in for another instance (a NATS client of the test's own) puts on what it says:
/// its instance id, and for a room operation the operation and the user it is about.
fn stand_in_headers(instance: &str, op: Option<(&str, &str)>) -> async_nats::HeaderMap {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("TeamFlow-Instance", instance);
    if let Some((op, user)) = op {
        headers.insert("TeamFlow-Op", op);
        headers.insert("TeamFlow-User", user);
    }
    headers
}

/// An instance that dies without a word (kill -9, a partition) stops saying it is alive: the users online
/// only through it go offline on the others.
#[tokio::test]
async fn users_online_through_an_instance_that_falls_silent_go_offline() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob, team, _, _) = team(&a, &b).await;
    let mut alice_on_a = socket(&a, &alice).await;
    alice_on_a.join(&team).await;

    // A stand-in for an instance: it says it is alive once, then that bob came online through it.
    let silent = async_nats::connect(nats.url()).await.expect("a NATS client of the test's own");
    let bob_id = bob.user_id().await;
    let instance = uuid::Uuid::new_v4().to_string();
    let headers = |op: Option<&str>| stand_in_headers(&instance, op.map(|op| (op, bob_id.as_str())));
    silent.publish_with_headers("teamflow.cluster.alive", headers(None), bytes::Bytes::new()).await.expect("publish");
    silent
        .publish_with_headers(format!("teamflow.room.{team}"), headers(Some("joined")), bytes::Bytes::new())
        .await
        .expect("publish");
    silent.flush().await.expect("flush");
    assert_eq!(within_guard(&mut alice_on_a, "user_joined", Instant::now()).await["user_id"], bob_id);

    // Then nothing: after a few missed heartbeats, bob is offline for alice.
    let quiet = Instant::now();
    match tokio::time::timeout(Duration::from_secs(30), alice_on_a.next_of("user_left")).await {
        Ok(left) => assert_eq!(left["user_id"], bob_id),
        Err(_) => panic!("bob still online {:?} after his instance fell silent", quiet.elapsed()),
    }
    eprintln!("bob went offline {:?} after his instance fell silent", quiet.elapsed());
}

/// An access notice that finds the queue for NATS full is not lost: the instance asks every instance to
/// re-check what it holds, so a removal still cuts the member's socket elsewhere. A's queues take nothing
/// here (`nats_queue` 0): every frame and notice it would publish is refused, deterministically.
#[tokio::test]
async fn a_removal_whose_notice_finds_the_nats_queue_full_still_cuts_the_members_socket_on_the_other() {
    let nats = Nats::start().await;
    let (a, b) = two_instances_with(Some(&nats), |a, _| a.nats_queue = 0).await;
    let (alice, bob, team, _, _) = team(&a, &b).await;
    let bob_id = bob.user_id().await;
    let mut bob_on_b = socket(&b, &bob).await;
    bob_on_b.join(&team).await;

    let removed = Instant::now();
    let (status, _) = alice.delete(&format!("/api/teams/{team}/members/{bob_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let revoked = within_guard(&mut bob_on_b, "access_revoked", removed).await;
    assert_eq!(revoked["team_id"], team);
    eprintln!("bob's socket on B was cut {:?} after a removal whose notice A could not queue", removed.elapsed());
    bob_on_b.send(json!({ "type": "send_message", "team_id": team, "client_msg_id": "late", "content": "?" })).await;
    assert_eq!(bob_on_b.next().await["code"], "forbidden", "B's access cache forgot bob's role too");
}

/// Stopping a relay while NATS is unreachable, with more waiting for it than async-nats queues (so a
/// publish waits for the connection), still ends: the last words to NATS have a bound.
#[tokio::test]
async fn a_relay_stops_in_bounded_time_while_nats_is_down_and_its_queue_for_nats_is_full() {
    let mut nats = Nats::start().await;
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.p2p.disabled = true;
    config.nats_url = Some(nats.url());
    config.limits.ws_messages_per_second = 1_000_000;
    config.limits.ws_message_burst = 1_000_000;
    let a = TestRelay::start_with(dir, config).await;
    let alice = a.user("alice").await;
    let team = alice.create_team("Team").await;
    let mut alice_on_a = socket(&a, &alice).await;
    alice_on_a.join(&team).await;

    nats.stop();
    // Each typing frame is a room frame for NATS: far more than async-nats's own queue (2,048) holds while
    // it has no connection, and fewer than the relay's (8,192), so none is dropped before the stop.
    for _ in 0..6_000 {
        alice_on_a.send(json!({ "type": "typing", "team_id": team })).await;
    }
    // Her own message comes back through the hub after every typing frame went through it.
    alice_on_a.send(json!({ "type": "send_message", "team_id": team, "client_msg_id": "m", "content": "last" })).await;
    assert_eq!(within_guard(&mut alice_on_a, "new_message", Instant::now()).await["message"]["content"], "last");

    let stopping = Instant::now();
    let bound = Duration::from_secs(10);
    match tokio::time::timeout(bound, a.stop()).await {
        Ok(_) => eprintln!("the relay stopped {:?} after being asked, NATS down", stopping.elapsed()),
        Err(_) => panic!("the relay had not stopped {bound:?} after being asked, NATS down"),
    }
}

/// What an instance says of presence after it is known gone is not believed: a `joined` of its arriving
/// after its `gone` (room subjects and the cluster's notices are read apart) shows no one online. An
/// instance taken for gone and then heard alive again (it was only slow, or this instance stalled and read
/// its heartbeats late) is asked who is online through it: its users come back without rejoining.
#[tokio::test]
async fn a_joined_from_a_gone_instance_is_ignored_and_one_heard_alive_again_is_asked_who_is_online() {
    let nats = Nats::start().await;
    let (a, b) = two_instances(Some(&nats)).await;
    let (alice, bob, team, _, _) = team(&a, &b).await;
    let mut alice_on_a = socket(&a, &alice).await;
    alice_on_a.join(&team).await;

    // A stand-in for an instance, listening to the room as instances do.
    let stand_in = async_nats::connect(nats.url()).await.expect("a NATS client of the test's own");
    let mut room = stand_in.subscribe(format!("teamflow.room.{team}")).await.expect("subscribe");
    round_trip(&stand_in).await.expect("the server has the subscription");
    let bob_id = bob.user_id().await;
    let instance = uuid::Uuid::new_v4().to_string();
    let headers = |op: Option<&str>| stand_in_headers(&instance, op.map(|op| (op, bob_id.as_str())));
    let say = |subject: String, headers: async_nats::HeaderMap, payload: &'static str| {
        let stand_in = stand_in.clone();
        async move {
            stand_in
                .publish_with_headers(subject, headers, bytes::Bytes::from_static(payload.as_bytes()))
                .await
                .expect("publish");
            stand_in.flush().await.expect("flush");
        }
    };
    let room_subject = format!("teamflow.room.{team}");
    say("teamflow.cluster.alive".into(), headers(None), "").await;
    say(room_subject.clone(), headers(Some("joined")), "").await;
    assert_eq!(within_guard(&mut alice_on_a, "user_joined", Instant::now()).await["user_id"], bob_id);
    say("teamflow.cluster.gone".into(), headers(None), "").await;
    assert_eq!(within_guard(&mut alice_on_a, "user_left", Instant::now()).await["user_id"], bob_id);

    // A late `joined`, then a frame of the stand-in's own on the same subject, which A applies after it.
    say(room_subject.clone(), headers(Some("joined")), "").await;
    let mut marker = async_nats::HeaderMap::new();
    marker.insert("TeamFlow-Instance", instance.as_str());
    marker.insert("TeamFlow-Op", "frame");
    say(room_subject.clone(), marker, r#"{"type":"test_marker"}"#).await;
    let mut before_marker = Vec::new();
    loop {
        let frame = tokio::time::timeout(HANG_GUARD, alice_on_a.next()).await.expect("the marker in time");
        if frame["type"] == "test_marker" {
            break;
        }
        before_marker.push(frame);
    }
    assert!(
        !types(&before_marker).contains(&"user_joined"),
        "bob is not online through a gone instance: {before_marker:?}"
    );

    // Alive again: A asks the room who is online, and the stand-in's answer counts.
    say("teamflow.cluster.alive".into(), headers(None), "").await;
    let asked = tokio::time::timeout(HANG_GUARD, async {
        while let Some(message) = futures::StreamExt::next(&mut room).await {
            if message.headers.as_ref().and_then(|h| h.get("TeamFlow-Op")).is_some_and(|op| op.as_str() == "hello") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(asked, Ok(true), "A asks who is online once the instance is heard again");
    say(room_subject, headers(Some("joined")), "").await;
    assert_eq!(within_guard(&mut alice_on_a, "user_joined", Instant::now()).await["user_id"], bob_id);
}
