//! Peer-to-peer sync between headless nodes on loopback: direct connections, the relay's circuit, mDNS,
//! and the certificate exchange refusing every device that is not a certified teammate. A hand-driven
//! libp2p peer plays the intruder, so what it sends is exactly what the test says.

use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{AsyncReadExt, SinkExt, StreamExt};
use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol};
use teamflow_node::p2p::Refusal;
use teamflow_node::{Node, P2p, P2pConfig, PeerLink};
use teamflow_protocol::api::devices::CertificateError;
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{read_text, splice_text};
use teamflow_tests::{Client, TestRelay, alice_and_bob, text_when, watch_until, within};
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::compat::FuturesAsyncReadCompatExt;

const CERTIFICATE: StreamProtocol = StreamProtocol::new("/teamflow/certificate/1");
const SYNC: StreamProtocol = StreamProtocol::new("/teamflow/sync/1");

/// Direct connections on loopback only, no mDNS, and a short admission deadline.
fn direct() -> P2pConfig {
    P2pConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")],
        mdns: false,
        admission_deadline: Duration::from_secs(2),
        ..P2pConfig::default()
    }
}

/// No listening address at all: the relay's circuit is the only way in.
fn circuit_only() -> P2pConfig {
    P2pConfig { listen: Vec::new(), mdns: false, ..P2pConfig::default() }
}

/// A direct address of `p2p`, with its peer id.
async fn address_of(p2p: &P2p) -> Multiaddr {
    let status = watch_until(&mut p2p.status(), "a listening address", |s| {
        s.listening.iter().any(|a| !a.iter().any(|p| p == Protocol::P2pCircuit))
    })
    .await;
    let address = status.listening.into_iter().find(|a| !a.iter().any(|p| p == Protocol::P2pCircuit));
    address.expect("listening").with(Protocol::P2p(p2p.local_peer_id()))
}

async fn admitted(p2p: &P2p, peer: PeerId) -> PeerLink {
    let status = watch_until(&mut p2p.status(), "the peer's admission", |s| s.peers.contains_key(&peer)).await;
    status.peers[&peer].clone()
}

async fn refused(p2p: &P2p, peer: PeerId) -> Refusal {
    let status = watch_until(&mut p2p.status(), "the peer's refusal", |s| s.refused.contains_key(&peer)).await;
    status.refused[&peer].clone()
}

async fn syncing(node: &Node, peer: PeerId) {
    tokio::time::timeout(Duration::from_secs(30), node.syncing_with(peer))
        .await
        .expect("document sync with the peer in time")
        .expect("document sync with the peer");
}

/// Alice's new document, shared with bob through the relay, then both devices connected directly and
/// syncing: (alice's copy, bob's copy, alice's swarm, bob's swarm).
async fn shared_then_connected_directly(
    alice: &Node,
    bob: &Node,
    team: teamflow_protocol::TeamId,
    text: &str,
) -> (DocHandle, DocHandle, P2p, P2p) {
    alice.go_online().await.expect("online");
    bob.go_online().await.expect("online");
    let (url, a_doc) = alice.create_document(team, "Plan", text).await.expect("create");
    assert!(within("the relay to acknowledge the document", alice.synced_with_relay(&a_doc)).await.expect("synced"));
    bob.documents(team).await.expect("bob lists the team's documents");
    let b_doc = bob.open_document(&url).await.expect("open").expect("found on the relay");
    let a = alice.start_p2p(direct()).await.expect("alice p2p");
    let b = bob.start_p2p(direct()).await.expect("bob p2p");
    a.dial(vec![address_of(&b).await]).await.expect("dial");
    (a_doc, b_doc, a, b)
}

