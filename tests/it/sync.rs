//! Document sync through a real relay: samod clients co-edit, converge, work offline; the registry and team
//! roles decide who gets what, live; presence flows only where the document does.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use teamflow_sync::{Cursor, Presence, PresenceConfig, PresenceSession, heads, read_text, splice_text};
use teamflow_tests::{Client, TestRelay, TwoMemberTeam, metric, sync_client, text_when, watch_until, within};

async fn team() -> TwoMemberTeam {
    TwoMemberTeam::start().await
}

async fn register(client: &Client, team: &str, url: &teamflow_protocol::DocumentUrl) {
    let (status, body) =
        client.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": url, "title": "Notes" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Creates a text document, registers it to the team and waits until the relay holds it: the relay never
/// asks peers for documents, so a teammate can fetch it only from then on.
async fn shared_document(
    sync: &mut teamflow_sync::SyncClient,
    owner: &Client,
    team: &str,
    text: &str,
) -> (teamflow_protocol::DocumentUrl, teamflow_sync::samod::DocHandle) {
    let (url, handle) = sync.create_text(text).await.expect("create");
    register(owner, team, &url).await;
    sync.reconnect().await.expect("reconnect");
    // Bounded: a relay that refused the document would otherwise leave this waiting for good.
    let synced = tokio::time::timeout(teamflow_tests::socket::PATIENCE, sync.synced_with_relay(&handle)).await;
    assert!(matches!(synced, Ok(true)), "the relay has the document: {synced:?}");
    (url, handle)
}

#[tokio::test]
async fn two_clients_coedit_one_document_and_converge() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "Hello").await;

    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("bob may read the team's document");
    assert_eq!(text_when(&b_doc, |t| t == "Hello").await, "Hello");

    // Concurrent edits at both ends of the text.
    splice_text(&a_doc, 0, 0, "Oh, ").expect("edit");
    splice_text(&b_doc, 5, 0, " world").expect("edit");
    let expected = "Oh, Hello world";
    text_when(&a_doc, |t| t == expected).await;
    text_when(&b_doc, |t| t == expected).await;
    assert!(
        within("the relay to acknowledge the document", alice.synced_with_relay(&a_doc)).await
            && within("the relay to acknowledge the document", bob.synced_with_relay(&b_doc)).await
    );
    assert_eq!(heads(&a_doc), heads(&b_doc), "identical heads");
}

#[tokio::test]
async fn an_offline_edit_merges_on_reconnect() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "abc").await;
    let mut bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    text_when(&b_doc, |t| t == "abc").await;

    bob.go_offline();
    assert!(!bob.is_online());
    splice_text(&b_doc, 3, 0, " (written on a plane)").expect("offline edit");
    splice_text(&a_doc, 0, 0, ">> ").expect("online edit");
    text_when(&a_doc, |t| t == ">> abc").await;
    assert_eq!(read_text(&b_doc), "abc (written on a plane)", "bob saw nothing while offline");

    bob.go_online().await.expect("back online");
    let merged = ">> abc (written on a plane)";
    text_when(&a_doc, |t| t == merged).await;
    text_when(&b_doc, |t| t == merged).await;
    assert_eq!(heads(&a_doc), heads(&b_doc));
}

#[tokio::test]
async fn outsiders_and_unregistered_documents_get_nothing() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, _a_doc) = shared_document(&mut alice, &t.alice, &t.id, "team secret").await;

    let mallory_client = t.relay.user("mallory").await;
    let mallory = sync_client(&t.relay, &mallory_client, "evil").await;
    assert!(mallory.open(&url).await.expect("lookup").is_none(), "an outsider cannot read it");
    let never_existed = teamflow_protocol::DocumentUrl::from_bytes([7; 16]);
    assert!(mallory.open(&never_existed).await.expect("lookup").is_none());

    // A document nobody registered is shared with no one, not even teammates.
    let (private_url, private) = alice.create_text("draft").await.expect("create");
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    assert!(bob.open(&private_url).await.expect("lookup").is_none());
    // Once registered to the team, the same lookup succeeds.
    register(&t.alice, &t.id, &private_url).await;
    alice.reconnect().await.expect("reconnect");
    assert!(within("the relay to acknowledge the document", alice.synced_with_relay(&private)).await);
    let bob_again = sync_client(&t.relay, &t.bob, "desktop-2").await;
    let found = bob_again.open(&private_url).await.expect("lookup").expect("registered now");
    assert_eq!(text_when(&found, |t| t == "draft").await, "draft");
}

