//! The document registry: an Automerge document belongs to one team, registered once anywhere.

use reqwest::StatusCode;
use serde_json::json;
use teamflow_tests::{TestRelay, assert_error, document_url};

#[tokio::test]
async fn a_document_is_registered_to_one_team_only() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let team = alice.create_team("A").await;
    let other = bob.create_team("B").await;
    let (_, project) = alice.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "P" })).await;
    let doc = document_url(3);

    let (status, entry) = alice
        .post(
            &format!("/api/teams/{team}/documents"),
            &json!({ "document_id": doc, "title": " Spec ", "project_id": project["id"] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["title"], "Spec");
    assert_eq!(entry["project_id"], project["id"]);
    let (status, list) = alice.get(&format!("/api/teams/{team}/documents")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([entry]));

    for (client, t) in [(&alice, &team), (&bob, &other)] {
        let (status, error) =
            client.post(&format!("/api/teams/{t}/documents"), &json!({ "document_id": doc, "title": "Again" })).await;
        assert_error(status, &error, StatusCode::CONFLICT, "conflict");
    }
    assert_eq!(bob.get(&format!("/api/teams/{other}/documents")).await.1, json!([]));
}

#[tokio::test]
async fn document_registration_is_validated() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let team = alice.create_team("A").await;
    let elsewhere = alice.create_team("B").await;
    let (_, foreign_project) = alice.post(&format!("/api/teams/{elsewhere}/projects"), &json!({ "name": "P" })).await;
    let path = format!("/api/teams/{team}/documents");
    for (body, field) in [
        (json!({ "document_id": "not-a-url", "title": "x" }), "document_id"),
        (json!({ "document_id": "automerge:111111111111", "title": "x" }), "document_id"),
        (json!({ "document_id": document_url(4), "title": "" }), "title"),
        (json!({ "document_id": document_url(4), "title": "x", "project_id": foreign_project["id"] }), "project_id"),
    ] {
        let (status, error) = alice.post(&path, &body).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"][field].is_string(), "{field}: {error}");
    }
    assert_eq!(alice.get(&path).await.1, json!([]));
}
