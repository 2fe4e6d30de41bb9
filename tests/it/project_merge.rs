//! Projects that merge: edits of different fields from two devices offline both stay, concurrent edits of one
//! field end the same whichever arrives first with the loser in the history, PUT and PATCH keep what they do
//! not name, tasks made offline reach the other device live, replays apply once, and bad input is refused
//! with a clear code and nothing written.

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_node::{Node, OutboxKind};
use teamflow_protocol::api::projects::{ChangeOutcome, HistoryField, ProjectPatch, TaskInput, TaskPatch};
use teamflow_protocol::api::teams::ProjectStatus;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{ProjectId, TeamId};
use teamflow_tests::{TestRelay, alice_and_bob, assert_error, document_url};

use crate::node::frame_until;

/// A project made by `alice`, seen (and so cached, with its versions) by both devices.
async fn shared_project(alice: &Node, bob: &Node, team: TeamId, name: &str) -> ProjectId {
    alice.create_project(team, teamflow_tests::project_input(name)).await.expect("create");
    let id = alice.projects(team).await.expect("projects").iter().find(|p| p.name == name).expect("made").id;
    assert!(bob.projects(team).await.expect("bob reads").iter().any(|p| p.id == id));
    id
}

#[tokio::test]
async fn two_devices_offline_editing_different_fields_both_keep_their_change() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let project = shared_project(&alice, &bob, team, "Launch").await;
    let bob_id = bob.user().await.expect("bob").id;

    let addr = relay.addr;
    let dir = relay.stop().await;
    let rename = ProjectPatch { name: Some("Launch v2".into()), ..ProjectPatch::default() };
    alice.patch_project(team, project, rename).await.expect("queued offline");
    let plan = ProjectPatch {
        owner_id: Some(Some(bob_id)),
        due_date: Some(Some("2027-03-31".into())),
        status: Some(ProjectStatus::Paused),
        ..ProjectPatch::default()
    };
    bob.patch_project(team, project, plan).await.expect("queued offline");
    // Each device shows its own edit while offline.
    let shown = |list: Vec<teamflow_protocol::api::teams::Project>| list.into_iter().find(|p| p.id == project);
    assert_eq!(shown(alice.projects(team).await.expect("cached")).expect("project").name, "Launch v2");
    let bobs = shown(bob.projects(team).await.expect("cached")).expect("project");
    assert_eq!((bobs.name.as_str(), bobs.owner_id), ("Launch", Some(bob_id)));

    let _relay = TestRelay::start_again(dir, addr).await;
    assert_eq!(bob.flush().await.expect("flush").delivered, 1);
    assert_eq!(alice.flush().await.expect("flush").delivered, 1);
    for device in [&alice, &bob] {
        let merged = shown(device.projects(team).await.expect("projects")).expect("project");
        assert_eq!(merged.name, "Launch v2", "alice's rename stays");
        assert_eq!(merged.owner_id, Some(bob_id), "bob's owner stays");
        assert_eq!(merged.due_date.map(|d| d.to_string()), Some("2027-03-31".into()));
        assert_eq!(merged.status, ProjectStatus::Paused);
        assert_eq!((merged.versions.name, merged.versions.owner_id, merged.versions.description), (1, 1, 0));
    }
    let history = alice.project_history(team, project).await.expect("history");
    assert_eq!(history.len(), 4, "{history:?}");
    assert!(history.iter().all(|c| c.outcome == ChangeOutcome::Applied), "nothing conflicted: {history:?}");
    assert_eq!(history[0].field, HistoryField::Name, "newest first: alice's edit arrived last");
}

