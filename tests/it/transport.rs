//! How the desktop side reaches a relay: a kept sign-in is only ever used with the exact relay it was made
//! with, and plain http:// to a public host is refused before anything is sent.

use teamflow_node::{Node, NodeError, TransportError};
use teamflow_tests::{DataDir, TestRelay};

/// How many refresh requests `relay` has answered, from its own metrics.
async fn refreshes(relay: &TestRelay) -> u64 {
    let text = reqwest::get(relay.url("/metrics")).await.expect("metrics").text().await.expect("text");
    text.lines()
        .filter(|l| l.starts_with("http_requests_total") && l.contains("route=\"/api/auth/refresh\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test]
async fn a_kept_sign_in_is_never_sent_to_another_relay() {
    let (first, second) = (TestRelay::start().await, TestRelay::start().await);
    let dir = DataDir::new();
    let node = Node::open(dir.path(), &first.url("")).await.expect("open");
    node.sign_up("ada@example.test", "correct horse", "Ada").await.expect("sign up");
    node.close().await;

    // The same data directory pointed at another relay: signed out, and that relay hears nothing of it.
    let elsewhere = Node::open(dir.path(), &second.url("")).await.expect("open at another relay");
    assert!(elsewhere.user().await.is_none(), "the other relay's sign-in is set aside");
    assert!(matches!(elsewhere.teams().await, Err(NodeError::SignedOut)));
    assert_eq!(refreshes(&second).await, 0, "no refresh token went to the other relay");
    elsewhere.sign_up("ada@example.test", "battery staple", "Ada").await.expect("sign in again there");
    assert_eq!(elsewhere.teams().await.expect("teams").len(), 0);
    elsewhere.close().await;

    // The same host over another scheme is another relay too.
    let other_scheme = first.url("").replacen("http://127.0.0.1", "http://localhost", 1);
    let renamed = Node::open(dir.path(), &other_scheme).await.expect("open");
    assert!(renamed.user().await.is_none());
    renamed.close().await;

    let back = Node::open(dir.path(), &second.url("")).await.expect("open");
    assert_eq!(back.user().await.expect("restored").display_name, "Ada", "its own relay's sign-in is kept");
    back.close().await;
    assert_eq!(refreshes(&first).await, 0, "the first relay never saw the second's token either");
}

#[tokio::test]
async fn plain_http_to_a_public_host_is_refused_before_anything_is_sent() {
    let dir = DataDir::new();
    match Node::open(dir.path(), "http://relay.example.com").await {
        Err(NodeError::Transport(TransportError::InsecurePublic(host))) => assert_eq!(host, "relay.example.com"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Loopback and private addresses may use plain http; a bare name means https.
    let local = Node::open(dir.path(), "http://192.168.1.20:8080").await.expect("private address");
    local.close().await;
    let other_dir = DataDir::new();
    let bare = Node::open(other_dir.path(), "relay.example.com").await.expect("bare host");
    assert!(format!("{bare:?}").contains("https://relay.example.com"), "{bare:?}");
    bare.close().await;
}
