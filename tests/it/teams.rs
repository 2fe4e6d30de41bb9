//! Teams and members: ownership, role rules, the last owner, and what non-members can learn.

use reqwest::StatusCode;
use serde_json::json;
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{TestRelay, TwoMemberTeam, assert_error};

#[tokio::test]
async fn a_team_is_created_listed_renamed_and_deleted() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let team = alice.create_team("  Platform  ").await;

    let (status, teams) = alice.get("/api/teams").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(teams.as_array().map(Vec::len), Some(1));
    assert_eq!(teams[0]["name"], "Platform", "names are trimmed");
    assert_eq!(teams[0]["role"], "owner");
    assert_eq!(teams[0]["member_count"], 1);

    let (status, renamed) = alice.put(&format!("/api/teams/{team}"), &json!({ "name": "Core" })).await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["name"], "Core");
    assert_eq!(alice.get(&format!("/api/teams/{team}")).await.1["name"], "Core");

    let (status, _) = alice.delete(&format!("/api/teams/{team}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = alice.get(&format!("/api/teams/{team}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(alice.get("/api/teams").await.1, json!([]));
}

#[tokio::test]
async fn outsiders_cannot_tell_a_team_exists() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let mallory = relay.user("mallory").await;
    let team = alice.create_team("Secret").await;
    let missing = uuid::Uuid::now_v7();
    for path in
        [format!("/api/teams/{team}"), format!("/api/teams/{team}/members"), format!("/api/teams/{team}/projects")]
    {
        let (status, body) = mallory.get(&path).await;
        let (missing_status, missing_body) = mallory.get(&path.replace(&team, &missing.to_string())).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        assert_eq!((status, body), (missing_status, missing_body), "{path}: a real team looks like a missing one");
    }
}