#[tokio::test]
async fn a_viewer_reads_but_their_edits_reach_no_one() {
    let t = team().await;
    let viewer_client = t.relay.user("viewer").await;
    t.alice.add_member(&t.id, "viewer@example.test", "viewer").await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "spec").await;
    let viewer = sync_client(&t.relay, &viewer_client, "tablet").await;
    let v_doc = viewer.open(&url).await.expect("open").expect("viewers read");
    text_when(&v_doc, |t| t == "spec").await;

    splice_text(&v_doc, 0, 0, "VANDAL ").expect("local edit is allowed");
    splice_text(&a_doc, 4, 0, " v2").expect("edit");
    // Alice's later edit reaches the viewer, so the link is live; the viewer's never reaches alice or bob.
    text_when(&v_doc, |t| t.contains("v2")).await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    assert_eq!(text_when(&b_doc, |t| t == "spec v2").await, "spec v2");
    assert_eq!(read_text(&a_doc), "spec v2");
}

#[tokio::test]
async fn removing_a_member_stops_their_sync_on_the_live_connection() {
    let t = team().await;
    let carol_client = t.relay.user("carol").await;
    t.alice.add_member(&t.id, "carol@example.test", "member").await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "v1").await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    let carol = sync_client(&t.relay, &carol_client, "phone").await;
    let c_doc = carol.open(&url).await.expect("open").expect("found");
    text_when(&b_doc, |t| t == "v1").await;
    text_when(&c_doc, |t| t == "v1").await;

    let bob_id = t.bob.user_id().await;
    let (status, _) = t.alice.delete(&format!("/api/teams/{}/members/{bob_id}", t.id)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // A fresh device of the removed user cannot fetch the document at all. Its connect-and-ask round trip
    // also outlasts the re-decision the relay makes for bob's live connection, which is asynchronous.
    let bob_new_device = sync_client(&t.relay, &t.bob, "new-laptop").await;
    assert!(bob_new_device.open(&url).await.expect("lookup").is_none());

    splice_text(&b_doc, 2, 0, " INTRUDER").expect("bob edits locally");
    splice_text(&a_doc, 2, 0, " secret").expect("edit");
    // Carol, still a member, gets alice's edit: the relay has fanned it out to everyone still allowed.
    text_when(&c_doc, |t| t == "v1 secret").await;
    assert!(!read_text(&b_doc).contains("secret"), "the removed member gets no new content");
    assert!(!read_text(&c_doc).contains("INTRUDER"), "and their edits reach no one");
}

#[tokio::test]
async fn presence_reaches_peers_who_may_see_the_document() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "cursor here").await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    text_when(&b_doc, |t| t == "cursor here").await;
    let mut seen = Box::pin(Presence::stream(&b_doc));
    let mine = Presence {
        user_id: alice.user(),
        peer_id: alice.peer_id().to_string(),
        name: "alice".into(),
        color: "#e91e63".into(),
        cursor: Some(teamflow_sync::Cursor { anchor: 0, head: 6 }),
    };
    // Ephemeral messages are not stored or retried, so send until one arrives.
    let received = loop {
        mine.broadcast(&a_doc);
        if let Ok(Some(p)) = tokio::time::timeout(std::time::Duration::from_millis(200), seen.next()).await {
            break p;
        }
    };
    assert_eq!(received, mine);
}

