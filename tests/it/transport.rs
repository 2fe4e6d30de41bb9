//! How the desktop side reaches a relay: HTTPS and WSS through every client (REST, rooms, sync, the CLI) to a
//! relay with a private CA, a certificate failure reported as one, a kept sign-in only ever used with the
//! exact relay it was made with, and plain http:// to a public host refused before anything is sent.

use clap::Parser as _;
use teamflow_node::cli::{Cli, run};
use teamflow_node::{Link, Node, NodeError, TransportError};
use teamflow_protocol::realtime::ServerMessage;
use teamflow_tests::{DataDir, TestRelay, watch_until, within};

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

#[tokio::test]
async fn a_relay_whose_certificate_is_not_trusted_is_refused_as_such() {
    let relay = TestRelay::start_tls().await;
    let dir = DataDir::new();
    let node = Node::open(dir.path(), &relay.url("")).await.expect("open");
    match node.sign_up("ada@example.test", "correct horse", "Ada").await {
        Err(NodeError::Api(teamflow_node::ApiFailure::Certificate(reason))) => {
            assert!(reason.contains("certificate is not trusted"), "{reason}");
        }
        Err(NodeError::Api(teamflow_node::ApiFailure::Unreachable(e))) => panic!("reported as unreachable: {e:?}"),
        other => panic!("expected a certificate refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn every_client_speaks_https_and_wss_to_a_relay_with_a_private_ca() {
    let relay = TestRelay::start_tls().await;
    assert!(relay.url("").starts_with("https://"));
    let trust = DataDir::new();
    let ca = trust.path().join("ca.pem");
    std::fs::write(&ca, relay.ca().expect("a test CA").pem()).expect("write CA");

    // The node: REST, the rooms socket and document sync, all over TLS.
    let dir = DataDir::new();
    let node = Node::open_with_ca(dir.path(), &relay.url(""), &ca).await.expect("open");
    node.sign_up("ada@example.test", "correct horse", "Ada").await.expect("sign up over https");
    let team = node.create_team("Secure").await.expect("team").id;
    let mut frames = node.subscribe(team).await.expect("rooms over wss");
    assert!(matches!(frames.recv().await, Some(ServerMessage::TeamState { .. })));
    node.go_online().await.expect("sync over wss");
    watch_until(&mut node.watch_status(), "the sync link", |s| s.link == Link::Online).await;
    let (_, handle) = node.create_document(team, "Plan", "over tls").await.expect("document");
    assert!(
        within("the relay to acknowledge the document", node.synced_with_relay(&handle)).await.expect("synced"),
        "the relay holds the document"
    );
    node.close().await;

    // The CLI, told which CA to trust; and without it, failing with the reason.
    let (with_ca, without) = (DataDir::new(), DataDir::new());
    let login = ["login", "--email", "ada@example.test", "--password-stdin"];
    teamflow(&relay, &with_ca, Some(&ca), &login, "correct horse\n").await.expect("the CLI signs in over https");
    let teams = teamflow(&relay, &with_ca, Some(&ca), &["teams"], "").await.expect("teams");
    assert!(teams.contains("Secure"), "{teams}");
    let refused = teamflow(&relay, &without, None, &login, "correct horse\n").await.expect_err("untrusted");
    assert!(format!("{refused:#}").contains("certificate is not trusted"), "{refused:#}");
}

/// Runs `teamflow` as its binary would, with `--ca-cert` when given.
async fn teamflow(
    relay: &TestRelay,
    dir: &DataDir,
    ca: Option<&std::path::Path>,
    args: &[&str],
    stdin: &str,
) -> anyhow::Result<String> {
    let mut argv = vec!["teamflow".to_owned(), "--relay".to_owned(), relay.url("")];
    argv.extend(["--data-dir".to_owned(), dir.path().display().to_string()]);
    if let Some(ca) = ca {
        argv.extend(["--ca-cert".to_owned(), ca.display().to_string()]);
    }
    argv.extend(args.iter().map(|a| (*a).to_owned()));
    let mut out = Vec::new();
    run(Cli::try_parse_from(argv)?, stdin.as_bytes(), &mut out).await?;
    Ok(String::from_utf8(out)?)
}
