//! What a person erases leaves no words in the files that kept them. On the relay (SQLite: the one database
//! whose files a test can read whole): a deleted message, an edited message's old text, a deleted project,
//! a deleted team's chat and a deleted account's name and email. On the devices: a message taken back, in
//! the author's outbox and in every member's cache, a deleted team's chat and a deleted project. The long
//! ones spill into overflow pages, which a deletion frees whole and, without erasing, leaves as they were.

use std::path::Path;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;
use teamflow_node::Session;
use teamflow_protocol::api::projects::{ProjectPatch, TaskInput};
use teamflow_protocol::api::teams::ProjectInput;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_tests::session_events::{Events, loopback};
use teamflow_tests::{PASSWORD, TestRelay};

/// About 8,000 characters of numbered `tag` words (a message takes 10,000): more than a 4 KiB page holds.
fn long_text(tag: &str) -> String {
    (0..8_000 / (tag.len() + 5)).map(|i| format!("{tag}{i:04}")).collect::<Vec<_>>().join(" ")
}

/// Every file under `dir` that holds `needle`, by name.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the data directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read a file");
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}

#[tokio::test]
async fn deleted_and_overwritten_words_are_not_left_in_the_relays_files() {
    let relay = TestRelay::start_sqlite().await;
    let ada = relay.user("ada").await;
    let ops = ada.create_team("Ops").await;
    let messages = format!("/api/teams/{ops}/messages");
    let post = async |client_id: &str, content: &str| {
        let (status, message) = ada.post(&messages, &json!({ "client_id": client_id, "content": content })).await;
        assert_eq!(status, StatusCode::CREATED, "{message}");
        format!("{messages}/{}", message["id"].as_str().expect("message id"))
    };
    // Everything is written first and erased last, so no later write happens to reuse a freed page.
    post("kept", &long_text("KEPTWORD")).await;
    let deleted = post("deleted", &long_text("DELETEDWORD")).await;
    let edited = post("edited", &long_text("EDITEDWORD")).await;
    let (status, project) = ada
        .post(
            &format!("/api/teams/{ops}/projects"),
            &json!({ "name": "Launch", "description": long_text("PROJECTWORD") }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let project = format!("/api/teams/{ops}/projects/{}", project["id"].as_str().expect("project id"));
    let side = ada.create_team("Side").await;
    let (status, body) = ada
        .post(&format!("/api/teams/{side}/messages"), &json!({ "client_id": "side", "content": long_text("TEAMWORD") }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Bob joins by an invitation made out to his address, and mistypes his password once.
    let bob = relay.user("bob").await;
    ada.add_member(&ops, "bob@example.test", "member").await;
    let (status, _) = relay
        .client()
        .post("/api/auth/login", &json!({ "email": "bob@example.test", "password": "not his password" }))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = bob.patch("/api/me", &json!({ "display_name": long_text("NAMEWORD")[..70].to_owned() })).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = ada.delete(&deleted).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = ada.patch(&edited, &json!({ "content": "The numbers were wrong; see the runbook." })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = ada.delete(&project).await;
    assert!(status.is_success(), "{status} {body}");
    let (status, body) = ada.delete(&format!("/api/teams/{side}")).await;
    assert!(status.is_success(), "{status} {body}");
    let (status, body) = bob.send(reqwest::Method::DELETE, "/api/me", Some(&json!({ "password": PASSWORD }))).await;
    assert!(status.is_success(), "{status} {body}");

    // While the relay runs (each erasure emptied the write-ahead log), and once it has stopped.
    let gone = ["DELETEDWORD0", "EDITEDWORD0", "PROJECTWORD0", "TEAMWORD0", "NAMEWORD0", "bob@example.test"];
    let running = relay.data_dir().to_owned();
    // The scan reads what is kept: the message still there is found, so a word left behind would be too.
    assert!(!files_holding(&running, "KEPTWORD0600").is_empty(), "the kept message is in the relay's files");
    assert_eq!(left_behind(&running, &gone), Vec::<String>::new(), "words a person erased, while the relay runs");
    let dir = relay.stop().await;
    assert!(!files_holding(dir.path(), "KEPTWORD0600").is_empty());
    assert_eq!(left_behind(dir.path(), &gone), Vec::<String>::new(), "words a person erased, after the relay stopped");
}

/// Which of `gone` are still in a file under `dir`, and where.
fn left_behind(dir: &Path, gone: &[&str]) -> Vec<String> {
    gone.iter()
        .flat_map(|word| files_holding(dir, word).into_iter().map(move |file| format!("{word}… in {file}")))
        .collect()
}

#[tokio::test]
async fn a_message_taken_back_leaves_no_words_on_the_devices_that_kept_it() {
    let relay = TestRelay::start().await;
    let (alice_dir, alice, bob_dir, bob, team) = teamflow_tests::alice_and_bob(&relay).await;
    alice.send_message(team, &long_text("KEPTWORD")).await.expect("send");
    alice.send_message(team, &long_text("DELETEDWORD")).await.expect("send");
    alice.send_message(team, &long_text("EDITEDWORD")).await.expect("send");
    let shown = bob.messages(team).await.expect("read and kept");
    assert_eq!(shown.len(), 3);
    alice.messages(team).await.expect("read and kept");
    // A second team, read on both devices, then deleted.
    let side = alice.create_team("Side").await.expect("team").id;
    teamflow_tests::join(&alice, side, &bob, "bob@example.test", teamflow_protocol::Role::Member).await;
    alice.send_message(side, &long_text("TEAMWORD")).await.expect("send");
    assert_eq!(bob.messages(side).await.expect("read and kept").len(), 1);
    alice.messages(side).await.expect("read and kept");
    alice.delete_team(side).await.expect("delete the team");
    assert!(!bob.teams().await.expect("teams").iter().any(|t| t.id == side), "bob's device learns it is gone");

    alice.delete_message(team, shown[1].id).await.expect("delete");
    alice.edit_message(team, shown[2].id, "The numbers were wrong; see the runbook.").await.expect("edit");
    assert!(alice.outbox().await.expect("outbox").is_empty(), "both delivered");
    let now = bob.messages(team).await.expect("read again");
    assert!(now[1].deleted && now[2].content.starts_with("The numbers"), "bob's device has the changes: {now:?}");
    let devices = [("alice", alice_dir.path()), ("bob", bob_dir.path())];
    let gone = ["DELETEDWORD0", "EDITEDWORD0", "TEAMWORD0"];
    // While the devices still run (closing a store empties its log anyway, so only this reading shows that
    // the log is emptied after an erasure).
    until_erased(&devices, &gone).await;
    alice.close().await;
    bob.close().await;

    for (who, dir) in devices {
        assert!(!files_holding(dir, "KEPTWORD0400").is_empty(), "{who}'s device keeps the message still there");
    }
    until_erased(&devices, &gone).await;
}

/// Waits until none of `gone` is in a file of any of `devices` (running, their logs are emptied in the
/// background after an erasure: a bounded poll, as nothing reports it).
async fn until_erased(devices: &[(&str, &Path)], gone: &[&str]) {
    let left = || {
        devices
            .iter()
            .flat_map(|(who, dir)| left_behind(dir, gone).into_iter().map(move |found| format!("{who}: {found}")))
            .collect::<Vec<_>>()
    };
    let deadline = tokio::time::Instant::now() + teamflow_tests::socket::PATIENCE;
    while !left().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "deleted words are still on the running devices: {:?}", left());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_deleted_project_leaves_no_words_on_the_devices_that_kept_it() {
    let relay = TestRelay::start().await;
    let (alice_dir, alice, bob_dir, bob, team) = teamflow_tests::alice_and_bob(&relay).await;
    let carol_dir = teamflow_tests::DataDir::new();
    let carol = teamflow_node::Node::open(carol_dir.path(), &relay.url("")).await.expect("open node");
    carol.sign_up("carol@example.test", "purple monkey", "Carol").await.expect("sign up");
    teamflow_tests::join(&alice, team, &carol, "carol@example.test", teamflow_protocol::Role::Member).await;

    let input = ProjectInput { description: long_text("PROJECTWORD"), ..teamflow_tests::project_input("Launch") };
    alice.create_project(team, input).await.expect("create");
    alice.create_project(team, teamflow_tests::project_input("Kept")).await.expect("create");
    let project = alice.projects(team).await.expect("projects").iter().find(|p| p.name == "Launch").expect("made").id;
    let rewrite = ProjectPatch { description: Some(long_text("HISTORYWORD")), ..ProjectPatch::default() };
    alice.patch_project(team, project, rewrite).await.expect("edit");
    let title = (0..30).map(|i| format!("TASKWORD{i:04}")).collect::<Vec<_>>().join(" ");
    let task = TaskInput { id: None, title, done: false, assignee_id: None };
    alice.create_task(team, project, task).await.expect("task");
    assert!(alice.outbox().await.expect("outbox").is_empty(), "all delivered");
    // Each device keeps the list, the tasks and the history (the old description is in it).
    for device in [&alice, &bob, &carol] {
        assert_eq!(device.projects(team).await.expect("projects").len(), 2);
        assert_eq!(device.tasks(team, project).await.expect("tasks").len(), 1);
        assert!(!device.project_history(team, project).await.expect("history").is_empty());
    }
    assert_eq!(carol.search("HISTORYWORD0001", 10).await.expect("search").len(), 1);
    let gone = ["PROJECTWORD0", "HISTORYWORD0", "TASKWORD0"];
    for dir in [alice_dir.path(), bob_dir.path(), carol_dir.path()] {
        assert!(!left_behind(dir, &gone).is_empty(), "the device keeps the project before it is deleted");
    }

    // Bob's app is in the team's room; carol's device is not (it learns when it reads the list again).
    let (sink, mut events) = Events::sink();
    let bob = Session::start(Arc::new(bob), sink, loopback()).await;
    events.online().await;
    bob.join_room(team).await.expect("join");
    alice.delete_project(team, project).await.expect("delete");
    events
        .room_frame(team, "the deletion", |frame| matches!(frame, ServerMessage::ProjectDeleted { .. }).then_some(()))
        .await;
    let listed = carol.projects(team).await.expect("projects");
    assert_eq!(listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Kept"]);
    assert!(carol.search("HISTORYWORD0001", 10).await.expect("search").is_empty(), "nor found");

    let devices = [("alice", alice_dir.path()), ("bob", bob_dir.path()), ("carol", carol_dir.path())];
    until_erased(&devices, &gone).await;
    // What is not the deleted project's is still there.
    assert_eq!(bob.node().projects(team).await.expect("projects").len(), 1);
    bob.close().await;
    alice.close().await;
    carol.close().await;
    until_erased(&devices, &gone).await;
}