#[tokio::test]
async fn sync_upgrades_need_a_token_and_a_peer_id_of_ones_own() {
    let t = team().await;
    let ws = t.relay.url("/sync").replacen("http://", "ws://", 1);
    let token = t.alice.token.clone().expect("token");
    let alice_id = t.alice.user_id().await;
    let bob_id = t.bob.user_id().await;
    use teamflow_tests::socket::bearer_request;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let anonymous = |url: String| url.into_client_request().expect("request");
    for (url, request, expected) in [
        (format!("{ws}?peer_id={alice_id}:x"), None, StatusCode::UNAUTHORIZED),
        (format!("{ws}?peer_id={alice_id}:x"), Some("forged"), StatusCode::UNAUTHORIZED),
        // A token in the URL is never read.
        (format!("{ws}?token={token}&peer_id={alice_id}:x"), None, StatusCode::UNAUTHORIZED),
        (ws.clone(), Some(token.as_str()), StatusCode::UNPROCESSABLE_ENTITY),
        (format!("{ws}?peer_id={bob_id}:x"), Some(token.as_str()), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let request = match request {
            Some(token) => bearer_request(&url, token),
            None => anonymous(url.clone()),
        };
        match tokio_tungstenite::connect_async(request).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), expected, "{url}")
            }
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn documents_survive_a_relay_restart() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, _a_doc) = shared_document(&mut alice, &t.alice, &t.id, "durable words").await;
    alice.stop().await;

    let bob_client = t.bob.clone();
    let dir = t.relay.stop().await;
    let config = teamflow_tests::test_config(dir.path());
    let relay = TestRelay::start_with(dir, config).await;
    let bob_client = Client { base: relay.url(""), ..bob_client };
    let bob = sync_client(&relay, &bob_client, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("the relay kept the document");
    assert_eq!(text_when(&b_doc, |t| t == "durable words").await, "durable words");
}

type RawSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare WebSocket on `/sync` for bob's `device`: authenticated, but speaking no protocol of its own.
async fn raw_sync_socket(t: &TwoMemberTeam, device: &str) -> RawSocket {
    let bob_id = t.bob.user_id().await;
    let token = t.bob.token.clone().expect("token");
    let ws = t.relay.url("/sync").replacen("http://", "ws://", 1);
    let request = teamflow_tests::socket::bearer_request(&format!("{ws}?peer_id={bob_id}:{device}"), &token);
    let (socket, _) = tokio_tungstenite::connect_async(request).await.expect("upgrade");
    socket
}

/// Whether the relay ends the socket within the patience window (frames on the way are ignored).
async fn ended(socket: &mut RawSocket) -> bool {
    tokio::time::timeout(teamflow_tests::socket::PATIENCE, async {
        while let Some(Ok(message)) = socket.next().await {
            if message.is_close() {
                break;
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn garbage_on_a_sync_socket_ends_that_connection_only() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "still fine").await;

    for garbage in [
        Message::binary(vec![0xff; 64]),
        Message::binary(vec![0xa1, 0x64, 0x74, 0x79]),
        Message::text("{\"type\":\"join\"}"),
    ] {
        let mut socket = raw_sync_socket(&t, "fuzz").await;
        socket.send(garbage).await.ok();
        // The relay drops the connection (or ignores the frame); either way it must keep serving others.
        tokio::time::timeout(teamflow_tests::socket::PATIENCE, async {
            while let Some(Ok(message)) = socket.next().await {
                if message.is_close() {
                    break;
                }
                socket.send(Message::binary(vec![0u8; 3])).await.ok();
            }
        })
        .await
        .expect("the relay ended the garbage connection");
    }
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    assert_eq!(text_when(&b_doc, |t| t == "still fine").await, "still fine");
    splice_text(&b_doc, 0, 0, "> ").expect("edit");
    text_when(&a_doc, |t| t == "> still fine").await;
}

#[tokio::test]
async fn a_peer_that_never_completes_the_handshake_is_dropped() {
    let t = team().await;
    let mut silent = raw_sync_socket(&t, "silent").await;
    // Say nothing; the relay must not hold the socket forever (its handshake deadline is 5 s).
    assert!(ended(&mut silent).await, "the silent connection was still open after the deadline");
}

#[tokio::test]
async fn oversized_sync_frames_end_that_connection_only() {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let dir = teamflow_tests::DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.limits.sync_max_frame_bytes = 64 * 1024;
    let t = TwoMemberTeam::on(TestRelay::start_with(dir, config).await).await;
    let mut socket = raw_sync_socket(&t, "big").await;
    socket.send(Message::binary(vec![0u8; 100 * 1024])).await.ok();
    assert!(ended(&mut socket).await, "the oversized frame did not end the connection");
    // Ordinary sync still works.
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, _doc) = shared_document(&mut alice, &t.alice, &t.id, "small is fine").await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    assert_eq!(text_when(&b_doc, |t| t == "small is fine").await, "small is fine");
}

#[tokio::test]
async fn a_document_many_read_buffers_long_arrives_whole() {
    // Both ends read a sync socket 16 KiB at a time (`transport::READ_BUFFER_BYTES`): the first fetch of
    // this document is one sync message of hundreds of KiB, which takes many reads at the relay (from
    // alice) and at bob's end.
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let mut seed: u64 = 0x5eed;
    let text: String = (0..600_000)
        .map(|_| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            char::from(b' ' + u8::try_from(seed >> 58).expect("six bits") + 32)
        })
        .collect();
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, &text).await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    assert_eq!(text_when(&b_doc, |t| t.len() == text.len()).await, text);
    assert_eq!(heads(&a_doc), heads(&b_doc));
}