#[tokio::test]
async fn two_devices_offline_editing_the_same_field_agree_on_one_and_keep_the_other_in_history() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let project = shared_project(&alice, &bob, team, "Launch").await;

    let addr = relay.addr;
    let dir = relay.stop().await;
    alice
        .patch_project(team, project, ProjectPatch { name: Some("Alpha".into()), ..Default::default() })
        .await
        .expect("q");
    bob.patch_project(team, project, ProjectPatch { name: Some("Beta".into()), ..Default::default() })
        .await
        .expect("q");

    let _relay = TestRelay::start_again(dir, addr).await;
    alice.flush().await.expect("flush");
    bob.flush().await.expect("flush");
    let name_on = |list: Vec<teamflow_protocol::api::teams::Project>| {
        list.into_iter().find(|p| p.id == project).expect("project").name
    };
    let winner = name_on(alice.projects(team).await.expect("projects"));
    assert_eq!(winner, name_on(bob.projects(team).await.expect("projects")), "both devices agree");
    assert!(winner == "Alpha" || winner == "Beta", "{winner}");
    let loser = if winner == "Alpha" { "Beta" } else { "Alpha" };

    // Whichever value did not win is in the history, as overwritten (it came first) or lost (it came later).
    let history = bob.project_history(team, project).await.expect("history");
    assert_eq!(history.len(), 2, "{history:?}");
    let conflict = &history[0];
    assert_eq!(conflict.field, HistoryField::Name);
    match conflict.outcome {
        ChangeOutcome::Overwrote => {
            assert_eq!(conflict.old_value.as_deref(), Some(loser));
            assert_eq!(conflict.new_value.as_deref(), Some(winner.as_str()));
        }
        ChangeOutcome::Lost => {
            assert_eq!(conflict.new_value.as_deref(), Some(loser));
            assert_eq!(conflict.old_value.as_deref(), Some(winner.as_str()));
        }
        ChangeOutcome::Applied => panic!("the second edit was concurrent: {history:?}"),
    }
    assert_eq!(history[1].outcome, ChangeOutcome::Applied);
}

/// Two concurrent edits of one field (the same base, explicit times) in both arrival orders, on two projects.
#[tokio::test]
async fn concurrent_edits_of_one_field_end_the_same_whichever_arrives_first() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let team = alice.create_team("T").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    let projects = format!("/api/teams/{team}/projects");
    let early = |name: &str| json!({ "name": name, "base": versions(0), "edited_at": "2026-12-01T10:00:00Z" });
    let late = |name: &str| json!({ "name": name, "base": versions(0), "edited_at": "2026-12-01T10:05:00Z" });
    let mut outcomes = Vec::new();
    for late_first in [true, false] {
        let (_, created) = alice.post(&projects, &json!({ "name": "Start" })).await;
        let path = format!("{projects}/{}", created["id"].as_str().expect("id"));
        let (a, b) = if late_first {
            (alice.patch(&path, &late("Late")).await, bob.patch(&path, &early("Early")).await)
        } else {
            (bob.patch(&path, &early("Early")).await, alice.patch(&path, &late("Late")).await)
        };
        assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "{a:?} {b:?}");
        assert_eq!(b.1["name"], "Late", "the later edit wins in either order");
        assert_eq!(b.1["versions"]["name"], if late_first { 1 } else { 2 });
        let (_, history) = alice.get(&format!("{path}/history")).await;
        let entry = &history[0];
        assert_eq!(entry["field"], "name");
        outcomes.push((entry["outcome"].clone(), entry["old_value"].clone(), entry["new_value"].clone()));
    }
    assert_eq!(outcomes[0], (json!("lost"), json!("Late"), json!("Early")), "the early edit, arriving late, lost");
    assert_eq!(outcomes[1], (json!("overwrote"), json!("Early"), json!("Late")), "the early value was overwritten");
}

fn versions(v: i64) -> Value {
    json!({ "name": v, "description": v, "status": v, "document_id": v, "owner_id": v, "due_date": v })
}