#[tokio::test]
async fn owners_and_admins_manage_members_within_their_own_rank() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let admin = relay.user("admin").await;
    let member = relay.user("member").await;
    let viewer = relay.user("viewer").await;
    let team = owner.create_team("T").await;
    let members = format!("/api/teams/{team}/members");

    owner.add_member(&team, "admin@example.test", "admin").await;
    // Admins add, but never above themselves.
    admin.add_member(&team, "member@example.test", "member").await;
    let (status, body) = admin.post(&members, &json!({ "email": "viewer@example.test", "role": "owner" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    // Members do not manage members.
    let (status, body) = member.post(&members, &json!({ "email": "viewer@example.test", "role": "viewer" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    admin.add_member(&team, "viewer@example.test", "viewer").await;

    // Adding twice, or someone with no account.
    let (status, body) = admin.post(&members, &json!({ "email": "viewer@example.test", "role": "viewer" })).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = admin.post(&members, &json!({ "email": "ghost@example.test", "role": "viewer" })).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = admin.post(&members, &json!({ "email": "viewer@example.test", "role": "emperor" })).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    let (status, list) = viewer.get(&members).await;
    assert_eq!(status, StatusCode::OK);
    let roles: Vec<(&str, &str)> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|m| (m["display_name"].as_str().expect("name"), m["role"].as_str().expect("role")))
        .collect();
    assert_eq!(roles, [("owner", "owner"), ("admin", "admin"), ("member", "member"), ("viewer", "viewer")]);

    // Nobody raises their own role; an admin cannot touch an owner; a member cannot change others.
    let viewer_id = viewer.user_id().await;
    let owner_id = owner.user_id().await;
    let (status, body) = viewer.patch(&format!("{members}/{viewer_id}"), &json!({ "role": "member" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = admin.patch(&format!("{members}/{owner_id}"), &json!({ "role": "viewer" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = member.delete(&format!("{members}/{viewer_id}")).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // An admin promotes the viewer to member, then removes them.
    let (status, body) = admin.patch(&format!("{members}/{viewer_id}"), &json!({ "role": "member" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "member");
    assert_eq!(admin.delete(&format!("{members}/{viewer_id}")).await.0, StatusCode::NO_CONTENT);
    let (status, body) = viewer.get(&format!("/api/teams/{team}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_last_owner_can_neither_leave_nor_be_demoted_but_members_may_leave() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let member = relay.user("member").await;
    let team = owner.create_team("T").await;
    owner.add_member(&team, "member@example.test", "member").await;
    let owner_id = owner.user_id().await;
    let member_id = member.user_id().await;
    let members = format!("/api/teams/{team}/members");

    let (status, body) = owner.delete(&format!("{members}/{owner_id}")).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = owner.patch(&format!("{members}/{owner_id}"), &json!({ "role": "admin" })).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");

    // With a second owner, the first may step down.
    let (status, _) = owner.patch(&format!("{members}/{member_id}"), &json!({ "role": "owner" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = owner.patch(&format!("{members}/{owner_id}"), &json!({ "role": "member" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // And a plain member leaves.
    assert_eq!(owner.delete(&format!("{members}/{owner_id}")).await.0, StatusCode::NO_CONTENT);
    assert_eq!(member.get(&members).await.1.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let relay = TestRelay::start().await;
    let a = relay.user("a").await;
    let b = relay.user("b").await;
    let team = a.create_team("T").await;
    a.add_member(&team, "b@example.test", "owner").await;
    let (a_id, b_id) = (a.user_id().await, b.user_id().await);
    let members = format!("/api/teams/{team}/members");
    // Each demotes themselves; only one may succeed.
    let (a_path, b_path, demote) =
        (format!("{members}/{a_id}"), format!("{members}/{b_id}"), json!({ "role": "admin" }));
    let (ra, rb) = tokio::join!(a.patch(&a_path, &demote), b.patch(&b_path, &demote));
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let (_, list) = a.get(&members).await;
    let owners = list.as_array().expect("array").iter().filter(|m| m["role"] == "owner").count();
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn only_owners_delete_and_only_managers_rename_or_configure() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let admin = relay.user("admin").await;
    let member = relay.user("member").await;
    let team = owner.create_team("T").await;
    owner.add_member(&team, "admin@example.test", "admin").await;
    owner.add_member(&team, "member@example.test", "member").await;

    let (status, body) = admin.delete(&format!("/api/teams/{team}")).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = member.put(&format!("/api/teams/{team}"), &json!({ "name": "Mine" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");

    let settings = format!("/api/teams/{team}/settings");
    let (status, current) = member.get(&settings).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(current["default_project_status"], "active");
    let new = json!({
        "description": "  We build the thing.  ",
        "default_project_status": "planned",
        "members_can_create_projects": false,
        "webhook_payload_retention_days": 7,
    });
    let (status, body) = member.put(&settings, &new).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, saved) = admin.put(&settings, &new).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["description"], "We build the thing.");
    assert_eq!(member.get(&settings).await.1, saved);

    let mut bad = new.clone();
    bad["webhook_payload_retention_days"] = json!(0);
    bad["description"] = json!("x".repeat(501));
    let (status, body) = admin.put(&settings, &bad).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(body["error"]["details"]["webhook_payload_retention_days"].is_string());
    assert!(body["error"]["details"]["description"].is_string());
    let mut missing = new.clone();
    missing.as_object_mut().expect("object").remove("description");
    let (status, body) = admin.put(&settings, &missing).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert_eq!(admin.get(&settings).await.1, saved, "a refused update changes nothing");
}

#[tokio::test]
async fn a_rename_reaches_every_member_in_the_teams_room_and_a_refused_one_nothing() {
    let t = TwoMemberTeam::start().await;
    let mut bobs_room = RoomSocket::connect(&t.relay.url(""), t.bob.token.as_deref().expect("bob")).await;
    bobs_room.join(&t.id).await;

    // A member may not rename: refused, and the room hears nothing of it.
    let (status, body) = t.bob.put(&format!("/api/teams/{}", t.id), &json!({ "name": "Bob's" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = t.alice.put(&format!("/api/teams/{}", t.id), &json!({ "name": "  Core  " })).await;
    assert_eq!(status, StatusCode::OK);
    let renamed = bobs_room.next_of("team_renamed").await;
    assert_eq!(renamed, json!({ "type": "team_renamed", "team_id": t.id, "name": "Core" }));
}
