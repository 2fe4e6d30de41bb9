//! The document registry: an Automerge document belongs to one team, registered once anywhere; renaming,
//! soft deletion (out of lists and sync, restorable until purged) and who may do which.

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_sync::splice_text;
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{Client, TestRelay, TwoMemberTeam, assert_error, document_url, sync_client, text_when, within};

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

/// Registers document `n` to the team as `title`; answers its URL.
async fn registered(client: &Client, team: &str, n: u8, title: &str) -> String {
    let doc = document_url(n);
    let (status, body) =
        client.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": doc, "title": title })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    doc
}

fn titles(list: &serde_json::Value) -> Vec<&str> {
    list.as_array().expect("a list").iter().map(|d| d["title"].as_str().expect("title")).collect()
}

#[tokio::test]
async fn a_rename_reaches_the_team_live_and_later_readers() {
    let t = TwoMemberTeam::start().await;
    let doc = registered(&t.alice, &t.id, 5, "Draft").await;
    let mut room = RoomSocket::connect(&t.relay.url(""), t.bob.token.as_deref().expect("token")).await;
    room.join(&t.id).await;

    // Bob, a plain member, renames alice's document; the title is trimmed like at registration.
    let (status, entry) =
        t.bob.patch(&format!("/api/teams/{}/documents/{doc}", t.id), &json!({ "title": " Plan " })).await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["title"], "Plan");
    assert_eq!(entry["document_id"], doc.as_str());
    let frame = room.next_of("document_updated").await;
    assert_eq!(frame["document"], entry);
    // A device that was away reads the new title from the list.
    assert_eq!(titles(&t.alice.get(&format!("/api/teams/{}/documents", t.id)).await.1), ["Plan"]);
}