#[tokio::test]
async fn teammates_keep_editing_together_directly_while_the_relay_is_down() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let (a_doc, b_doc, a, b) = shared_then_connected_directly(&alice, &bob, team, "hello").await;
    let link = admitted(&a, b.local_peer_id()).await;
    assert!(!link.relayed, "a direct connection: {link:?}");
    assert_eq!(admitted(&b, a.local_peer_id()).await.user_id, alice.user().await.expect("alice").id);
    syncing(&alice, b.local_peer_id()).await;

    // The relay goes away entirely: its HTTP API, its WebSocket sync and its libp2p node.
    let _stopped = relay.stop().await;
    splice_text(&a_doc, 5, 0, " world").expect("alice edits");
    text_when(&b_doc, |t| t == "hello world").await;
    splice_text(&b_doc, 0, 0, ">> ").expect("bob edits");
    assert_eq!(text_when(&a_doc, |t| t == ">> hello world").await, ">> hello world");

    // Presence and cursors travel the same way.
    let a_presence = alice.join_presence(&a_doc).await.expect("alice present");
    a_presence.set_cursor(Some(teamflow_sync::Cursor { anchor: 3, head: 8 }));
    let b_presence = bob.join_presence(&b_doc).await.expect("bob present");
    let seen = watch_until(&mut b_presence.peers(), "alice's cursor at bob", |peers| {
        peers.iter().any(|p| p.name == "Alice" && p.cursor == Some(teamflow_sync::Cursor { anchor: 3, head: 8 }))
    })
    .await;
    assert_eq!(seen.len(), 1, "{seen:?}");
}

#[tokio::test]
async fn switching_between_the_direct_path_and_the_relay_loses_no_keystroke() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let (a_doc, b_doc, a, b) = shared_then_connected_directly(&alice, &bob, team, "").await;
    syncing(&alice, b.local_peer_id()).await;

    let mut typed = String::new();
    let mut type_some = |from: char, to: char| {
        for c in from..=to {
            splice_text(&a_doc, typed.chars().count(), 0, &c.to_string()).expect("type");
            typed.push(c);
        }
        typed.clone()
    };
    // Both paths up; then the direct path goes away mid-stream; then it comes back and the relay goes.
    let so_far = type_some('a', 'h');
    text_when(&b_doc, |t| t == so_far).await;
    let so_far = type_some('i', 'm');
    bob.stop_p2p().await;
    let so_far_then = type_some('n', 'r');
    assert!(so_far_then.starts_with(&so_far));
    text_when(&b_doc, |t| t == so_far_then).await;
    let b = bob.start_p2p(direct()).await.expect("bob p2p again");
    a.dial(vec![address_of(&b).await]).await.expect("dial again");
    syncing(&alice, b.local_peer_id()).await;
    let _stopped = relay.stop().await;
    let all = type_some('s', 'z');
    assert_eq!(text_when(&b_doc, |t| t == all).await, "abcdefghijklmnopqrstuvwxyz");
}

#[tokio::test]
async fn the_relays_circuit_takes_reservations_only_from_certified_devices() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let (status, identity) = alice.get("/api/devices/relay").await;
    assert!(status.is_success(), "{identity}");
    let identity: teamflow_protocol::api::devices::RelayIdentity = serde_json::from_value(identity).expect("identity");
    let node = identity.libp2p.expect("the relay publishes its libp2p node");
    let relay_peer: PeerId = node.peer_id.parse().expect("peer id");
    let relay_address: Multiaddr = node.addresses[0].parse().expect("multiaddr");
    let circuit = relay_address.with(Protocol::P2p(relay_peer)).with(Protocol::P2pCircuit);

    let uncertified = reserve(circuit.clone(), |_| async {}).await;
    assert!(!uncertified, "a device without a certificate got a reservation");
    let certified = reserve(circuit, |key: libp2p::identity::Keypair| async move {
        let (status, body) = alice.certify(&key).await;
        assert!(status.is_success(), "{body}");
    })
    .await;
    assert!(certified, "a certified device was refused a reservation");
}

#[derive(libp2p::swarm::NetworkBehaviour)]
#[behaviour(prelude = "libp2p::swarm::derive_prelude")]
struct ReservingBehaviour {
    relay: libp2p::relay::client::Behaviour,
}