#[tokio::test]
async fn put_and_patch_change_only_what_they_name() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let team = alice.create_team("T").await;
    let projects = format!("/api/teams/{team}/projects");
    let doc = document_url(3);
    alice.post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": doc, "title": "Spec" })).await;
    let me = alice.user_id().await;
    let (status, created) = alice
        .post(
            &projects,
            &json!({ "name": "P", "description": "D", "document_id": doc, "owner_id": me, "due_date": "2027-01-15" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["owner_id"].as_str(), created["due_date"].as_str()), (Some(me.as_str()), Some("2027-01-15")));
    let path = format!("{projects}/{}", created["id"].as_str().expect("id"));

    let (status, put) = alice.put(&path, &json!({ "name": "Renamed" })).await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["document_id"], doc, "a PUT that omits document_id keeps the link");
    assert_eq!((put["description"].as_str(), put["due_date"].as_str()), (Some("D"), Some("2027-01-15")));

    let (_, patched) = alice.patch(&path, &json!({ "status": "completed", "due_date": null })).await;
    assert_eq!((patched["status"].as_str(), patched["due_date"].clone()), (Some("completed"), Value::Null));
    assert_eq!((patched["name"].as_str(), patched["document_id"].as_str()), (Some("Renamed"), Some(doc.as_str())));
    let (_, unlinked) = alice.patch(&path, &json!({ "document_id": null, "owner_id": null })).await;
    assert_eq!((unlinked["document_id"].clone(), unlinked["owner_id"].clone()), (Value::Null, Value::Null));
    assert_eq!(
        unlinked["versions"],
        json!({ "name": 1, "description": 0, "status": 1, "document_id": 1, "owner_id": 1, "due_date": 1 })
    );

    // Setting a field to the value it has changes nothing and records nothing.
    let (_, history) = alice.get(&format!("{path}/history")).await;
    let before = history.as_array().map(Vec::len);
    let (_, same) = alice.patch(&path, &json!({ "name": "Renamed" })).await;
    assert_eq!(same["versions"]["name"], 1);
    assert_eq!(alice.get(&format!("{path}/history")).await.1.as_array().map(Vec::len), before);
}