#[tokio::test]
async fn a_burst_of_edits_from_one_client_arrives_whole_at_the_other() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "").await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    // 150 keystrokes as fast as the client can make them, one change each. (Throughput is
    // measured by the benchmarks, not here.)
    for i in 0..150 {
        let c = char::from(b'a' + u8::try_from(i % 26).expect("letter"));
        splice_text(&a_doc, i, 0, &c.to_string()).expect("keystroke");
    }
    let expected = read_text(&a_doc);
    assert_eq!(expected.len(), 150);
    text_when(&b_doc, |t| t == expected).await;
    assert_eq!(heads(&a_doc), heads(&b_doc));
}

#[tokio::test]
async fn the_relay_counts_its_open_sync_connections() {
    let t = team().await;
    assert_eq!(sync_connections(&t.relay).await, 0);
    let alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let mut bob = sync_client(&t.relay, &t.bob, "desktop").await;
    assert_eq!(sync_connections(&t.relay).await, 2);
    bob.go_offline();
    // A bounded poll, for want of an event: the relay counts a connection out when its handler returns,
    // and nothing it sends or serves is ordered after that (bob's socket is gone, the gauge is read only
    // through /metrics), so there is nothing to await but the gauge itself.
    let deadline = tokio::time::Instant::now() + teamflow_tests::socket::PATIENCE;
    while sync_connections(&t.relay).await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "a closed connection was never counted out");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(alice);
}

/// The relay's `sync_connections` gauge.
async fn sync_connections(relay: &TestRelay) -> i64 {
    metric(relay, "teamflow_sync_connections").await
}

#[tokio::test]
async fn devices_opening_a_document_at_once_share_one_first_answer_then_sync_as_usual() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "Agenda").await;

    // Five of Bob's devices, none holding anything, open it at the same moment.
    let names: Vec<String> = (0..5).map(|i| format!("device{i}")).collect();
    let devices = futures::future::join_all(names.iter().map(|name| sync_client(&t.relay, &t.bob, name))).await;
    let docs = futures::future::join_all(devices.iter().map(|d| d.open(&url))).await;
    let docs: Vec<_> = docs.into_iter().map(|d| d.expect("open").expect("bob may read it")).collect();
    for doc in &docs {
        assert_eq!(text_when(doc, |t| t == "Agenda").await, "Agenda");
    }
    // The relay built its answer to an empty device once, and gave it to each of them.
    assert_eq!(metric(&t.relay, "teamflow_sync_first_answers_served_total").await, 5);
    assert_eq!(metric(&t.relay, "teamflow_sync_first_answers_built_total").await, 1);

    // From there on it is ordinary sync, both ways.
    splice_text(&a_doc, 6, 0, " for Monday").expect("edit");
    for doc in &docs {
        text_when(doc, |t| t == "Agenda for Monday").await;
    }
    splice_text(&docs[3], 0, 0, "Draft ").expect("edit");
    text_when(&a_doc, |t| t == "Draft Agenda for Monday").await;
    for doc in &docs {
        text_when(doc, |t| t == "Draft Agenda for Monday").await;
    }
    // A device opening it now may get the answer cached before those edits; it still ends up with them.
    let late = sync_client(&t.relay, &t.bob, "late").await;
    let late_doc = late.open(&url).await.expect("open").expect("bob may read it");
    text_when(&late_doc, |t| t == "Draft Agenda for Monday").await;
    assert_eq!(metric(&t.relay, "teamflow_sync_first_answers_served_total").await, 6);
}