#[tokio::test]
async fn renames_are_validated_and_limited_to_the_team_and_its_writers() {
    let t = TwoMemberTeam::start().await;
    let doc = registered(&t.alice, &t.id, 6, "Keep").await;
    let path = format!("/api/teams/{}/documents/{doc}", t.id);
    for bad in [
        json!({ "title": "" }),
        json!({ "title": "   " }),
        json!({ "title": "a\nb" }),
        json!({ "title": "x".repeat(201) }),
    ] {
        let (status, error) = t.alice.patch(&path, &bad).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"]["title"].is_string(), "{error}");
    }
    let (status, error) = t.alice.patch(&path, &json!({ "title": "x", "extra": 1 })).await;
    assert!(status.is_client_error(), "unknown fields are refused: {status} {error}");
    // Not a document URL, or a document of no team (or of another one): nothing there.
    let (status, error) = t.alice.patch(&format!("/api/teams/{}/documents/nope", t.id), &json!({ "title": "x" })).await;
    assert!(status.is_client_error() && status != StatusCode::OK, "{status} {error}");
    let (status, error) =
        t.alice.patch(&format!("/api/teams/{}/documents/{}", t.id, document_url(99)), &json!({ "title": "x" })).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let other = t.alice.create_team("Other").await;
    let (status, error) = t.alice.patch(&format!("/api/teams/{other}/documents/{doc}"), &json!({ "title": "x" })).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    // Outsiders see no team; viewers may not write; nobody signed in gets 401.
    let mallory = t.relay.user("mallory").await;
    let (status, error) = mallory.patch(&path, &json!({ "title": "Mine" })).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let viewer = t.relay.user("vera").await;
    t.alice.add_member(&t.id, "vera@example.test", "viewer").await;
    let (status, error) = viewer.patch(&path, &json!({ "title": "Mine" })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    let (status, error) = t.alice.with_token(None).patch(&path, &json!({ "title": "Mine" })).await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(titles(&t.alice.get(&format!("/api/teams/{}/documents", t.id)).await.1), ["Keep"], "nothing renamed");
}

#[tokio::test]
async fn a_deleted_document_leaves_lists_and_sync_until_restored() {
    let t = TwoMemberTeam::start().await;
    let mut alice_sync = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, handle) = alice_sync.create_text("the plan").await.expect("create");
    let doc = url.to_string();
    let (status, body) =
        t.alice.post(&format!("/api/teams/{}/documents", t.id), &json!({ "document_id": doc, "title": "Plan" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    alice_sync.reconnect().await.expect("reconnect");
    assert!(
        within("the relay to acknowledge the document", alice_sync.synced_with_relay(&handle)).await,
        "the relay has the document"
    );
    let mut room = RoomSocket::connect(&t.relay.url(""), t.bob.token.as_deref().expect("token")).await;
    room.join(&t.id).await;

    let path = format!("/api/teams/{}/documents/{doc}", t.id);
    let (status, body) = t.alice.delete(&path).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let frame = room.next_of("document_deleted").await;
    assert_eq!((frame["team_id"].as_str(), frame["document_id"].as_str()), (Some(t.id.as_str()), Some(doc.as_str())));
    assert_eq!(t.bob.get(&format!("/api/teams/{}/documents", t.id)).await.1, json!([]), "gone from the list");
    let bob_sync = sync_client(&t.relay, &t.bob, "desktop").await;
    assert!(bob_sync.open(&url).await.expect("lookup").is_none(), "no sync of a deleted document");
    // Renaming it answers the stable `gone` code; deleting it again changes nothing.
    let (status, error) = t.bob.patch(&path, &json!({ "title": "Zombie" })).await;
    assert_error(status, &error, StatusCode::GONE, "gone");
    assert_eq!(t.alice.delete(&path).await.0, StatusCode::NO_CONTENT);
    // Its id stays taken while it can come back.
    let (status, error) =
        t.bob.post(&format!("/api/teams/{}/documents", t.id), &json!({ "document_id": doc, "title": "Again" })).await;
    assert_error(status, &error, StatusCode::CONFLICT, "conflict");

    // Undo: back in the list, announced, and synced with its content.
    let (status, entry) = t.alice.post(&format!("{path}/restore"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{entry}");
    assert_eq!(entry["title"], "Plan");
    assert_eq!(room.next_of("document_updated").await["document"], entry);
    assert_eq!(titles(&t.bob.get(&format!("/api/teams/{}/documents", t.id)).await.1), ["Plan"]);
    let bob_again = sync_client(&t.relay, &t.bob, "desktop-2").await;
    let found = bob_again.open(&url).await.expect("lookup").expect("restored documents sync again");
    assert_eq!(text_when(&found, |t| t == "the plan").await, "the plan");
    splice_text(&found, 0, 0, "Still ").expect("edit");
    text_when(&handle, |t| t == "Still the plan").await;
}

#[tokio::test]
async fn only_admins_owners_and_the_creator_delete_or_restore() {
    let t = TwoMemberTeam::start().await;
    let carol = t.relay.user("carol").await;
    t.alice.add_member(&t.id, "carol@example.test", "admin").await;
    let viewer = t.relay.user("vera").await;
    t.alice.add_member(&t.id, "vera@example.test", "viewer").await;
    let alices = registered(&t.alice, &t.id, 10, "Alice's").await;
    let bobs = registered(&t.bob, &t.id, 11, "Bob's").await;
    let path = |doc: &str| format!("/api/teams/{}/documents/{doc}", t.id);

    // Bob, a member, may not delete alice's document, but may delete (and restore) his own.
    let (status, error) = t.bob.delete(&path(&alices)).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    let (status, error) = viewer.delete(&path(&bobs)).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(t.bob.delete(&path(&bobs)).await.0, StatusCode::NO_CONTENT);
    // Restoring takes the same rights.
    let (status, error) = viewer.post(&format!("{}/restore", path(&bobs)), &json!({})).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(t.bob.post(&format!("{}/restore", path(&bobs)), &json!({})).await.0, StatusCode::OK);
    // An admin may delete anyone's; an outsider finds nothing, and another team's path has no such document.
    assert_eq!(carol.delete(&path(&bobs)).await.0, StatusCode::NO_CONTENT);
    let mallory = t.relay.user("mallory").await;
    let (status, error) = mallory.delete(&path(&alices)).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let elsewhere = mallory.create_team("Elsewhere").await;
    let (status, error) = mallory.delete(&format!("/api/teams/{elsewhere}/documents/{alices}")).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) = mallory.post(&format!("/api/teams/{elsewhere}/documents/{bobs}/restore"), &json!({})).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(titles(&t.alice.get(&format!("/api/teams/{}/documents", t.id)).await.1), ["Alice's"]);
}

/// Deleted documents can be found again to restore: each person sees those they may restore (admins all,
/// members their own, viewers none), newest deletion first, with who deleted them and until when; a
/// restored one leaves the list, and a purged one is not in it.
#[tokio::test]
async fn deleted_documents_are_listed_for_those_who_may_restore_them() {
    let t = TwoMemberTeam::start().await;
    let vera = t.relay.user("vera").await;
    t.alice.add_member(&t.id, "vera@example.test", "member").await;
    let alices = registered(&t.alice, &t.id, 20, "Alice's").await;
    let bobs = registered(&t.bob, &t.id, 21, "Bob's").await;
    let veras = registered(&vera, &t.id, 23, "Vera's").await;
    registered(&t.alice, &t.id, 22, "Still here").await;
    let path = |doc: &str| format!("/api/teams/{}/documents/{doc}", t.id);
    let deleted = format!("/api/teams/{}/documents/deleted", t.id);
    assert_eq!(vera.delete(&path(&veras)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(t.bob.delete(&path(&bobs)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(t.alice.delete(&path(&alices)).await.0, StatusCode::NO_CONTENT);
    // Deletions a minute apart, in this order (three requests can share a millisecond).
    let db = t.relay.db().await;
    for (doc, minutes_ago) in [(&veras, 3_i64), (&bobs, 2), (&alices, 1)] {
        age_deletion(&db, doc, minutes_ago * 60_000).await;
    }
    // Vera, demoted to viewer, may no longer restore even the one she made.
    let vera_id = vera.user_id().await;
    let (status, body) =
        t.alice.patch(&format!("/api/teams/{}/members/{vera_id}", t.id), &json!({ "role": "viewer" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let listed = |page: &Value| -> Vec<String> {
        page.as_array()
            .expect("list")
            .iter()
            .map(|d| d["document"]["title"].as_str().expect("title").to_owned())
            .collect()
    };
    let (status, page) = t.alice.get(&deleted).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(listed(&page), ["Alice's", "Bob's", "Vera's"], "the admin sees all, newest deletion first");
    assert_eq!(page[1]["deleted_by"], t.bob.user_id().await);
    let (at, until) =
        (page[0]["deleted_at"].as_str().expect("at"), page[0]["restorable_until"].as_str().expect("until"));
    let days = (time::OffsetDateTime::parse(until, &time::format_description::well_known::Rfc3339).expect("until")
        - time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).expect("at"))
    .whole_days();
    assert_eq!(days, 30);
    assert_eq!(listed(&t.bob.get(&deleted).await.1), ["Bob's"], "a member, their own");
    assert!(listed(&vera.get(&deleted).await.1).is_empty(), "a viewer restores nothing, not even her own");
    let outsider = t.relay.user("mallory").await;
    let (status, error) = outsider.get(&deleted).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");

    assert_eq!(t.bob.post(&format!("{}/restore", path(&bobs)), &json!({})).await.0, StatusCode::OK);
    assert_eq!(listed(&t.alice.get(&deleted).await.1), ["Alice's", "Vera's"]);
    age_deletion(&db, &alices, past_the_window()).await;
    // Past the window, before the purge runs: no longer offered; then purged.
    assert_eq!(listed(&t.alice.get(&deleted).await.1), ["Vera's"], "past its 30 days");
    teamflow_relay::documents::purge_deleted(&db, teamflow_relay::documents::KEPT_AFTER_DELETE).await.expect("purge");
    assert_eq!(listed(&t.alice.get(&deleted).await.1), ["Vera's"], "purged, no longer restorable");
    assert_eq!(titles(&t.alice.get(&format!("/api/teams/{}/documents", t.id)).await.1), ["Bob's", "Still here"]);
}

#[tokio::test]
async fn a_purged_document_cannot_be_restored_and_its_id_stays_buried() {
    let t = TwoMemberTeam::start().await;
    let doc = registered(&t.alice, &t.id, 12, "Old").await;
    let kept = registered(&t.alice, &t.id, 13, "Recent").await;
    let path = |doc: &str| format!("/api/teams/{}/documents/{doc}", t.id);
    assert_eq!(t.alice.delete(&path(&doc)).await.0, StatusCode::NO_CONTENT);
    assert_eq!(t.alice.delete(&path(&kept)).await.0, StatusCode::NO_CONTENT);
    let db = t.relay.db().await;
    // Only the deletion older than the window is purged: age one of them by hand.
    age_deletion(&db, &doc, past_the_window()).await;
    let purged = teamflow_relay::documents::purge_deleted(&db, teamflow_relay::documents::KEPT_AFTER_DELETE)
        .await
        .expect("purge");
    assert_eq!(purged, 1);

    let (status, error) = t.alice.post(&format!("{}/restore", path(&doc)), &json!({})).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) =
        t.alice.post(&format!("/api/teams/{}/documents", t.id), &json!({ "document_id": doc, "title": "Back" })).await;
    assert_error(status, &error, StatusCode::CONFLICT, "conflict");
    assert_eq!(t.alice.post(&format!("{}/restore", path(&kept)), &json!({})).await.0, StatusCode::OK);
    assert_eq!(titles(&t.alice.get(&format!("/api/teams/{}/documents", t.id)).await.1), ["Recent"]);
}

#[tokio::test]
async fn nodes_rename_delete_and_restore_through_the_relay() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = teamflow_tests::alice_and_bob(&relay).await;
    let (url, _handle) = alice.create_document(team, "Draft", "launch checklist").await.expect("create");
    let titles = async |node: &teamflow_node::Node| -> Vec<String> {
        node.documents(team).await.expect("documents").into_iter().map(|d| d.title).collect()
    };
    let found = async |node: &teamflow_node::Node, query: &str| -> usize {
        node.search(query, 10).await.expect("search").len()
    };
    assert_eq!(titles(&bob).await, ["Draft"]);

    let entry = alice.rename_document(team, &url, "  Launch plan ").await.expect("rename");
    assert_eq!(entry.title, "Launch plan");
    assert_eq!(titles(&bob).await, ["Launch plan"], "bob's next read has the new title");
    assert_eq!(found(&alice, "Launch plan").await, 1, "the new title is searchable");
    let refused = alice.rename_document(team, &url, "").await.expect_err("an empty title");
    assert!(
        matches!(&refused, teamflow_node::NodeError::Api(teamflow_node::ApiFailure::Refused { code, .. }) if code == "validation_failed"),
        "{refused}"
    );

    alice.delete_document(team, &url).await.expect("delete");
    assert!(titles(&bob).await.is_empty(), "gone from bob's list");
    assert!(titles(&alice).await.is_empty(), "gone from alice's list");
    assert_eq!(found(&alice, "Launch plan").await, 0, "and from alice's search");
    let refused = bob.rename_document(team, &url, "Zombie").await.expect_err("renaming a deleted document");
    assert!(
        matches!(&refused, teamflow_node::NodeError::Api(teamflow_node::ApiFailure::Refused { code, .. }) if code == "gone"),
        "{refused}"
    );

    // Found again among the deleted ones by whoever may restore it (alice, its creator; not bob, a member).
    let deleted = alice.deleted_documents(team).await.expect("deleted documents");
    assert_eq!(
        deleted.iter().map(|d| (d.document.document_id.clone(), d.document.title.as_str())).collect::<Vec<_>>(),
        [(url.clone(), "Launch plan")]
    );
    assert!(bob.deleted_documents(team).await.expect("bob's").is_empty());
    alice.restore_document(team, &url).await.expect("restore");
    assert_eq!(titles(&bob).await, ["Launch plan"]);
    assert_eq!(found(&alice, "Launch plan").await, 1, "searchable again");
    assert!(alice.deleted_documents(team).await.expect("deleted documents").is_empty());
}

/// Moves a document's deletion `ms` into the past, straight in the relay's database.
async fn age_deletion(db: &teamflow_relay::db::Db, document: &str, ms: i64) {
    sqlx::query("UPDATE documents SET deleted_at = deleted_at - $1 WHERE id = $2")
        .bind(ms)
        .bind(document)
        .execute(db.pool())
        .await
        .expect("age the deletion");
}

/// Just more than the relay keeps a deleted document restorable, in milliseconds.
fn past_the_window() -> i64 {
    i64::try_from(teamflow_relay::documents::KEPT_AFTER_DELETE.as_millis()).expect("ms") + 1
}
