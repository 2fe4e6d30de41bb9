//! The relay's and the node's defences that have no feature of their own: private data files, what
//! `/metrics` and `/readyz` answer and to whom, and who may delete a project.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;
use teamflow_tests::{DataDir, TestRelay, assert_error, test_config};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[tokio::test]
async fn the_relays_and_the_nodes_data_are_readable_by_their_owner_alone() {
    // The SQLite files' modes are the point: on SQLite whatever the suite's database.
    let dir = DataDir::sqlite();
    // As a umask of 022 would leave it, or an older relay did.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = test_config(dir.path());
    let relay = TestRelay::start_with(dir, config).await;
    relay.user("someone").await;
    let data = relay.data_dir().to_owned();
    assert_eq!(mode(&data), 0o700, "the data directory");
    for entry in std::fs::read_dir(&data).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    for file in ["relay.db", "relay.db-wal", "relay.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }

    let node_dir = DataDir::new();
    let node_data = node_dir.path().join("node");
    let node = teamflow_node::Node::open(&node_data, &relay.url("")).await.expect("open node");
    node.sign_up("ada@example.test", "correct horse battery", "Ada").await.expect("sign up");
    assert_eq!(mode(&node_data), 0o700, "the node's data directory");
    for file in ["node.db", "node.db-wal", "node.db-shm"] {
        assert_eq!(mode(&node_data.join(file)), 0o600, "{file}");
    }
}

#[tokio::test]
async fn metrics_need_their_token_or_their_own_address() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.metrics_token = Some("a-long-metrics-token".into());
    let relay = TestRelay::start_with(dir, config).await;
    let http = reqwest::Client::new();
    let scrape = |token: Option<&'static str>| {
        let mut request = http.get(relay.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.expect("scrape").status() }
    };
    assert_eq!(scrape(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scrape(Some("a-long-metrics-tokeN")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scrape(Some("a-long-metrics-token")).await, StatusCode::OK);

    // Without a token, a proxy's (or anyone non-local's) request is not answered.
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.trusted_proxies = vec!["127.0.0.1".parse().expect("ip")];
    let proxied = TestRelay::start_with(dir, config).await;
    let (status, body) = proxied.client().get("/metrics").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // On its own address, and only there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let metrics_addr = free.local_addr().expect("addr");
    drop(free);
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.metrics_bind = Some(metrics_addr);
    let separate = TestRelay::start_with(dir, config).await;
    let (status, body) = separate.client().get("/metrics").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let text =
        reqwest::get(format!("http://{metrics_addr}/metrics")).await.expect("scrape").text().await.expect("text");
    assert!(text.contains("teamflow_http_requests_total"), "{text}");
}

#[tokio::test]
async fn readiness_checks_are_rate_limited() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.limits.rate_per_second = 1;
    config.limits.rate_burst = 5;
    let relay = TestRelay::start_with(dir, config).await;
    let client = relay.client();
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(client.get("/readyz").await.0);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
}

#[tokio::test]
async fn deleting_a_project_needs_an_admin() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let member = relay.user("member").await;
    let team = owner.create_team("T").await;
    owner.add_member(&team, "member@example.test", "member").await;
    let projects = format!("/api/teams/{team}/projects");
    let (status, created) = member.post(&projects, &json!({ "name": "Mine" })).await;
    assert_eq!(status, StatusCode::CREATED, "members create projects (the team allows it)");
    let project = format!("{projects}/{}", created["id"].as_str().expect("id"));
    let (status, body) = member.delete(&project).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(owner.get(&project).await.0, StatusCode::OK, "still there");
    assert_eq!(owner.delete(&project).await.0, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_refresh_retried_moments_later_is_no_reuse_but_a_replay_after_its_successor_is() {
    let relay = TestRelay::start().await;
    let client = relay.client();
    let (status, signed_up) = client
        .post(
            "/api/auth/register",
            &json!({ "email": "ada@example.test", "password": "correct horse battery", "display_name": "Ada" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let first = signed_up["refresh_token"].as_str().expect("token").to_owned();
    let refresh = |token: String| {
        let client = client.clone();
        async move { client.post("/api/auth/refresh", &json!({ "refresh_token": token })).await }
    };
    // Two refreshes of one token at once (or a retry after a lost answer): both answered.
    let (a, b) = tokio::join!(refresh(first.clone()), refresh(first.clone()));
    assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{a:?} {b:?}");
    let kept = b.1["refresh_token"].as_str().expect("token").to_owned();
    let (status, next) = refresh(kept).await;
    assert_eq!(status, StatusCode::OK, "the kept answer works: {next}");
    // Now that a successor was used, the first token again is a copy: the sign-in is revoked.
    let (status, body) = refresh(first).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = refresh(next["refresh_token"].as_str().expect("token").to_owned()).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
}