#[tokio::test]
async fn presence_sessions_show_cursors_as_they_move_and_drop_peers_that_go_quiet() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "two cursors").await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    text_when(&b_doc, |t| t == "two cursors").await;

    let config = PresenceConfig { heartbeat: Duration::from_millis(100), timeout: Duration::from_millis(600) };
    let me = |client: &teamflow_sync::SyncClient, name: &str| Presence {
        user_id: client.user(),
        peer_id: client.peer_id().to_string(),
        name: name.into(),
        color: "#3366ff".into(),
        cursor: Some(Cursor { anchor: 0, head: 0 }),
    };
    let a_session = PresenceSession::join(&a_doc, me(&alice, "alice"), config);
    let b_session = PresenceSession::join(&b_doc, me(&bob, "bob"), config);
    let mut seen_by_bob = b_session.peers();
    let mut seen_by_alice = a_session.peers();

    let alice_peer = alice.peer_id().to_string();
    watch_until(&mut seen_by_alice, "bob to appear", |p| p.len() == 1 && p[0].name == "bob").await;
    a_session.set_cursor(Some(Cursor { anchor: 4, head: 11 }));
    let now = watch_until(&mut seen_by_bob, "alice's selection", |p| {
        p.iter().any(|p| p.peer_id == alice_peer && p.cursor == Some(Cursor { anchor: 4, head: 11 }))
    })
    .await;
    assert_eq!(now.len(), 1, "bob never sees himself: {now:?}");

    // Alice's laptop goes quiet (no goodbye): bob drops her after the timeout.
    drop(a_session);
    watch_until(&mut seen_by_bob, "alice to time out", Vec::is_empty).await;
}

#[tokio::test]
async fn deleting_a_team_purges_its_documents_and_their_ids_stay_unusable() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, _a_doc) = shared_document(&mut alice, &t.alice, &t.id, "the team's secret").await;
    alice.stop().await;
    // A restart makes sure the document is in the relay's storage (stopping flushes samod's writes).
    let dir = t.relay.stop().await;
    let config = teamflow_tests::test_config(dir.path());
    let relay = TestRelay::start_with(dir, config).await;
    let owner = Client { base: relay.url(""), ..t.alice.clone() };
    let db = relay.db().await;
    let chunks = |db: teamflow_relay::db::Db, bare: String| async move {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sync_chunks WHERE key LIKE $1 || '/%'")
            .bind(bare)
            .fetch_one(db.pool())
            .await
            .expect("count");
        count
    };
    let bare = url.as_str().trim_start_matches(teamflow_protocol::DocumentUrl::PREFIX).to_owned();
    assert!(chunks(db.clone(), bare.clone()).await > 0, "the relay stored the document");

    let (status, body) = owner.delete(&format!("/api/teams/{}", t.id)).await;
    assert!(status.is_success(), "{body}");
    assert_eq!(chunks(db, bare).await, 0, "the deleted team's document content is purged");

    // Someone who learned the id cannot claim it for a team of their own, and gets nothing for it.
    let mallory_client = relay.user("mallory").await;
    let own = mallory_client.create_team("Mine now").await;
    let (status, body) = mallory_client
        .post(&format!("/api/teams/{own}/documents"), &json!({ "document_id": url, "title": "Stolen" }))
        .await;
    teamflow_tests::assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let mallory = sync_client(&relay, &mallory_client, "evil").await;
    assert!(mallory.open(&url).await.expect("lookup").is_none(), "nothing to read under a tombstoned id");
}

/// Bob's bare `/sync` socket after the protocol handshake, with the peer id it announced.
async fn handshaken(t: &TwoMemberTeam, device: &str) -> (RawSocket, String) {
    use futures::SinkExt;
    use teamflow_sync::wire::Message as Wire;
    use tokio_tungstenite::tungstenite::Message;
    let mut socket = raw_sync_socket(t, device).await;
    let peer = format!("{}:{device}", t.bob.user_id().await);
    let join = Wire::Join {
        sender_id: peer.as_str().into(),
        supported_protocol_versions: vec![teamflow_sync::wire::PROTOCOL_VERSION.into()],
        metadata: None,
    };
    socket.send(Message::Binary(join.encode().into())).await.expect("join");
    loop {
        let frame = socket.next().await.expect("open").expect("frame");
        if let Message::Binary(bytes) = frame
            && matches!(Wire::decode(&bytes), Ok(Wire::Peer { .. }))
        {
            return (socket, peer);
        }
    }
}

