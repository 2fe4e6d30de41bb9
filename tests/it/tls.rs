//! The relay serving TLS itself: HTTPS and WSS with a private CA, refusals of clients that cannot check it
//! or speak too old a protocol, certificate reload (file change and SIGHUP), ACME against Pebble, and the
//! documented Caddy setup in front of a plain relay.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use reqwest::header::STRICT_TRANSPORT_SECURITY;
use rustls::pki_types::CertificateDer;
use serde_json::json;
use teamflow_tests::services::{Caddy, Pebble, free_port};
use teamflow_tests::socket::{PATIENCE, RoomSocket};
use teamflow_tests::tls::{TestCa, handshake, https_client, served_leaf, wss_connector};
use teamflow_tests::{Client, DataDir, RelayTls, TestRelay, test_config};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const HSTS: &str = "max-age=31536000";

/// Opens `/sync` as `client`'s `device` and does the automerge-repo handshake: our `join`, the relay's
/// `peer` naming us. Proves a real sync session starts over the connection.
async fn sync_handshake(ws_base: &str, client: &Client, device: &str, tls: Option<tokio_tungstenite::Connector>) {
    let user = client.user_id().await;
    let token = client.token.as_deref().expect("signed in");
    let peer_id = format!("{user}:{device}");
    let url = teamflow_tests::socket::bearer_request(&format!("{ws_base}/sync?peer_id={peer_id}"), token);
    let (mut socket, response) =
        tokio_tungstenite::connect_async_tls_with_config(url, None, true, tls).await.expect("sync upgrade");
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let join = ciborium::Value::Map(vec![
        ("type".into(), "join".into()),
        ("senderId".into(), peer_id.as_str().into()),
        ("supportedProtocolVersions".into(), ciborium::Value::Array(vec!["1".into()])),
        ("peerMetadata".into(), ciborium::Value::Map(vec![("isEphemeral".into(), true.into())])),
    ]);
    let mut bytes = Vec::new();
    ciborium::into_writer(&join, &mut bytes).expect("encode join");
    socket.send(Message::binary(bytes)).await.expect("send join");
    let reply = loop {
        match tokio::time::timeout(PATIENCE, socket.next()).await.expect("a reply in time") {
            Some(Ok(Message::Binary(bytes))) => break bytes,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            other => panic!("expected the relay's peer message, got {other:?}"),
        }
    };
    let reply: ciborium::Value = ciborium::from_reader(reply.as_ref()).expect("CBOR reply");
    let field = |name: &str| {
        reply.as_map().and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some(name))).and_then(|(_, v)| v.as_text())
    };
    assert_eq!(field("type"), Some("peer"), "{reply:?}");
    assert_eq!(field("targetId"), Some(peer_id.as_str()), "{reply:?}");
    socket.close(None).await.ok();
}

#[tokio::test]
async fn https_and_wss_serve_rest_realtime_and_sync_with_a_private_ca() {
    let relay = TestRelay::start_tls().await;
    assert!(relay.url("").starts_with("https://127.0.0.1:"));

    // REST over HTTPS, every answer with HSTS: success, a missing route, a refusal.
    for (path, status) in
        [("/healthz", StatusCode::OK), ("/nowhere", StatusCode::NOT_FOUND), ("/api/me", StatusCode::UNAUTHORIZED)]
    {
        let response = relay.http().get(relay.url(path)).send().await.expect("HTTPS request");
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(response.headers().get(STRICT_TRANSPORT_SECURITY).map(|v| v.to_str().ok()), Some(Some(HSTS)));
    }
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let team = alice.create_team("Secure").await;
    alice.add_member(&team, "bob@example.test", "member").await;

    // Realtime rooms over WSS: bob hears alice's message.
    let mut room =
        RoomSocket::connect_with(&relay.url(""), bob.token.as_deref().expect("token"), relay.ws_connector()).await;
    room.join(&team).await;
    let (status, _) = alice
        .post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "tls-1", "content": "over TLS" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(room.next_of("new_message").await["message"]["content"], "over TLS");

    // Document sync over WSS: the automerge-repo handshake completes.
    sync_handshake(&relay.ws_url(""), &bob, "tls-device", relay.ws_connector()).await;
}

#[tokio::test]
async fn a_plain_relay_sends_no_hsts() {
    let relay = TestRelay::start().await;
    let response = relay.http().get(relay.url("/healthz")).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(STRICT_TRANSPORT_SECURITY).is_none(), "HSTS only where the relay serves TLS");
}

