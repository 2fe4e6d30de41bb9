//! Chat over REST: idempotent posting under concurrent retries, gapless sequence numbers, paging.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_tests::{Client, TestRelay, TwoMemberTeam, assert_error};

async fn team_with_member(relay: TestRelay) -> (TestRelay, Client, Client, String) {
    let t = TwoMemberTeam::on(relay).await;
    (t.relay, t.alice, t.bob, t.id)
}

fn seqs(page: &Value) -> Vec<i64> {
    page["messages"].as_array().expect("messages").iter().map(|m| m["seq"].as_i64().expect("seq")).collect()
}

#[tokio::test]
async fn a_retry_with_the_same_client_id_returns_the_original() {
    let (_relay, alice, _, team) = team_with_member(TestRelay::start().await).await;
    let path = format!("/api/teams/{team}/messages");
    let body = json!({ "client_id": "c-1", "content": "hello", "kind": "text" });
    let (status, first) = alice.post(&path, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["seq"], 1);
    assert_eq!(first["author_name"], "alice");
    let (status, again) = alice.post(&path, &body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, first);

    let (status, error) = alice.post(&path, &json!({ "client_id": "c-1", "content": "changed" })).await;
    assert_error(status, &error, StatusCode::CONFLICT, "conflict");
    assert_eq!(seqs(&alice.get(&path).await.1), [1]);
}

#[tokio::test]
async fn concurrent_retries_store_one_message() {
    let (_relay, alice, _, team) = team_with_member(TestRelay::start().await).await;
    let path = format!("/api/teams/{team}/messages");
    let body = json!({ "client_id": "retry-storm", "content": "once", "kind": "markdown" });
    let attempts: Vec<_> = (0..16)
        .map(|_| {
            let (alice, path, body) = (alice.clone(), path.clone(), body.clone());
            tokio::spawn(async move { alice.post(&path, &body).await })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut created = 0;
    for attempt in attempts {
        let (status, message) = attempt.await.expect("task");
        assert!(status == StatusCode::CREATED || status == StatusCode::OK, "{status}: {message}");
        created += usize::from(status == StatusCode::CREATED);
        ids.insert(message["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(created, 1, "exactly one attempt created the message");
    assert_eq!(ids.len(), 1, "every attempt saw the same message");
    assert_eq!(seqs(&alice.get(&path).await.1), [1]);
}

#[tokio::test]
async fn a_conflicting_post_fails_alone_among_concurrent_ones() {
    let (_relay, alice, bob, team) = team_with_member(TestRelay::start().await).await;
    let path = format!("/api/teams/{team}/messages");
    let (status, _) = alice.post(&path, &json!({ "client_id": "c-1", "content": "hello" })).await;
    assert_eq!(status, StatusCode::CREATED);
    // Posts arriving together are committed together; the conflicting ones must not take the rest down.
    let posts: Vec<_> = (0..24)
        .map(|i| {
            let (alice, bob, path) = (alice.clone(), bob.clone(), path.clone());
            tokio::spawn(async move {
                if i % 4 == 0 {
                    alice.post(&path, &json!({ "client_id": "c-1", "content": format!("changed {i}") })).await
                } else {
                    bob.post(&path, &json!({ "client_id": format!("b{i}"), "content": format!("message {i}") })).await
                }
            })
        })
        .collect();
    let (mut created, mut conflicts) = (0, 0);
    for post in posts {
        let (status, body) = post.await.expect("task");
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_error(status, &body, StatusCode::CONFLICT, "conflict");
                conflicts += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((created, conflicts), (18, 6));
    let (_, page) = alice.get(&format!("{path}?limit=100")).await;
    assert_eq!(seqs(&page), (1..=19).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn concurrent_posts_get_gapless_distinct_sequence_numbers() {
    let (_relay, alice, bob, team) = team_with_member(TestRelay::start().await).await;
    let path = format!("/api/teams/{team}/messages");
    let posts: Vec<_> = (0..30)
        .map(|i| {
            let client = if i % 2 == 0 { alice.clone() } else { bob.clone() };
            let path = path.clone();
            tokio::spawn(async move {
                client.post(&path, &json!({ "client_id": format!("m{i}"), "content": format!("message {i}") })).await
            })
        })
        .collect();
    for post in posts {
        assert_eq!(post.await.expect("task").0, StatusCode::CREATED);
    }
    let (_, page) = alice.get(&format!("{path}?limit=100")).await;
    assert_eq!(seqs(&page), (1..=30).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn pages_run_newest_first_and_limits_are_clamped() {
    let (_relay, alice, bob, team) = team_with_member(TestRelay::start().await).await;
    let path = format!("/api/teams/{team}/messages");
    for i in 1..=7 {
        let (status, _) = alice.post(&path, &json!({ "client_id": format!("p{i}"), "content": format!("#{i}") })).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, first) = bob.get(&format!("{path}?limit=3")).await;
    assert_eq!(seqs(&first), [7, 6, 5]);
    assert_eq!(first["next_before"], 5);
    let (_, second) = bob.get(&format!("{path}?limit=3&before=5")).await;
    assert_eq!(seqs(&second), [4, 3, 2]);
    let (_, last) = bob.get(&format!("{path}?limit=3&before=2")).await;
    assert_eq!(seqs(&last), [1]);
    assert!(last.get("next_before").is_none(), "{last}");

    assert_eq!(seqs(&bob.get(&format!("{path}?limit=0")).await.1).len(), 1, "limit clamps up to 1");
    assert_eq!(seqs(&bob.get(&format!("{path}?limit=100000")).await.1).len(), 7, "and down to the maximum");
    let (status, error) = bob.get(&format!("{path}?limit=lots")).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, error) = bob.get(&format!("{path}?page=2")).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn bad_messages_and_viewers_are_refused() {
    let (relay, alice, _, team) = team_with_member(TestRelay::start().await).await;
    let viewer = relay.user("viewer").await;
    alice.add_member(&team, "viewer@example.test", "viewer").await;
    let path = format!("/api/teams/{team}/messages");
    for (body, field) in [
        (json!({ "client_id": "", "content": "x" }), "client_id"),
        (json!({ "client_id": "has space", "content": "x" }), "client_id"),
        (json!({ "client_id": "x".repeat(65), "content": "x" }), "client_id"),
        (json!({ "client_id": "ok", "content": "   " }), "content"),
        (json!({ "client_id": "ok", "content": "x".repeat(10_001) }), "content"),
    ] {
        let (status, error) = alice.post(&path, &body).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"][field].is_string(), "{field}: {error}");
    }
    let (status, error) = alice.post(&path, &json!({ "client_id": "ok", "content": "x", "kind": "system" })).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, error) = viewer.post(&path, &json!({ "client_id": "v", "content": "hi" })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(viewer.get(&path).await.1["messages"], json!([]), "nothing was stored");
}