/// Sends, on bob's bare socket, an empty peer's `request` for each of `documents`.
async fn request_each(socket: &mut RawSocket, peer: &str, documents: &[teamflow_sync::samod::DocumentId]) {
    use futures::SinkExt;
    use teamflow_sync::automerge::sync::SyncDoc as _;
    use teamflow_sync::wire::{DocMessage, Message as Wire};
    use tokio_tungstenite::tungstenite::Message;
    let empty = teamflow_sync::automerge::Automerge::new()
        .generate_sync_message(&mut teamflow_sync::automerge::sync::State::new())
        .expect("a first message");
    for document in documents {
        let request = Wire::Request(DocMessage {
            document_id: document.clone(),
            sender_id: peer.into(),
            target_id: teamflow_sync::RELAY_PEER_ID.into(),
            data: empty.clone().encode(),
        });
        socket.send(Message::Binary(request.encode().into())).await.expect("send");
    }
}

/// The next frame on bob's bare socket (within the suite's patience), decoded; `None` for a frame that is
/// not a binary sync message.
async fn next_message(socket: &mut RawSocket) -> Option<Result<teamflow_sync::wire::Message, String>> {
    use tokio_tungstenite::tungstenite::Message;
    let frame = tokio::time::timeout(teamflow_tests::socket::PATIENCE, socket.next())
        .await
        .expect("answered in time")
        .expect("open")
        .expect("frame");
    match frame {
        Message::Binary(bytes) => Some(teamflow_sync::wire::Message::decode(&bytes).map_err(|e| e.to_string())),
        _ => None,
    }
}

#[tokio::test]
async fn requests_for_documents_a_peer_may_not_read_are_answered_before_samod_holds_anything() {
    use teamflow_sync::samod::DocumentId;
    use teamflow_sync::wire::Message as Wire;
    let t = team().await;
    // Alice's document, registered to a team bob is not in.
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let elsewhere = t.alice.create_team("Elsewhere").await;
    let (secret, _doc) = shared_document(&mut alice, &t.alice, &elsewhere, "not for bob").await;
    let loaded_before = metric(&t.relay, "teamflow_sync_documents_loaded").await;

    let (mut socket, peer) = handshaken(&t, "flood").await;
    let mut asked: Vec<DocumentId> = (0..200)
        .map(|_| DocumentId::try_from(uuid::Uuid::new_v4().as_bytes().to_vec()).expect("document id"))
        .collect();
    asked.push(secret.as_str().trim_start_matches("automerge:").parse().expect("document id"));
    request_each(&mut socket, &peer, &asked).await;
    let mut unavailable = std::collections::HashSet::new();
    while unavailable.len() < asked.len() {
        match next_message(&mut socket).await {
            Some(Ok(Wire::DocUnavailable { document_id, .. })) => {
                unavailable.insert(document_id);
            }
            None => {}
            other => panic!("only `doc-unavailable` is owed to bob: {other:?}"),
        }
    }
    assert_eq!(
        metric(&t.relay, "teamflow_sync_documents_loaded").await,
        loaded_before,
        "samod took on no document for them"
    );
    assert!(metric(&t.relay, "teamflow_sync_unavailable_total").await >= 201);
}

/// A request the access cache refuses is checked against the database (a grant through another instance
/// may not have been heard of yet), but a peer repeating it costs the database at most one query a second
/// per document: the rest are answered from the cache.
#[tokio::test]
async fn repeated_refused_requests_for_one_document_reach_the_database_once_a_second_at_most() {
    use teamflow_sync::samod::DocumentId;
    use teamflow_sync::wire::Message as Wire;
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let elsewhere = t.alice.create_team("Elsewhere").await;
    let (secret, _doc) = shared_document(&mut alice, &t.alice, &elsewhere, "not for bob").await;
    let secret: DocumentId = secret.as_str().trim_start_matches("automerge:").parse().expect("document id");
    let before = metric(&t.relay, "teamflow_sync_database_rechecks_total").await;

    let (mut socket, peer) = handshaken(&t, "repeat").await;
    const REQUESTS: usize = 30;
    let started = std::time::Instant::now();
    request_each(&mut socket, &peer, &vec![secret.clone(); REQUESTS]).await;
    let mut refused = 0;
    while refused < REQUESTS {
        match next_message(&mut socket).await {
            Some(Ok(Wire::DocUnavailable { document_id, .. })) if document_id == secret => refused += 1,
            None => {}
            other => panic!("only `doc-unavailable` is owed to bob: {other:?}"),
        }
    }
    let took = started.elapsed().as_secs() + 1;
    let rechecks = metric(&t.relay, "teamflow_sync_database_rechecks_total").await - before;
    assert!(rechecks >= 1, "the first refusal was checked against the database");
    assert!(
        u64::try_from(rechecks).expect("a count") <= took,
        "{rechecks} database checks for {REQUESTS} repeats over {took} s"
    );
}