/// The whole chain of an error, to look for the reason.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(" / ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[tokio::test]
async fn clients_without_the_ca_are_refused_with_a_certificate_error() {
    let relay = TestRelay::start_tls().await;
    let stranger = TestCa::new("Someone else's CA");

    // A client trusting another CA, and one trusting only the system's roots.
    for client in [https_client(&[stranger.der()]), reqwest::Client::new()] {
        let error = client.get(relay.url("/healthz")).send().await.expect_err("an untrusted certificate");
        let reason = chain(&error);
        assert!(reason.contains("certificate"), "{reason}");
    }
    let error = handshake(relay.addr, "127.0.0.1", &[stranger.der()]).await.expect_err("refused");
    assert!(chain(&error).contains("UnknownIssuer"), "{}", chain(&error));

    // A certificate for the right CA but another name is refused too.
    let ca = relay.ca().expect("the relay's CA");
    let error = handshake(relay.addr, "relay.example.test", &[ca.der()]).await.expect_err("wrong name");
    assert!(chain(&error).contains("not valid for name"), "{}", chain(&error));

    let alice = relay.user("alice").await;
    let url = teamflow_tests::socket::bearer_request(
        &format!("{}/api/ws", relay.ws_url("")),
        alice.token.as_deref().expect("token"),
    );
    let refused =
        tokio_tungstenite::connect_async_tls_with_config(url, None, true, Some(wss_connector(&[stranger.der()]))).await;
    let error = refused.expect_err("WSS with an untrusted certificate");
    assert!(chain(&error).contains("UnknownIssuer"), "{}", chain(&error));
}

/// A ClientHello of the pre-1.3 kind: `version` (3.2 for TLS 1.1), no `supported_versions` extension. It
/// offers suites the relay takes under TLS 1.2, so with 3.2 nothing but the version stands in the way.
fn legacy_client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut hello = version.to_vec();
    hello.extend([0x42; 32]);
    hello.push(0);
    // ECDHE GCM (what TLS 1.2 here would pick), then TLS 1.1's own CBC suites.
    let suites: [u16; 6] = [0xc02b, 0xc02f, 0xc013, 0xc014, 0x002f, 0x0035];
    hello.extend(u16::try_from(suites.len() * 2).expect("small").to_be_bytes());
    for suite in suites {
        hello.extend(suite.to_be_bytes());
    }
    hello.extend([1, 0]);
    // Signature algorithms (ECDSA P-256, RSA-PSS, RSA PKCS#1 with SHA-256), groups (X25519, P-256), point
    // formats: all a server needs to answer, had the version been acceptable.
    let extensions: [(u16, Vec<u8>); 3] = [
        (0x000d, vec![0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]),
        (0x000a, vec![0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]),
        (0x000b, vec![0x01, 0x00]),
    ];
    let mut encoded = Vec::new();
    for (kind, data) in extensions {
        encoded.extend(kind.to_be_bytes());
        encoded.extend(u16::try_from(data.len()).expect("small").to_be_bytes());
        encoded.extend(data);
    }
    hello.extend(u16::try_from(encoded.len()).expect("small").to_be_bytes());
    hello.extend(encoded);
    let mut handshake = vec![1];
    handshake.extend(&u32::try_from(hello.len()).expect("small").to_be_bytes()[1..]);
    handshake.extend(hello);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend(u16::try_from(handshake.len()).expect("small").to_be_bytes());
    record.extend(handshake);
    record
}

/// Sends `bytes` on a fresh connection and answers all the relay sends back before closing.
async fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(bytes).await.expect("write");
    let mut reply = Vec::new();
    tokio::time::timeout(PATIENCE, tcp.read_to_end(&mut reply)).await.expect("the relay closed in time").ok();
    reply
}

#[tokio::test]
async fn tls_1_1_and_plaintext_clients_are_refused_and_tls_1_2_and_1_3_are_served() {
    let relay = TestRelay::start_tls().await;

    let reply = exchange(relay.addr, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert!(!reply.starts_with(b"HTTP/"), "plain HTTP got an answer: {:?}", String::from_utf8_lossy(&reply));

    let reply = exchange(relay.addr, &legacy_client_hello([0x03, 0x02])).await;
    assert_eq!(reply.first(), Some(&0x15), "a TLS alert, not a ServerHello: {reply:02x?}");
    assert_eq!(reply.get(6), Some(&70), "the alert is protocol_version: {reply:02x?}");
    // The same hello saying TLS 1.2 gets a ServerHello: the version alone was refused.
    let mut tcp = TcpStream::connect(relay.addr).await.expect("connect");
    tcp.write_all(&legacy_client_hello([0x03, 0x03])).await.expect("write");
    let mut head = [0u8; 6];
    tokio::time::timeout(PATIENCE, tcp.read_exact(&mut head)).await.expect("an answer in time").expect("read");
    assert_eq!(head[0], 0x16, "a handshake record: {head:02x?}");
    assert_eq!(head[5], 2, "a ServerHello: {head:02x?}");

    let ca = relay.ca().expect("CA").der();
    for (versions, expected) in [
        (&[&rustls::version::TLS12][..], rustls::ProtocolVersion::TLSv1_2),
        (&[&rustls::version::TLS13][..], rustls::ProtocolVersion::TLSv1_3),
    ] {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone()).expect("root");
        let config = rustls::ClientConfig::builder_with_provider(teamflow_relay::tls::crypto_provider())
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let tcp = TcpStream::connect(relay.addr).await.expect("connect");
        let mut tls = connector.connect("127.0.0.1".try_into().expect("name"), tcp).await.expect("handshake");
        assert_eq!(tls.get_ref().1.protocol_version(), Some(expected));
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.expect("write");
        let mut reply = String::new();
        tls.read_to_string(&mut reply).await.ok();
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    }
}