/// Asks the relay at `circuit` for a reservation as a fresh device, after `prepare` (given its key);
/// answers whether it was granted.
async fn reserve<F: Future<Output = ()>>(
    circuit: Multiaddr,
    prepare: impl FnOnce(libp2p::identity::Keypair) -> F,
) -> bool {
    let key = libp2p::identity::Keypair::generate_ed25519();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key.clone())
        .with_tokio()
        .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("tcp")
        .with_relay_client(libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("relay client")
        .with_behaviour(|_, relay| ReservingBehaviour { relay })
        .expect("behaviour")
        .build();
    prepare(key).await;
    let listener = swarm.listen_on(circuit).expect("listen on the circuit");
    let outcome = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::Behaviour(ReservingBehaviourEvent::Relay(
                    libp2p::relay::client::Event::ReservationReqAccepted { .. },
                )) => return true,
                SwarmEvent::ListenerClosed { listener_id, .. } if listener_id == listener => return false,
                _ => {}
            }
        }
    })
    .await;
    outcome.expect("the relay answered in time")
}

#[tokio::test]
async fn devices_that_cannot_reach_each_other_sync_through_the_relays_circuit() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    // Neither node syncs with the relay's WebSocket: the circuit is the only path between them.
    let (url, a_doc) = alice.create_document(team, "Plan", "hello").await.expect("create");
    bob.documents(team).await.expect("bob lists the team's documents");

    let a = alice.start_p2p(circuit_only()).await.expect("alice p2p");
    watch_until(&mut a.status(), "alice's reservation on the relay", |s| s.reachable_via_relay).await;
    // Bob asks the relay for the team's certified devices and dials alice's through the circuit.
    let b = bob.start_p2p(circuit_only()).await.expect("bob p2p");
    let link = admitted(&b, a.local_peer_id()).await;
    assert!(link.relayed, "only the circuit joins them: {link:?}");
    syncing(&bob, a.local_peer_id()).await;

    let b_doc = bob.open_document(&url).await.expect("open").expect("found on alice's device");
    assert_eq!(text_when(&b_doc, |t| t == "hello").await, "hello");
    splice_text(&b_doc, 5, 0, " from bob").expect("bob edits");
    text_when(&a_doc, |t| t == "hello from bob").await;
}

#[tokio::test]
async fn devices_on_one_network_find_each_other_with_mdns() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, _team) = alice_and_bob(&relay).await;
    // Any interface but loopback carries mDNS; no one is told where the other is.
    let lan = P2pConfig {
        listen: vec!["/ip4/0.0.0.0/tcp/0".parse().expect("multiaddr")],
        mdns: true,
        ..P2pConfig::default()
    };
    let a = alice.start_p2p(lan.clone()).await.expect("alice p2p");
    let b = bob.start_p2p(lan).await.expect("bob p2p");
    admitted(&a, b.local_peer_id()).await;
    admitted(&b, a.local_peer_id()).await;
}

/// A libp2p peer driven by hand: it connects and opens streams, and says only what the test makes it say.
struct Intruder {
    peer_id: PeerId,
    control: libp2p_stream::Control,
    dial: mpsc::Sender<Multiaddr>,
    /// Connection opened (true) and closed (false), in order.
    events: mpsc::Receiver<bool>,
    /// Streams kept open until the intruder goes, so a refusal never depends on our closing them.
    held: Vec<Framed<tokio_util::compat::Compat<libp2p::Stream>, LengthDelimitedCodec>>,
    /// Its device key, to ask the relay for a certificate with.
    key: libp2p::identity::Keypair,
}