#[tokio::test]
async fn an_edit_replayed_with_its_client_id_applies_once() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let team = alice.create_team("T").await;
    let (_, created) = alice.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "P" })).await;
    let path = format!("/api/teams/{team}/projects/{}", created["id"].as_str().expect("id"));
    let edit = json!({ "name": "Once", "client_id": "edit-1", "base": versions(0) });
    let (_, first) = alice.patch(&path, &edit).await;
    alice.patch(&path, &json!({ "name": "Later" })).await;
    let (status, again) = alice.patch(&path, &edit).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["name"], "Once");
    assert_eq!(again["name"], "Later", "the replay changed nothing");
    let (_, history) = alice.get(&format!("{path}/history")).await;
    assert_eq!(history.as_array().map(Vec::len), Some(2), "{history}");

    let tasks = format!("{path}/tasks");
    let task = json!({ "id": "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "title": "Write" });
    assert_eq!(alice.post(&tasks, &task).await.0, StatusCode::CREATED);
    let (status, same) = alice.post(&tasks, &task).await;
    assert_eq!((status, same["title"].as_str()), (StatusCode::OK, Some("Write")), "a create retried");
    assert_eq!(alice.get(&tasks).await.1.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_devices_own_offline_edits_follow_each_other() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let project = shared_project(&alice, &bob, team, "Draft").await;
    let addr = relay.addr;
    let dir = relay.stop().await;
    for name in ["Draft 2", "Draft 3"] {
        alice
            .patch_project(team, project, ProjectPatch { name: Some(name.into()), ..Default::default() })
            .await
            .expect("q");
    }
    let _relay = TestRelay::start_again(dir, addr).await;
    assert_eq!(alice.flush().await.expect("flush").delivered, 2);
    let history = bob.project_history(team, project).await.expect("history");
    let names: Vec<_> = history.iter().map(|c| (c.new_value.as_deref(), c.outcome)).collect();
    assert_eq!(names, [(Some("Draft 3"), ChangeOutcome::Applied), (Some("Draft 2"), ChangeOutcome::Applied)]);
}

#[tokio::test]
async fn tasks_made_offline_reach_the_other_device_live_and_merge_per_field() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let project = shared_project(&alice, &bob, team, "Launch").await;
    let bob_id = bob.user().await.expect("bob").id;
    let (kept, _) = alice
        .create_task(team, project, TaskInput { id: None, title: "Kept".into(), done: false, assignee_id: None })
        .await
        .expect("online task");
    assert_eq!(bob.tasks(team, project).await.expect("bob reads").len(), 1);
    let mut room = bob.subscribe(team).await.expect("subscribe");
    frame_until(&mut room, "the team state", |f| matches!(f, ServerMessage::TeamState { .. })).await;

    let addr = relay.addr;
    let dir = relay.stop().await;
    let input = TaskInput { id: None, title: "Written offline".into(), done: false, assignee_id: None };
    let (task, entry) = alice.create_task(team, project, input).await.expect("queued");
    assert_eq!(entry.kind, OutboxKind::TaskCreate);
    let done = TaskPatch { done: Some(true), assignee_id: Some(Some(bob_id)), ..Default::default() };
    alice.patch_task(team, project, task, done).await.expect("queued");
    alice
        .patch_task(
            team,
            project,
            task,
            TaskPatch { title: Some("Written offline, renamed".into()), ..Default::default() },
        )
        .await
        .expect("queued");
    alice
        .patch_task(team, project, kept, TaskPatch { title: Some("Alice's title".into()), ..Default::default() })
        .await
        .expect("queued");
    let offline = alice.tasks(team, project).await.expect("offline tasks");
    let made = offline.iter().find(|t| t.id == task).expect("shown while offline");
    assert_eq!((made.title.as_str(), made.done, made.assignee_id), ("Written offline, renamed", true, Some(bob_id)));
    assert_eq!(alice.outbox().await.expect("outbox").len(), 4);

    let _relay = TestRelay::start_again(dir, addr).await;
    frame_until(&mut room, "the team state after the restart", |f| matches!(f, ServerMessage::TeamState { .. })).await;
    // Meanwhile bob, online, marks the kept task done: a different field from alice's rename.
    bob.patch_task(team, project, kept, TaskPatch { done: Some(true), ..Default::default() }).await.expect("bob");
    assert_eq!(alice.flush().await.expect("flush").delivered, 4);
    assert_eq!(alice.flush().await.expect("again").delivered, 0, "nothing left to send twice");
    let live = frame_until(&mut room, "alice's task, renamed", |f| {
        matches!(f, ServerMessage::TaskUpdated { task: t } if t.id == task && t.title == "Written offline, renamed")
    })
    .await;
    let ServerMessage::TaskUpdated { task: live } = live else { unreachable!("matched above") };
    assert!(live.done && live.assignee_id == Some(bob_id), "{live:?}");

    let tasks = bob.tasks(team, project).await.expect("tasks");
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    let merged = tasks.iter().find(|t| t.id == kept).expect("kept");
    assert_eq!((merged.title.as_str(), merged.done), ("Alice's title", true), "both fields kept");
    let history = bob.project_history(team, project).await.expect("history");
    assert!(history.iter().all(|c| c.outcome == ChangeOutcome::Applied), "{history:?}");
    assert!(history.iter().any(|c| c.field == HistoryField::TaskCreated && c.task_id == Some(task)));
}

#[tokio::test]
async fn an_offline_edit_of_a_task_deleted_meanwhile_is_kept_in_history_not_failed() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let project = shared_project(&alice, &bob, team, "Launch").await;
    let (task, _) = alice
        .create_task(team, project, TaskInput { id: None, title: "Doomed".into(), done: false, assignee_id: None })
        .await
        .expect("task");
    assert_eq!(bob.tasks(team, project).await.expect("bob reads").len(), 1);
    let addr = relay.addr;
    let dir = relay.stop().await;
    alice.patch_task(team, project, task, TaskPatch { done: Some(true), ..Default::default() }).await.expect("queued");
    let _relay = TestRelay::start_again(dir, addr).await;
    bob.delete_task(team, project, task).await.expect("bob deletes");
    assert!(bob.outbox().await.expect("outbox").is_empty(), "delivered at once");
    let report = alice.flush().await.expect("flush");
    assert_eq!((report.delivered, report.failed), (1, 0));
    assert!(alice.tasks(team, project).await.expect("tasks").is_empty());
    let history = alice.project_history(team, project).await.expect("history");
    let lost = &history[0];
    assert_eq!(
        (lost.field, lost.outcome, lost.new_value.as_deref()),
        (HistoryField::TaskDone, ChangeOutcome::Lost, Some("true"))
    );
    assert_eq!(history[1].field, HistoryField::TaskDeleted);
}