#[tokio::test]
async fn presence_names_the_sender_the_relay_authenticated_not_who_it_claims_to_be() {
    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "who is here").await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("found");
    text_when(&b_doc, |t| t == "who is here").await;
    let mut seen = Box::pin(Presence::stream(&a_doc));
    // Bob's device claims to be alice's laptop.
    let forged = Presence {
        user_id: alice.user(),
        peer_id: alice.peer_id().to_string(),
        name: "alice".into(),
        color: "#e91e63".into(),
        cursor: Some(Cursor { anchor: 0, head: 3 }),
    };
    let received = loop {
        forged.broadcast(&b_doc);
        if let Ok(Some(p)) = tokio::time::timeout(Duration::from_millis(200), seen.next()).await {
            break p;
        }
    };
    assert_eq!(received.user_id, bob.user(), "stamped with the sender's own user");
    assert_eq!(received.peer_id, bob.peer_id().to_string());
    assert_eq!(received.name, "bob", "and their display name");
    assert_eq!((received.color, received.cursor), (forged.color, forged.cursor), "the rest is theirs to say");
}

#[tokio::test]
async fn sync_and_realtime_connections_and_open_documents_are_capped_per_user() {
    let dir = teamflow_tests::DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.limits.sync_connections_per_user = 2;
    config.limits.ws_connections_per_user = 2;
    config.limits.sync_documents_per_user = 2;
    let t = TwoMemberTeam::on(TestRelay::start_with(dir, config).await).await;
    let carol_client = t.relay.user("carol").await;
    t.alice.add_member(&t.id, "carol@example.test", "member").await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (first, _one) = shared_document(&mut alice, &t.alice, &t.id, "one").await;
    let (second, _two) = shared_document(&mut alice, &t.alice, &t.id, "two").await;
    let mut carol = sync_client(&t.relay, &carol_client, "laptop").await;
    let (third, _three) = shared_document(&mut carol, &carol_client, &t.id, "three").await;

    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    for (url, text) in [(&first, "one"), (&second, "two")] {
        let found = bob.open(url).await.expect("open").expect("under the documents cap");
        text_when(&found, |t| t == text).await;
    }
    assert!(bob.open(&third).await.expect("open").is_none(), "past the documents cap: unavailable");

    // Bob holds one sync connection; a second is allowed, a third refused before the upgrade.
    let _second_socket = raw_sync_socket(&t, "tablet").await;
    let ws = t.relay.url("/sync").replacen("http://", "ws://", 1);
    let (token, bob_id) = (t.bob.token.clone().expect("token"), t.bob.user_id().await);
    let request = teamflow_tests::socket::bearer_request(&format!("{ws}?peer_id={bob_id}:phone"), &token);
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS)
        }
        other => panic!("a third sync connection was not refused: {other:?}"),
    }
    let base = t.relay.url("");
    let _one = teamflow_tests::socket::RoomSocket::connect(&base, &token).await;
    let _two = teamflow_tests::socket::RoomSocket::connect(&base, &token).await;
    let rooms = base.replacen("http://", "ws://", 1);
    match tokio_tungstenite::connect_async(teamflow_tests::socket::bearer_request(&format!("{rooms}/api/ws"), &token))
        .await
    {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS)
        }
        other => panic!("a third realtime connection was not refused: {other:?}"),
    }
    // Alice is counted apart.
    let alice_token = t.alice.token.clone().expect("token");
    let _hers = teamflow_tests::socket::RoomSocket::connect(&base, &alice_token).await;
}