impl Intruder {
    fn start() -> Intruder {
        let key = libp2p::identity::Keypair::generate_ed25519();
        let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key.clone())
            .with_tokio()
            .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
            .expect("tcp")
            .with_behaviour(|_| libp2p_stream::Behaviour::new())
            .expect("behaviour")
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        let peer_id = *swarm.local_peer_id();
        let control = swarm.behaviour().new_control();
        let (dial, mut dials) = mpsc::channel::<Multiaddr>(4);
        let (events_tx, events) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(address) = dials.recv() => swarm.dial(address).expect("dial"),
                    event = swarm.select_next_some() => match event {
                        SwarmEvent::ConnectionEstablished { .. } => { events_tx.send(true).await.ok(); }
                        SwarmEvent::ConnectionClosed { num_established: 0, .. } => { events_tx.send(false).await.ok(); }
                        // A dial that fails says so, rather than leaving `connect` waiting.
                        SwarmEvent::OutgoingConnectionError { error, .. } => {
                            eprintln!("intruder's dial failed: {error}");
                            events_tx.send(false).await.ok();
                        }
                        _ => {}
                    },
                    else => break,
                }
            }
        });
        Intruder { peer_id, control, dial, events, held: Vec::new(), key }
    }

    async fn connect(&mut self, address: Multiaddr) {
        self.dial.send(address).await.expect("intruder running");
        let opened = tokio::time::timeout(Duration::from_secs(30), self.events.recv()).await;
        assert_eq!(opened.expect("connected in time"), Some(true), "connected");
    }

    async fn disconnected(&mut self) {
        let closed = tokio::time::timeout(Duration::from_secs(30), self.events.recv()).await;
        assert_eq!(closed.expect("disconnected in time"), Some(false), "the connection was closed");
    }

    async fn open(&mut self, peer: PeerId, protocol: StreamProtocol) -> libp2p::Stream {
        let opened = tokio::time::timeout(Duration::from_secs(30), self.control.open_stream(peer, protocol)).await;
        opened.expect("stream opens in time").expect("stream opens")
    }

    /// Sends one length-prefixed frame on a fresh certificate stream.
    async fn present(&mut self, peer: PeerId, frame: Vec<u8>) {
        let stream = self.open(peer, CERTIFICATE).await;
        let mut framed = Framed::new(stream.compat(), LengthDelimitedCodec::new());
        framed.send(bytes::Bytes::from(frame)).await.expect("send");
        self.held.push(framed);
    }
}

/// Resolves when the other side ends the stream (end of stream or reset), answering what it sent first.
async fn ended(mut stream: libp2p::Stream) -> Vec<u8> {
    let mut received = Vec::new();
    // An error is a reset, which ends the stream as surely as a clean close.
    if stream.read_to_end(&mut received).await.is_err() {
        return received;
    }
    received
}

#[tokio::test]
async fn devices_without_a_valid_teammate_certificate_are_refused_and_get_nothing() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    alice.create_document(team, "Secret", "for the team only").await.expect("create");
    let a = alice.start_p2p(direct()).await.expect("alice p2p");
    let address = address_of(&a).await;
    let alice_peer = a.local_peer_id();

    // No certificate at all: refused at the deadline, and its document stream gets not one byte.
    let mut silent = Intruder::start();
    silent.connect(address.clone()).await;
    let sync = silent.open(alice_peer, SYNC).await;
    assert_eq!(refused(&a, silent.peer_id).await, Refusal::Missing);
    assert!(ended(sync).await.is_empty(), "nothing synced to an unadmitted peer");
    silent.disconnected().await;

    // Garbage where the certificate goes.
    let mut garbage = Intruder::start();
    garbage.connect(address.clone()).await;
    garbage.present(alice_peer, b"{\"body\": 42}".to_vec()).await;
    assert!(matches!(refused(&a, garbage.peer_id).await, Refusal::Malformed(_)));
    garbage.disconnected().await;

    // A length prefix of 4 GiB: refused without reading (or allocating) it.
    let mut oversized = Intruder::start();
    oversized.connect(address.clone()).await;
    let mut stream = oversized.open(alice_peer, CERTIFICATE).await;
    futures::AsyncWriteExt::write_all(&mut stream, &[0xff, 0xff, 0xff, 0xff, b'{']).await.expect("write");
    assert!(matches!(refused(&a, oversized.peer_id).await, Refusal::Malformed(_)));
    oversized.disconnected().await;

    // Bob's genuine certificate, presented by another device.
    let mut thief = Intruder::start();
    thief.connect(address.clone()).await;
    let stolen = bob.device_certificate().await.expect("bob's certificate");
    thief.present(alice_peer, serde_json::to_vec(&stolen).expect("json")).await;
    assert_eq!(refused(&a, thief.peer_id).await, Refusal::Certificate(CertificateError::WrongPeer));
    thief.disconnected().await;

    // A genuine certificate for this very device, but of a user in another team only.
    let mut stranger = Intruder::start();
    let carol = relay.user("carol").await;
    carol.create_team("Elsewhere").await;
    let (status, certificate) = carol.certify(&stranger.key).await;
    assert!(status.is_success(), "{certificate}");
    stranger.connect(address.clone()).await;
    let sync = stranger.open(alice_peer, SYNC).await;
    stranger.present(alice_peer, serde_json::to_vec(&certificate).expect("json")).await;
    assert_eq!(refused(&a, stranger.peer_id).await, Refusal::Certificate(CertificateError::NoSharedTeam));
    assert!(ended(sync).await.is_empty(), "nothing synced to another team's device");
    stranger.disconnected().await;

    assert!(a.status().borrow().peers.is_empty(), "no one was admitted");
}