#[tokio::test]
async fn a_stalled_handshake_holds_up_no_one_else() {
    let relay = TestRelay::start_tls().await;
    // One client connects and says nothing; another sends half a ClientHello and stops.
    let _silent = TcpStream::connect(relay.addr).await.expect("connect");
    let mut half = TcpStream::connect(relay.addr).await.expect("connect");
    half.write_all(&legacy_client_hello([0x03, 0x02])[..20]).await.expect("write");
    // Well inside the 10 s handshake timeout, everyone else is served.
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let (status, _) = relay.client().get("/healthz").await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(started.elapsed() < Duration::from_secs(5), "served in {:?}", started.elapsed());
}

/// Waits until a fresh handshake presents `expected`.
async fn until_served(relay: &TestRelay, expected: &CertificateDer<'static>, why: &str) {
    let roots = &relay.tls().expect("TLS").roots;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if served_leaf(relay.addr, "127.0.0.1", roots).await == *expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the new certificate was never served after {why}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn cert_dir(relay: &TestRelay) -> PathBuf {
    relay.data_dir().join("tls")
}

#[tokio::test]
async fn a_renewed_certificate_file_is_served_without_a_restart_and_a_bad_one_is_refused() {
    let relay = TestRelay::start_tls().await;
    let roots = relay.tls().expect("TLS").roots.clone();
    let first = served_leaf(relay.addr, "127.0.0.1", &roots).await;
    let ca = relay.ca().expect("CA");

    let second = ca.issue_loopback("relay, second certificate", 2);
    assert_ne!(second.der, first);
    second.write(&cert_dir(&relay));
    until_served(&relay, &second.der, "the files changed").await;

    // A broken pair: the relay logs it, keeps serving the second certificate, and keeps running.
    std::fs::write(cert_dir(&relay).join("cert.pem"), "-----BEGIN CERTIFICATE-----\nbroken\n").expect("write");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(served_leaf(relay.addr, "127.0.0.1", &roots).await, second.der);
    // A key that belongs to another certificate is refused too.
    let third = ca.issue_loopback("relay, third certificate", 3);
    std::fs::write(cert_dir(&relay).join("cert.pem"), &second.cert_pem).expect("write");
    std::fs::write(cert_dir(&relay).join("key.pem"), &third.key_pem).expect("write");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(served_leaf(relay.addr, "127.0.0.1", &roots).await, second.der);
    let (status, _) = relay.client().get("/readyz").await;
    assert_eq!(status, StatusCode::OK);

    // Replaced the way certbot and friends do it: written beside, then renamed over.
    let staging = relay.data_dir().join("staging");
    third.write(&staging);
    std::fs::rename(staging.join("key.pem"), cert_dir(&relay).join("key.pem")).expect("rename");
    std::fs::rename(staging.join("cert.pem"), cert_dir(&relay).join("cert.pem")).expect("rename");
    until_served(&relay, &third.der, "the files were renamed over").await;
}

#[cfg(unix)]
#[tokio::test]
async fn sighup_reloads_the_certificate() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    // No file watch: only the signal can make this relay read its files again.
    config.tls.watch_files = false;
    let relay = TestRelay::start_tls_with(dir, config).await;
    let roots = relay.tls().expect("TLS").roots.clone();
    let first = served_leaf(relay.addr, "127.0.0.1", &roots).await;

    let renewed = relay.ca().expect("CA").issue_loopback("relay, renewed on SIGHUP", 7);
    renewed.write(&cert_dir(&relay));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(served_leaf(relay.addr, "127.0.0.1", &roots).await, first, "nothing reloads without the signal");

    // The relay (and any other TLS relay of this test process) reloads; none of them stops.
    nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    until_served(&relay, &renewed.der, "SIGHUP").await;
    let (status, _) = relay.client().get("/readyz").await;
    assert_eq!(status, StatusCode::OK);
}

