//! What every route shares: the error shape for unknown routes and methods, rate limits, CORS,
//! request ids, operations endpoints and the OpenAPI document.

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_tests::{DataDir, TestRelay, assert_error, test_config};

#[tokio::test]
async fn unknown_routes_and_wrong_methods_answer_in_the_error_shape() {
    let relay = TestRelay::start().await;
    let client = relay.client();
    let (status, body) = client.get("/api/nothing-here").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let response = client.request(reqwest::Method::DELETE, "/api/teams", None).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = response.headers()["allow"].to_str().expect("allow").to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let relay = TestRelay::start().await;
    let client = relay.client();
    assert_eq!(client.get("/healthz").await, (StatusCode::OK, json!({ "status": "ok" })));
    assert_eq!(client.get("/readyz").await, (StatusCode::OK, json!({ "status": "ready" })));
    relay.user("metered").await;
    let metrics = client.http.get(relay.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(
        metrics.contains(r#"teamflow_http_requests_total{method="POST",route="/api/auth/register",status="201"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("teamflow_http_request_duration_seconds_bucket"));
    assert!(metrics.contains("teamflow_db_pool_connections"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let relay = TestRelay::start().await;
    let response = relay.client().request(reqwest::Method::GET, "/api/me", None).await;
    assert!(response.headers().get("x-request-id").is_some_and(|v| !v.is_empty()));
}

#[tokio::test]
async fn the_api_is_rate_limited_per_user_with_retry_after() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.limits.rate_per_second = 1;
    config.limits.rate_burst = 5;
    let relay = TestRelay::start_with(dir, config).await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    // Registration used none of alice's per-user quota: it is counted by address on the auth limiter.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(alice.get("/api/me").await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 5, "{statuses:?}");
    let response = alice.request(reqwest::Method::GET, "/api/me", None).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().expect("header").parse().expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");
    // Another user on the same address has their own quota.
    assert_eq!(bob.get("/api/me").await.0, StatusCode::OK);
}

#[tokio::test]
async fn websocket_upgrades_with_a_query_token_count_against_the_user_not_the_address() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.limits.rate_per_second = 1;
    config.limits.rate_burst = 3;
    let relay = TestRelay::start_with(dir, config).await;
    let bob = relay.user("bob").await;
    // Anonymous requests use up this address's quota (bob's sign-up took a share of it too).
    let anonymous = relay.client();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(anonymous.get("/api/me").await.0);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "the address is out of quota: {statuses:?}");
    // Bob, on the same address, still gets his socket: counted as bob.
    let url = relay.url("/api/ws").replacen("http://", "ws://", 1);
    let upgraded = tokio_tungstenite::connect_async(teamflow_tests::socket::bearer_request(
        &url,
        bob.token.as_deref().expect("token"),
    ))
    .await;
    assert!(upgraded.is_ok(), "{:?}", upgraded.err());
}

/// Reads one sample of the relay's token-verification counter.
async fn verifications(relay: &TestRelay, outcome: &str) -> u64 {
    let text = reqwest::get(relay.url("/metrics")).await.expect("metrics").text().await.expect("text");
    let name = format!("teamflow_token_verifications_total{{outcome=\"{outcome}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(name.as_str())).map_or(0, |v| v.trim().parse().expect("a count"))
}

#[tokio::test]
async fn a_request_verifies_its_token_once_for_the_limiter_and_the_handler_together() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let before = verifications(&relay, "valid").await;
    assert_eq!(alice.get("/api/me").await.0, StatusCode::OK);
    assert_eq!(verifications(&relay, "valid").await - before, 1);

    let forged = alice.with_token(Some("not-a-token"));
    let invalid = verifications(&relay, "invalid").await;
    let (status, body) = forged.get("/api/me").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(verifications(&relay, "invalid").await - invalid, 1);
}

#[tokio::test]
async fn sign_in_has_a_tighter_limit_per_address() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.limits.auth_rate_per_minute = 1;
    config.limits.auth_rate_burst = 3;
    let relay = TestRelay::start_with(dir, config).await;
    let client = relay.client();
    let attempt = json!({ "email": "who@example.test", "password": "guessing123" });
    for _ in 0..3 {
        assert_eq!(client.post("/api/auth/login", &attempt).await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = client.post("/api/auth/login", &attempt).await;
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // A forged X-Forwarded-For does not buy a fresh quota: no proxy is trusted.
    let response = client
        .http
        .post(relay.url("/api/auth/login"))
        .header("x-forwarded-for", "198.51.100.23")
        .json(&attempt)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Operations endpoints are not limited.
    assert_eq!(client.get("/healthz").await.0, StatusCode::OK);
}

#[tokio::test]
async fn cors_admits_only_configured_origins() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.cors_origins = vec!["http://app.example.test".into()];
    let relay = TestRelay::start_with(dir, config).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        http.request(reqwest::Method::OPTIONS, relay.url("/api/teams"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
    };
    let allowed = preflight("http://app.example.test").await.expect("preflight");
    assert_eq!(allowed.headers()["access-control-allow-origin"], "http://app.example.test");
    let refused = preflight("http://evil.example.test").await.expect("preflight");
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_openapi_document_is_served_and_matches_the_committed_snapshot() {
    let relay = TestRelay::start().await;
    let (status, served) = relay.client().get("/api/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let generated = teamflow_relay::http::openapi().to_pretty_json().expect("openapi json");
    assert_eq!(served, serde_json::from_str::<Value>(&generated).expect("parse"));

    let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, format!("{generated}\n")).expect("write snapshot");
    }
    let committed = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "the API changed: review it, then refresh docs/openapi.json with \
         `UPDATE_SNAPSHOTS=1 cargo test -p teamflow-tests --test it openapi`"
    );
}
