//! The window's sync connection (`Session::connect_window`): a repo standing in for the webview's
//! automerge-repo syncs with the node over it as one more samod peer, and what it writes reaches a teammate
//! through the relay and back; frames from a window that is not connected, or after a malformed one, are
//! refused with `WindowClosed`; a team's documents are closed to the window once this user no longer
//! reads the team.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use teamflow_node::{Node, NodeError, P2pConfig, Session, WINDOW_PEER_ID, WindowSink};
use teamflow_sync::samod::{BackoffConfig, DialError, Dialer, PeerId, Repo, Transport};
use teamflow_sync::{read_text, splice_text};
use teamflow_tests::{TestRelay, alice_and_bob, text_when, watch_until, within};

/// Dials the node through its session, as the webview's IPC adapter does.
struct WindowDialer(Arc<Session>);

impl Dialer for WindowDialer {
    type Error = std::io::Error;

    fn url(&self) -> url::Url {
        url::Url::parse("teamflow-window://test").expect("url")
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Self::Error>>> {
        let session = self.0.clone();
        Box::pin(async move {
            let (to_window, from_node) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
            let sink: WindowSink = Arc::new(move |frame| {
                // The receiver lives as long as the window repo's connection.
                to_window.send(frame).ok();
            });
            session.connect_window(sink).await.map_err(|e| DialError::transient(std::io::Error::other(e)))?;
            let incoming = futures::stream::unfold(from_node, |mut frames| async move {
                frames.recv().await.map(|frame| (Ok::<_, std::io::Error>(frame), frames))
            });
            let outgoing = futures::sink::unfold(session, |session, frame: Vec<u8>| async move {
                session.window_frame(frame).await.map_err(std::io::Error::other)?;
                Ok::<_, std::io::Error>(session)
            });
            Ok(Transport::new(incoming.boxed(), Box::pin(outgoing)))
        })
    }
}

/// A window repo connected to `session`'s node.
async fn window_of(session: &Arc<Session>) -> Repo {
    let window = Repo::build_tokio().with_peer_id(PeerId::from(WINDOW_PEER_ID)).load().await;
    let dialer = window
        .dial(BackoffConfig::default(), Arc::new(WindowDialer(session.clone())))
        .expect("the window dials the node");
    tokio::time::timeout(Duration::from_secs(30), dialer.established())
        .await
        .expect("handshake in time")
        .expect("the node accepts the window");
    window
}

fn loopback() -> P2pConfig {
    P2pConfig { listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")], mdns: false, ..P2pConfig::default() }
}

fn quiet() -> teamflow_node::EventSink {
    Arc::new(|_| {})
}

#[tokio::test]
async fn the_windows_repo_syncs_through_the_node_with_the_relay_and_a_teammate() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let alice = Arc::new(Session::start(Arc::new(alice), quiet(), loopback()).await);
    let (url, handle) = alice.node().create_document(team, "Plan", "hello").await.expect("create");
    assert!(
        within("the relay to acknowledge the document", alice.node().synced_with_relay(&handle)).await.expect("synced")
    );
    alice.open_document(&url.to_string()).await.expect("the node opens it first");

    let window = Repo::build_tokio().with_peer_id(PeerId::from(WINDOW_PEER_ID)).load().await;
    let dialer = window
        .dial(BackoffConfig::default(), Arc::new(WindowDialer(alice.clone())))
        .expect("the window dials the node");
    tokio::time::timeout(Duration::from_secs(30), dialer.established())
        .await
        .expect("handshake in time")
        .expect("the node accepts the window");
    let id = url.document_id().parse().expect("document id");
    let in_window = window.find(id).await.expect("repo running").expect("the node serves the document");
    assert_eq!(read_text(&in_window), "hello");

    // The window's edit is the node's, and the teammate's through the relay.
    splice_text(&in_window, 5, 0, " world").expect("the window types");
    assert_eq!(text_when(&handle, |t| t == "hello world").await, "hello world");
    bob.go_online().await.expect("bob online");
    let at_bob = bob.open_document(&url).await.expect("open").expect("bob finds it");
    assert_eq!(text_when(&at_bob, |t| t == "hello world").await, "hello world");

    // And the teammate's edit reaches the window.
    splice_text(&at_bob, 0, 0, "Bob: ").expect("bob types");
    assert_eq!(text_when(&in_window, |t| t == "Bob: hello world").await, "Bob: hello world");

    dialer.close();
    window.stop().await;
    bob.close().await;
    alice.close().await;
}

#[tokio::test]
async fn frames_without_a_connection_or_after_a_malformed_one_are_refused() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, _bob, _team) = alice_and_bob(&relay).await;
    let alice = Session::start(Arc::new(alice), quiet(), loopback()).await;
    assert!(matches!(alice.window_frame(vec![1, 2, 3]).await, Err(NodeError::WindowClosed)), "not connected");

    alice.connect_window(Arc::new(|_| {})).await.expect("connect");
    // Not CBOR, and no handshake: samod ends the connection, and the window hears so on its next frame.
    let refused = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            if let Err(e) = alice.window_frame(vec![0xff, 0x00, 0x13]).await {
                return e;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the malformed connection ends");
    assert!(matches!(refused, NodeError::WindowClosed), "{refused:?}");

    // A new connection replaces it; signing out ends it.
    alice.connect_window(Arc::new(|_| {})).await.expect("connect again");
    alice.sign_out().await.expect("sign out");
    assert!(matches!(alice.window_frame(vec![1]).await, Err(NodeError::WindowClosed)));
    alice.close().await;
}