const ACME_DOMAIN: &str = "relay.teamflow.test";

#[tokio::test]
async fn acme_obtains_a_certificate_from_pebble_caches_it_and_serves_it_after_a_restart() {
    let work = tempfile::tempdir().expect("temporary directory");
    let pebble = Pebble::start(work.path()).await;
    let roots = pebble.issuing_roots().await;
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.tls.acme_domains = vec![ACME_DOMAIN.to_owned()];
    config.tls.acme_email = Some("ops@teamflow.test".into());
    config.tls.acme_directory = pebble.directory.clone();
    config.tls.acme_ca = Some(pebble.listener_ca_file.clone());
    let tls = RelayTls { roots: roots.clone(), host: ACME_DOMAIN.into(), ca: None };

    // Ready means a client trusting only Pebble's root reached /readyz at the domain.
    let relay = TestRelay::start_with_tls(dir, config.clone(), tls.clone()).await;
    let response = relay.http().get(relay.url("/healthz")).send().await.expect("HTTPS with the ACME certificate");
    assert_eq!(response.headers().get(STRICT_TRANSPORT_SECURITY).map(|v| v.to_str().ok()), Some(Some(HSTS)));
    let issued = served_leaf(relay.addr, ACME_DOMAIN, &roots).await;
    let alice = relay.user("alice").await;
    assert_eq!(alice.get("/api/me").await.0, StatusCode::OK);

    let cache = relay.data_dir().join("acme");
    let names: Vec<String> = std::fs::read_dir(&cache)
        .expect("the ACME cache")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.starts_with("cached_cert_")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("cached_account_")), "{names:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&cache).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the account key and certificate key are the relay user's alone");
    }

    // With the CA gone, a restart serves the cached certificate.
    drop(pebble);
    let dir = relay.stop().await;
    let relay = TestRelay::start_with_tls(dir, config, tls).await;
    assert_eq!(served_leaf(relay.addr, ACME_DOMAIN, &roots).await, issued);
}

fn caddyfile() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy/Caddyfile")
}

#[tokio::test]
async fn the_documented_caddyfile_proxies_rest_and_websockets_to_a_relay_trusting_it() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    let relay = TestRelay::start_with(dir, config).await;

    // The exact file docs/deploy.md shows; only its environment differs from production: plain HTTP on a
    // loopback port instead of the public name (no CA can reach this machine), the admin API moved off its
    // default port.
    let work = tempfile::tempdir().expect("temporary directory");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _caddy = Caddy::start(
        &caddyfile(),
        work.path(),
        &[
            ("TEAMFLOW_DOMAIN", base.clone()),
            ("TEAMFLOW_UPSTREAM", relay.addr.to_string()),
            ("CADDY_ADMIN", format!("127.0.0.1:{}", free_port())),
        ],
        &format!("{base}/readyz"),
    )
    .await;

    let through = Client { http: reqwest::Client::new(), base: base.clone(), token: None };
    let response = through.request(reqwest::Method::GET, "/healthz", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers().get(STRICT_TRANSPORT_SECURITY).map(|v| v.to_str().ok()),
        Some(Some(HSTS)),
        "Caddy sets HSTS"
    );
    let direct = relay.http().get(relay.url("/healthz")).send().await.expect("request");
    assert!(direct.headers().get(STRICT_TRANSPORT_SECURITY).is_none(), "the plain relay leaves HSTS to the proxy");

    let (status, body) = through
        .post(
            "/api/auth/register",
            &json!({ "email": "ann@example.test", "password": "correct horse battery", "display_name": "ann" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ann = through.with_token(body["access_token"].as_str());
    let team = ann.create_team("Proxied").await;

    // A realtime WebSocket through Caddy: ann hears her own message.
    let mut room = RoomSocket::connect(&base, ann.token.as_deref().expect("token")).await;
    room.join(&team).await;
    let (status, _) =
        ann.post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "c-1", "content": "via caddy" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(room.next_of("new_message").await["message"]["content"], "via caddy");

    // And document sync's WebSocket.
    sync_handshake(&base.replacen("http://", "ws://", 1), &ann, "proxied", None).await;
}

#[test]
fn the_deploy_guide_shows_the_tested_caddyfile_verbatim() {
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy.md")).expect("guide");
    let caddyfile = std::fs::read_to_string(caddyfile()).expect("Caddyfile");
    assert!(guide.contains(caddyfile.trim_end()), "docs/deploy.md must include docs/deploy/Caddyfile as it is");
}