#[tokio::test]
async fn an_admitted_device_cannot_flood_document_streams_or_oversize_frames() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, team) = alice_and_bob(&relay).await;
    let dave = relay.user("dave").await;
    relay_member(&relay, &alice, team, "dave@example.test").await;
    let a = alice.start_p2p(direct()).await.expect("alice p2p");
    let address = address_of(&a).await;
    let alice_peer = a.local_peer_id();

    let mut device = Intruder::start();
    let (status, certificate) = dave.certify(&device.key).await;
    assert!(status.is_success(), "{certificate}");
    device.connect(address).await;
    device.present(alice_peer, serde_json::to_vec(&certificate).expect("json")).await;
    admitted(&a, device.peer_id).await;

    // Ten document streams at once: two are taken (one, plus one while reconnecting), the rest closed.
    let mut streams = FuturesUnordered::new();
    for _ in 0..10 {
        streams.push(ended(device.open(alice_peer, SYNC).await));
    }
    for _ in 0..8 {
        tokio::time::timeout(Duration::from_secs(30), streams.next()).await.expect("excess stream closed in time");
    }

    // A sync frame announcing 4 GiB ends that stream rather than being buffered.
    drop(streams);
    let mut stream = device.open(alice_peer, SYNC).await;
    futures::AsyncWriteExt::write_all(&mut stream, &[0xff, 0xff, 0xff, 0xff, 0]).await.expect("write");
    tokio::time::timeout(Duration::from_secs(30), ended(stream)).await.expect("oversized stream closed in time");
    assert!(a.status().borrow().peers.contains_key(&device.peer_id), "a bad stream ends the stream, not the peer");
}

/// `owner` invites `email` (a `TestRelay::user`) to `team`, and they accept from a sign-in of their own.
async fn relay_member(relay: &TestRelay, owner: &Node, team: teamflow_protocol::TeamId, email: &str) {
    let invitation = owner.add_member(team, email, teamflow_protocol::Role::Member).await.expect("invite");
    let token = invitation.token.expect("invitation token");
    let invitee = relay.client().sign_in(email).await;
    let (status, body) = invitee.post(&format!("/api/invitations/{token}/accept"), &serde_json::json!({})).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_viewers_device_reads_but_its_edits_do_not_reach_the_team() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let viewer_dir = teamflow_tests::DataDir::new();
    let viewer = Node::open(viewer_dir.path(), &relay.url("")).await.expect("open");
    viewer.sign_up("vera@example.test", "correct horse", "Vera").await.expect("sign up");
    teamflow_tests::join(&alice, team, &viewer, "vera@example.test", teamflow_protocol::Role::Viewer).await;
    let (url, a_doc) = alice.create_document(team, "Plan", "hello").await.expect("create");
    viewer.documents(team).await.expect("list");
    drop(bob);

    let a = alice.start_p2p(direct()).await.expect("alice p2p");
    let v = viewer.start_p2p(direct()).await.expect("viewer p2p");
    v.dial(vec![address_of(&a).await]).await.expect("dial");
    syncing(&viewer, a.local_peer_id()).await;
    let v_doc = viewer.open_document(&url).await.expect("open").expect("the viewer may read");
    assert_eq!(text_when(&v_doc, |t| t == "hello").await, "hello");

    // The viewer's own edit stays on the viewer's device; alice's edits still reach the viewer. After two
    // full round trips an accepted edit would have arrived (this can miss a bug, never invent one).
    splice_text(&v_doc, 0, 0, "vandal ").expect("local edit");
    for mark in ["!", "?"] {
        let len = read_text(&a_doc).chars().count();
        splice_text(&a_doc, len, 0, mark).expect("alice edits");
        text_when(&v_doc, |t| t.ends_with(mark)).await;
    }
    assert_eq!(read_text(&a_doc), "hello!?", "the viewer's edit was not accepted");
}