#[tokio::test]
async fn once_a_team_is_forgotten_its_documents_close_and_the_window_is_refused_them() {
    let relay = TestRelay::start().await;
    let (_a, alice, b_dir, bob, team) = alice_and_bob(&relay).await;
    bob.close().await;
    // Bob's device again (its sign-in restored), unloading unused documents quickly.
    let bob =
        Node::open(b_dir.path(), &relay.url("")).await.expect("open").with_unload_idle(Duration::from_millis(200));
    let bob = Arc::new(Session::start(Arc::new(bob), quiet(), loopback()).await);
    let (open, handle) = bob.node().create_document(team, "Roadmap", "Secret launch date").await.expect("create");
    // Kept open by the node, so only the share policy stands between the window and it.
    let (other, other_handle) = bob.node().create_document(team, "Salaries", "Confidential").await.expect("create");
    drop(handle);
    bob.open_document(&open.to_string()).await.expect("open in the app");
    let window = window_of(&bob).await;
    let open_id: teamflow_sync::samod::DocumentId = open.document_id().parse().expect("document id");
    let in_window = window.find(open_id.clone()).await.expect("repo running").expect("the node serves the document");
    assert_eq!(read_text(&in_window), "Secret launch date");

    let bob_id = bob.node().user().await.expect("bob").id;
    alice.remove_member(team, bob_id).await.expect("remove bob");
    assert!(bob.node().teams().await.expect("teams").is_empty(), "the team is forgotten");

    // The window gets none of the team's documents any more.
    let other_id: teamflow_sync::samod::DocumentId = other.document_id().parse().expect("document id");
    let loaded_other = bob.node().loaded_documents().await.expect("sync client").borrow().contains(&other_id);
    assert!(loaded_other, "the node still holds it");
    assert!(window.find(other_id).await.expect("repo running").is_none(), "the window was sent a forgotten document");
    drop(other_handle);
    // The app's open document is closed, so the node lets go of it and its content leaves the store.
    drop(in_window);
    let mut loaded = bob.node().loaded_documents().await.expect("sync client");
    watch_until(&mut loaded, "the forgotten open document to leave memory", |ids| !ids.contains(&open_id)).await;
    assert!(matches!(bob.open_document(&open.to_string()).await, Err(NodeError::NotFound(_))));
    window.stop().await;
    bob.close().await;
}