/// The documents cap counts distinct documents: one open on two of a user's devices (or on a device's old
/// connection, still closing, and its new one) counts once, and a further document is still refused.
#[tokio::test]
async fn a_document_open_on_two_of_a_users_devices_counts_once_against_the_documents_cap() {
    let dir = teamflow_tests::DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.limits.sync_documents_per_user = 1;
    let t = TwoMemberTeam::on(TestRelay::start_with(dir, config).await).await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (first, _one) = shared_document(&mut alice, &t.alice, &t.id, "one").await;
    let carol_client = t.relay.user("carol").await;
    t.alice.add_member(&t.id, "carol@example.test", "member").await;
    let mut carol = sync_client(&t.relay, &carol_client, "laptop").await;
    let (second, _two) = shared_document(&mut carol, &carol_client, &t.id, "two").await;

    let desktop = sync_client(&t.relay, &t.bob, "desktop").await;
    let on_desktop = desktop.open(&first).await.expect("open").expect("under the cap");
    text_when(&on_desktop, |t| t == "one").await;
    let phone = sync_client(&t.relay, &t.bob, "phone").await;
    let on_phone = phone.open(&first).await.expect("open").expect("the same document: counted once");
    text_when(&on_phone, |t| t == "one").await;
    assert!(phone.open(&second).await.expect("open").is_none(), "a second distinct document is over the cap");
}

#[tokio::test]
async fn a_peer_over_the_frame_rate_is_slowed_and_loses_nothing() {
    use teamflow_sync::samod::DocumentId;
    use teamflow_sync::wire::Message as Wire;
    let dir = teamflow_tests::DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.limits.sync_frames_per_second = 40;
    config.limits.sync_frame_burst = 5;
    let t = TwoMemberTeam::on(TestRelay::start_with(dir, config).await).await;
    let (mut socket, peer) = handshaken(&t, "burst").await;
    // 40 requests at once, each for a document bob may not read: every one is owed an answer.
    let asked: Vec<DocumentId> =
        (0..40).map(|_| DocumentId::try_from(uuid::Uuid::new_v4().as_bytes().to_vec()).expect("document id")).collect();
    request_each(&mut socket, &peer, &asked).await;
    let mut answered = std::collections::HashSet::new();
    while answered.len() < asked.len() {
        if let Some(Ok(Wire::DocUnavailable { document_id, .. })) = next_message(&mut socket).await {
            answered.insert(document_id);
        }
    }
    // Beyond the burst, frames waited their turn: held back, not dropped, and the connection stayed open.
    let throttled = metric(&t.relay, "teamflow_sync_throttled_total").await;
    assert!(throttled >= 30, "frames past the burst of 5 waited: {throttled}");
}

/// The relay tells a peer it has its changes (the heads in its sync reply) only once they are stored: while
/// another connection holds the database's write lock, the change reaches a teammate from memory but its
/// author is not told it is saved; once the lock goes, the author is, and the database holds the change.
#[tokio::test]
async fn the_relay_confirms_a_change_to_its_author_only_once_it_is_stored() {
    use teamflow_sync::automerge::Automerge;
    use teamflow_sync::samod::storage::{Storage as _, StorageKey};

    let t = team().await;
    let mut alice = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, a_doc) = shared_document(&mut alice, &t.alice, &t.id, "v1").await;
    let bob = sync_client(&t.relay, &t.bob, "desktop").await;
    let b_doc = bob.open(&url).await.expect("open").expect("bob may read it");
    text_when(&b_doc, |t| t == "v1").await;

    let lock = t.relay.hold_document_writes().await;
    splice_text(&a_doc, 2, 0, " saved?").expect("alice edits");
    // The relay has the change in memory: bob gets it.
    text_when(&b_doc, |t| t == "v1 saved?").await;
    let unconfirmed = tokio::time::timeout(Duration::from_millis(500), alice.synced_with_relay(&a_doc)).await;
    assert!(unconfirmed.is_err(), "alice was told her change is saved while the relay could not store it");

    lock.rollback().await.expect("release the lock");
    assert!(
        tokio::time::timeout(teamflow_tests::socket::PATIENCE, alice.synced_with_relay(&a_doc))
            .await
            .expect("confirmed")
    );
    let chunks = teamflow_relay::sync::DbStorage::new(t.relay.db().await)
        .load_range(StorageKey::from_parts([url.document_id()]).expect("key"))
        .await;
    let mut stored = Automerge::new();
    for chunk in chunks.values() {
        stored.load_incremental(chunk).expect("a stored chunk");
    }
    assert_eq!(stored.get_heads(), a_doc.with_document(|d| d.get_heads()), "what was confirmed is stored");
}