/// Two devices on networks that do not route to each other, both reaching the relay: they meet only
/// through the relay's circuit, and documents sync through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_on_separate_networks_sync_through_the_relays_circuit() {
    use std::sync::Arc;

    use teamflow_tests::netns::{Host, Networks};

    let networks = Networks::create();
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).try_init().ok();
    let dir = teamflow_tests::DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.p2p.listen = vec!["/ip4/0.0.0.0/tcp/0".to_owned()];
    let relay = TestRelay::start_at(dir, config, "0.0.0.0:0".parse().expect("addr")).await;
    let port = relay.addr.port();
    let (a_host, b_host) = (Host::in_namespace(&networks.a), Host::in_namespace(&networks.b));
    let (a_dir, b_dir) = (teamflow_tests::DataDir::new(), teamflow_tests::DataDir::new());
    let (a_path, b_path) = (a_dir.path().to_owned(), b_dir.path().to_owned());
    let alice = a_host
        .run(async move {
            let relay = format!("http://{}:{port}", Networks::HOST_FROM_A);
            let node = Node::open(&a_path, &relay).await.expect("open");
            node.sign_up("alice@example.test", "correct horse", "Alice").await.expect("sign up");
            Arc::new(node)
        })
        .await;
    let bob = b_host
        .run(async move {
            let relay = format!("http://{}:{port}", Networks::HOST_FROM_B);
            let node = Node::open(&b_path, &relay).await.expect("open");
            node.sign_up("bob@example.test", "battery staple", "Bob").await.expect("sign up");
            Arc::new(node)
        })
        .await;
    let anywhere = P2pConfig {
        listen: vec!["/ip4/0.0.0.0/tcp/0".parse().expect("multiaddr")],
        mdns: false,
        ..P2pConfig::default()
    };

    let (node, config) = (alice.clone(), anywhere.clone());
    let (team, url, a_doc, a, invitation) = a_host
        .run(async move {
            let team = node.create_team("Apart").await.expect("team").id;
            let invitation =
                node.add_member(team, "bob@example.test", teamflow_protocol::Role::Member).await.expect("invite bob");
            let (url, doc) = node.create_document(team, "Plan", "hello").await.expect("create");
            let p2p = node.start_p2p(config).await.expect("alice p2p");
            (team, url, doc, p2p, invitation.token.expect("invitation token"))
        })
        .await;
    let node = bob.clone();
    b_host.run(async move { node.accept_invitation(&invitation).await.expect("bob accepts") }).await;
    watch_until(&mut a.status(), "alice's reservation on the relay", |s| s.reachable_via_relay).await;

    let (node, alice_peer) = (bob.clone(), a.local_peer_id());
    let (b, b_doc) = b_host
        .run(async move {
            node.documents(team).await.expect("bob lists the team's documents");
            let p2p = node.start_p2p(anywhere).await.expect("bob p2p");
            tokio::time::timeout(Duration::from_secs(30), node.syncing_with(alice_peer))
                .await
                .expect("syncing with alice in time")
                .expect("syncing with alice");
            let doc = node.open_document(&url).await.expect("open").expect("found on alice's device");
            (p2p, doc)
        })
        .await;
    assert!(admitted(&b, a.local_peer_id()).await.relayed, "only the circuit joins them");
    assert_eq!(text_when(&b_doc, |t| t == "hello").await, "hello");
    splice_text(&b_doc, 5, 0, ", across networks").expect("bob edits");
    text_when(&a_doc, |t| t == "hello, across networks").await;

    // The networks really are apart: from alice's network, bob's address does not answer.
    let direct = a_host.run(tokio::net::TcpStream::connect((Networks::B, 9))).await;
    assert!(direct.is_err(), "alice's network reaches bob's directly");
    drop((a, b));
}

