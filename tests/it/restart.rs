//! Durability across restarts: everything acknowledged is there after the relay stops and starts again.

use reqwest::StatusCode;
use serde_json::json;
use teamflow_tests::{TestRelay, document_url, test_config};

#[tokio::test]
async fn everything_survives_a_restart_on_the_same_data_directory() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let team = alice.create_team("Durable").await;
    alice.add_member(&team, "bob@example.test", "admin").await;
    let (_, project) = alice.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "Keep me" })).await;
    let doc = document_url(5);
    alice.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": doc, "title": "Doc" })).await;
    for i in 0..3 {
        bob.post(
            &format!("/api/teams/{team}/messages"),
            &json!({ "client_id": format!("r{i}"), "content": "persist" }),
        )
        .await;
    }
    let (_, session) = relay
        .client()
        .post("/api/auth/login", &json!({ "email": "alice@example.test", "password": "correct horse battery" }))
        .await;
    let before = (
        alice.get("/api/me").await.1,
        alice.get(&format!("/api/teams/{team}/members")).await.1,
        alice.get(&format!("/api/teams/{team}/projects")).await.1,
        alice.get(&format!("/api/teams/{team}/documents")).await.1,
        alice.get(&format!("/api/teams/{team}/messages")).await.1,
    );

    let dir = relay.stop().await;
    let config = test_config(dir.path());
    let relay = TestRelay::start_with(dir, config).await;
    // The signing key persisted, so access tokens issued before the restart still verify.
    let alice = teamflow_tests::Client { base: relay.url(""), ..alice };
    let after = (
        alice.get("/api/me").await.1,
        alice.get(&format!("/api/teams/{team}/members")).await.1,
        alice.get(&format!("/api/teams/{team}/projects")).await.1,
        alice.get(&format!("/api/teams/{team}/documents")).await.1,
        alice.get(&format!("/api/teams/{team}/messages")).await.1,
    );
    assert_eq!(after, before);
    assert_eq!(after.2[0]["id"], project["id"]);
    assert_eq!(after.4["messages"].as_array().map(Vec::len), Some(3));

    let (status, _) =
        relay.client().post("/api/auth/refresh", &json!({ "refresh_token": session["refresh_token"] })).await;
    assert_eq!(status, StatusCode::OK, "refresh tokens survive too");
    let (status, next) =
        alice.post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "after", "content": "again" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(next["seq"], 4, "sequence numbers continue");
}