#[tokio::test]
async fn bad_project_and_task_input_is_refused_with_a_clear_code_and_nothing_written() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let viewer = relay.user("viewer").await;
    let outsider = relay.user("outsider").await;
    let team = owner.create_team("T").await;
    owner.add_member(&team, "viewer@example.test", "viewer").await;
    let other_team = outsider.create_team("Other").await;
    let (_, created) = owner.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "P" })).await;
    let id = created["id"].as_str().expect("id");
    let path = format!("/api/teams/{team}/projects/{id}");
    let tasks = format!("{path}/tasks");
    let (_, task) = owner.post(&tasks, &json!({ "title": "T" })).await;
    let task_path = format!("{tasks}/{}", task["id"].as_str().expect("task id"));
    let outsider_id = outsider.user_id().await;

    for (body, field) in [
        (json!({ "owner_id": outsider_id }), "owner_id"),
        (json!({ "due_date": "2027-02-30" }), "due_date"),
        (json!({ "due_date": "next week" }), "due_date"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": "ok", "client_id": "no spaces" }), "client_id"),
    ] {
        let (status, error) = owner.patch(&path, &body).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"][field].is_string(), "{field}: {error}");
    }
    for (body, field) in [
        (json!({ "title": "x".repeat(501) }), "title"),
        (json!({ "title": "" }), "title"),
        (json!({ "title": "ok", "assignee_id": outsider_id }), "assignee_id"),
    ] {
        let (status, error) = owner.post(&tasks, &body).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"][field].is_string(), "{field}: {error}");
    }
    let (status, error) = owner.patch(&task_path, &json!({ "assignee_id": outsider_id })).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, error) = owner.patch(&path, &json!({ "owner": outsider_id })).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, error) =
        owner.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "Q", "due_date": "31/12/2027" })).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");

    // Viewers read, and change nothing.
    assert_eq!(viewer.get(&tasks).await.0, StatusCode::OK);
    assert_eq!(viewer.get(&format!("{path}/history")).await.0, StatusCode::OK);
    for (status, body) in [
        viewer.patch(&path, &json!({ "name": "Mine" })).await,
        viewer.post(&tasks, &json!({ "title": "Mine" })).await,
        viewer.patch(&task_path, &json!({ "done": true })).await,
        viewer.delete(&task_path).await,
    ] {
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    }
    // Another team's project: not found, through this team or the other.
    let foreign = format!("/api/teams/{other_team}/projects/{id}");
    for (status, body) in [
        outsider.patch(&foreign, &json!({ "name": "Mine" })).await,
        outsider.get(&format!("{foreign}/tasks")).await,
        outsider.post(&format!("{foreign}/tasks"), &json!({ "title": "Mine" })).await,
        outsider.get(&format!("{foreign}/history")).await,
        outsider.patch(&path, &json!({ "name": "Mine" })).await,
    ] {
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    // A task id taken in another project is a conflict, not a second task.
    let (_, other) = owner.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "Other" })).await;
    let other_tasks = format!("/api/teams/{team}/projects/{}/tasks", other["id"].as_str().expect("id"));
    let (status, body) = owner.post(&other_tasks, &json!({ "id": task["id"], "title": "Steal" })).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");

    let (_, unchanged) = owner.get(&path).await;
    assert_eq!(unchanged, created, "nothing written");
    let (_, history) = owner.get(&format!("{path}/history")).await;
    assert_eq!(history.as_array().map(Vec::len), Some(1), "only the task's creation: {history}");
    assert_eq!(owner.get(&tasks).await.1.as_array().map(Vec::len), Some(1));
}