/// `config` following the relay's revocation feed every 200 ms instead of every 20 s.
fn checking(config: P2pConfig) -> P2pConfig {
    P2pConfig { peering_check: Duration::from_millis(200), ..config }
}

#[tokio::test]
async fn a_removed_teammates_device_is_dropped_by_the_team_while_both_are_online() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let config = checking(direct());
    let a = alice.start_p2p(config.clone()).await.expect("alice p2p");
    // Bob's node does not follow the feed: what drops him is alice's node, not his own renewal.
    let b = bob.start_p2p(direct()).await.expect("bob p2p");
    b.dial(vec![address_of(&a).await]).await.expect("dial alice");
    let bob_peer = b.local_peer_id();
    admitted(&a, bob_peer).await;
    let bob_id = bob.user().await.expect("signed in").id;

    let removal = async {
        alice.remove_member(team, bob_id).await.expect("remove bob");
        // His certificate is valid for up to an hour more; the revocation feed ends it now.
        assert_eq!(refused(&a, bob_peer).await, Refusal::Certificate(CertificateError::Revoked));
        assert!(!a.status().borrow().peers.contains_key(&bob_peer), "no longer admitted");
    };
    tokio::select! {
        () = alice.keep_peering(config) => panic!("alice's node stopped peering"),
        () = removal => {}
    }
}

/// A team owned by olive (a REST client, so the test can change roles) with alice's node and dave (a REST
/// client whose devices the test drives by hand) as members; alice's swarm is running on loopback.
async fn team_with_dave(
    relay: &TestRelay,
    config: P2pConfig,
) -> (teamflow_tests::DataDir, Node, P2p, Client, Client, String) {
    let olive = relay.user("olive").await;
    let dave = relay.user("dave").await;
    let dir = teamflow_tests::DataDir::new();
    let alice = Node::open(dir.path(), &relay.url("")).await.expect("open node");
    alice.sign_up("alice@example.test", teamflow_tests::PASSWORD, "Alice").await.expect("sign up");
    let team = olive.create_team("Ops").await;
    olive.add_member(&team, "alice@example.test", "member").await;
    olive.add_member(&team, "dave@example.test", "member").await;
    let a = alice.start_p2p(config).await.expect("alice p2p");
    (dir, alice, a, olive, dave, team)
}

async fn demote(olive: &Client, team: &str, user: &Client) {
    let path = format!("/api/teams/{team}/members/{}", user.user_id().await);
    let (status, body) = olive.patch(&path, &serde_json::json!({ "role": "viewer" })).await;
    assert!(status.is_success(), "{body}");
}

#[tokio::test]
async fn a_demoted_members_older_certificate_stops_working_while_both_are_online() {
    let relay = TestRelay::start().await;
    let config = checking(direct());
    let (_dir, alice, a, olive, dave, team) = team_with_dave(&relay, config.clone()).await;
    let (address, alice_peer) = (address_of(&a).await, a.local_peer_id());

    // Dave's laptop holds a member's certificate (epoch 0), valid for up to an hour, and is admitted.
    let mut laptop = Intruder::start();
    let (status, certificate) = dave.certify(&laptop.key).await;
    assert!(status.is_success(), "{certificate}");
    laptop.connect(address).await;
    laptop.present(alice_peer, serde_json::to_vec(&certificate).expect("json")).await;
    admitted(&a, laptop.peer_id).await;

    let demotion = async {
        demote(&olive, &team, &dave).await;
        assert_eq!(refused(&a, laptop.peer_id).await, Refusal::Certificate(CertificateError::Revoked));
        laptop.disconnected().await;
    };
    tokio::select! {
        () = alice.keep_peering(config) => panic!("alice's node stopped peering"),
        () = demotion => {}
    }
}

