//! Projects: create, read, replace, delete; viewers read only; documents must belong to the team.

use reqwest::StatusCode;
use serde_json::json;
use teamflow_tests::{TestRelay, assert_error, document_url};

#[tokio::test]
async fn projects_go_through_their_whole_life() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let team = alice.create_team("T").await;
    let projects = format!("/api/teams/{team}/projects");

    let (status, created) = alice.post(&projects, &json!({ "name": "Launch", "description": "Ship **it**" })).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "active", "the team's default status");
    assert_eq!(created["document_id"], serde_json::Value::Null);
    let id = created["id"].as_str().expect("id");

    let doc = document_url(1);
    let (status, _) =
        alice.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": doc, "title": "Spec" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, updated) = alice
        .put(&format!("{projects}/{id}"), &json!({ "name": "Launch v1", "status": "paused", "document_id": doc }))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Launch v1");
    assert_eq!(updated["status"], "paused");
    assert_eq!(updated["document_id"], doc);
    assert_eq!(updated["description"], "Ship **it**", "PUT keeps an omitted description");

    let (status, kept) = alice.put(&format!("{projects}/{id}"), &json!({ "name": "Launch v1" })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kept["status"], "paused", "an omitted status is kept");

    assert_eq!(alice.get(&projects).await.1.as_array().map(Vec::len), Some(1));
    assert_eq!(alice.delete(&format!("{projects}/{id}")).await.0, StatusCode::NO_CONTENT);
    let (status, body) = alice.get(&format!("{projects}/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = alice.delete(&format!("{projects}/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn viewers_read_projects_but_cannot_change_them() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let viewer = relay.user("viewer").await;
    let team = owner.create_team("T").await;
    owner.add_member(&team, "viewer@example.test", "viewer").await;
    let projects = format!("/api/teams/{team}/projects");
    let (_, created) = owner.post(&projects, &json!({ "name": "P" })).await;
    let id = created["id"].as_str().expect("id");

    assert_eq!(viewer.get(&format!("{projects}/{id}")).await.1, created);
    for (status, body) in [
        viewer.post(&projects, &json!({ "name": "Mine" })).await,
        viewer.put(&format!("{projects}/{id}"), &json!({ "name": "Mine" })).await,
        viewer.delete(&format!("{projects}/{id}")).await,
    ] {
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(owner.get(&format!("{projects}/{id}")).await.1, created, "nothing changed");
}

#[tokio::test]
async fn the_team_setting_can_reserve_project_creation_for_admins() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let member = relay.user("member").await;
    let team = owner.create_team("T").await;
    owner.add_member(&team, "member@example.test", "member").await;
    let projects = format!("/api/teams/{team}/projects");
    assert_eq!(member.post(&projects, &json!({ "name": "Allowed" })).await.0, StatusCode::CREATED);
    let (status, _) = owner
        .put(
            &format!("/api/teams/{team}/settings"),
            &json!({
                "description": "",
                "default_project_status": "planned",
                "members_can_create_projects": false,
                "webhook_payload_retention_days": 30,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = member.post(&projects, &json!({ "name": "Refused" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (_, created) = owner.post(&projects, &json!({ "name": "Planned" })).await;
    assert_eq!(created["status"], "planned", "the new default applies");
}

#[tokio::test]
async fn project_input_is_validated_before_anything_is_written() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let team = alice.create_team("T").await;
    let other_team = alice.create_team("Other").await;
    let foreign_doc = document_url(9);
    let (status, _) = alice
        .post(&format!("/api/teams/{other_team}/documents"), &json!({ "document_id": foreign_doc, "title": "x" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let projects = format!("/api/teams/{team}/projects");
    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "x".repeat(201) }), "name"),
        (json!({ "name": "ok", "description": "d".repeat(10_001) }), "description"),
        (json!({ "name": "ok", "document_id": "automerge:nope" }), "document_id"),
        (json!({ "name": "ok", "document_id": document_url(2) }), "document_id"),
        (json!({ "name": "ok", "document_id": foreign_doc }), "document_id"),
    ] {
        let (status, error) = alice.post(&projects, &body).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"][field].is_string(), "{field}: {error}");
    }
    let (status, error) = alice.post(&projects, &json!({ "name": "ok", "status": "done-ish" })).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(alice.get(&projects).await.1, json!([]), "no partial writes");
}

#[tokio::test]
async fn a_create_repeated_with_its_client_id_returns_the_first_project_once() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let team = alice.create_team("T").await;
    let projects = format!("/api/teams/{team}/projects");
    let body = json!({ "name": "Launch", "client_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" });

    let (status, first) = alice.post(&projects, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = alice.post(&projects, &body).await;
    assert_eq!(status, StatusCode::OK, "a retry after a lost answer: {again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(alice.get(&projects).await.1.as_array().map(Vec::len), Some(1), "still one project");

    let (status, body) =
        alice.post(&projects, &json!({ "name": "Other", "client_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" })).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = alice.post(&projects, &json!({ "name": "Bad", "client_id": "not ok!" })).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let id = first["id"].as_str().expect("id");
    // On an edit, a client id names the edit (applied once): it must be well-formed too.
    let (status, body) = alice.put(&format!("{projects}/{id}"), &json!({ "name": "X", "client_id": "not ok!" })).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Another member using the same client id makes their own project: ids are per creator.
    let bob = relay.user("bob").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    let (status, bobs) =
        bob.post(&projects, &json!({ "name": "Launch", "client_id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" })).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(bobs["id"], first["id"]);
}