#[tokio::test]
async fn the_newest_certificate_of_a_user_wins_even_without_the_feed() {
    let relay = TestRelay::start().await;
    // Alice's node never reads the revocation feed here (no `keep_peering`).
    let (_dir, _alice, a, olive, dave, team) = team_with_dave(&relay, direct()).await;
    let (address, alice_peer) = (address_of(&a).await, a.local_peer_id());
    let mut laptop = Intruder::start();
    let (status, member_certificate) = dave.certify(&laptop.key).await;
    assert!(status.is_success(), "{member_certificate}");
    laptop.connect(address.clone()).await;
    laptop.present(alice_peer, serde_json::to_vec(&member_certificate).expect("json")).await;
    admitted(&a, laptop.peer_id).await;

    // Dave becomes a viewer; his phone's fresh certificate (viewer, epoch 1) reaches alice's device, which
    // from then on refuses his older ones: the laptop's member certificate stops working.
    demote(&olive, &team, &dave).await;
    let mut phone = Intruder::start();
    let (status, viewer_certificate) = dave.certify(&phone.key).await;
    assert!(status.is_success(), "{viewer_certificate}");
    assert_eq!(viewer_certificate["body"]["epoch"], 1, "{viewer_certificate}");
    phone.connect(address).await;
    phone.present(alice_peer, serde_json::to_vec(&viewer_certificate).expect("json")).await;
    admitted(&a, phone.peer_id).await;
    assert_eq!(refused(&a, laptop.peer_id).await, Refusal::Certificate(CertificateError::Revoked));
    laptop.disconnected().await;
    assert!(a.status().borrow().peers.contains_key(&phone.peer_id), "the newer certificate still works");
}

#[tokio::test]
async fn the_relays_circuit_joins_only_devices_that_share_a_team() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, _team) = alice_and_bob(&relay).await;
    // Alice's device would wait a minute for a certificate: only the relay can end the circuit sooner.
    let config = P2pConfig { admission_deadline: Duration::from_secs(60), ..circuit_only() };
    let a = alice.start_p2p(config).await.expect("alice p2p");
    watch_until(&mut a.status(), "alice's reservation on the relay", |s| s.reachable_via_relay).await;

    // Carol, certified, but in another team only.
    let carol = relay.user("carol").await;
    carol.create_team("Elsewhere").await;
    let key = libp2p::identity::Keypair::generate_ed25519();
    let (status, body) = carol.certify(&key).await;
    assert!(status.is_success(), "{body}");
    let (_, identity) = carol.get("/api/devices/relay").await;
    let identity: teamflow_protocol::api::devices::RelayIdentity = serde_json::from_value(identity).expect("identity");
    let node = identity.libp2p.expect("the relay publishes its libp2p node");
    let relay_peer: PeerId = node.peer_id.parse().expect("peer id");
    let relay_address: Multiaddr = node.addresses[0].parse().expect("multiaddr");
    let alice_peer = a.local_peer_id();
    let through_circuit =
        relay_address.with(Protocol::P2p(relay_peer)).with(Protocol::P2pCircuit).with(Protocol::P2p(alice_peer));

    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("tcp")
        .with_relay_client(libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("relay client")
        .with_behaviour(|_, relay| ReservingBehaviour { relay })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    swarm.dial(through_circuit).expect("dial alice through the relay");
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionClosed { peer_id, .. } if peer_id == alice_peer => return,
                SwarmEvent::OutgoingConnectionError { peer_id: Some(peer), .. } if peer == alice_peer => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the relay kept a circuit between devices that share no team");
    assert!(a.status().borrow().peers.is_empty());
}

#[tokio::test]
async fn a_sign_in_the_relay_ended_stops_the_devices_peer_to_peer_sync() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let (_a_doc, _b_doc, a, b) = shared_then_connected_directly(&alice, &bob, team, "hello").await;
    admitted(&b, a.local_peer_id()).await;

    // Alice signs out everywhere from another device; her next request finds the sign-in over.
    crate::forgetting::sign_out_everywhere(&relay, "alice@example.test", "correct horse").await;
    assert!(matches!(alice.teams().await, Err(teamflow_node::NodeError::SignedOut)));

    // Her swarm stops at once: bob's device loses her, rather than syncing until her certificate expires.
    watch_until(&mut b.status(), "alice's device gone from bob's peers", |s| !s.peers.contains_key(&a.local_peer_id()))
        .await;
}
