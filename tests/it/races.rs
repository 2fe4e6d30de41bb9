//! Invariants that hold when two requests race, on whichever database the suite runs (`.ci/run` runs this on
//! SQLite, where one writer at a time serialises them, and on PostgreSQL, where transactions run side by side
//! at READ COMMITTED and each of these needed a lock or a conditional write). Each test fires its requests
//! at once, several rounds, and checks the outcome the product promises.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use teamflow_tests::{PASSWORD, TestRelay};

const ROUNDS: usize = 4;

fn sorted(mut statuses: Vec<StatusCode>) -> Vec<StatusCode> {
    statuses.sort();
    statuses
}

#[tokio::test]
async fn an_invitation_taken_by_several_people_at_once_lets_exactly_one_in() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let mut people = Vec::new();
    for n in 0..3 {
        people.push(relay.user(&format!("joiner{n}")).await);
    }
    for round in 0..ROUNDS {
        let team = owner.create_team(&format!("T{round}")).await;
        let (status, invitation) =
            owner.post(&format!("/api/teams/{team}/invitations"), &json!({ "role": "member" })).await;
        assert_eq!(status, StatusCode::CREATED, "{invitation}");
        let accept = format!("/api/invitations/{}/accept", invitation["token"].as_str().expect("token"));
        let empty = json!({});
        let answers = join_all(people.iter().map(|p| p.post(&accept, &empty))).await;
        let statuses = sorted(answers.iter().map(|(status, _)| *status).collect());
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::NOT_FOUND, StatusCode::NOT_FOUND],
            "round {round}: {answers:?}"
        );
        let (_, members) = owner.get(&format!("/api/teams/{team}/members")).await;
        assert_eq!(members.as_array().map(Vec::len), Some(2), "round {round}: the owner and one joiner: {members}");
    }
}

#[tokio::test]
async fn a_reset_link_used_twice_at_once_sets_one_password() {
    let relay = TestRelay::start().await;
    relay.user("alice").await;
    for round in 0..ROUNDS {
        let printed = crate::sign_ins::admin(&relay, &["reset-password", "alice@example.test"]);
        let token = printed.lines().next().and_then(|link| link.rsplit('/').next()).expect("a link").to_owned();
        let client = relay.client();
        let first = json!({ "token": token, "new_password": format!("first password {round}") });
        let second = json!({ "token": token, "new_password": format!("second password {round}") });
        let (a, b) = tokio::join!(
            client.post("/api/auth/reset-password", &first),
            client.post("/api/auth/reset-password", &second)
        );
        assert_eq!(sorted(vec![a.0, b.0]), [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND], "round {round}");
        let winner = if a.0 == StatusCode::NO_CONTENT { &first } else { &second };
        let login = json!({ "email": "alice@example.test", "password": winner["new_password"] });
        assert_eq!(client.post("/api/auth/login", &login).await.0, StatusCode::OK, "round {round}");
    }
}

#[tokio::test]
async fn two_owners_leaving_at_once_one_by_deleting_their_account_leave_the_team_an_owner() {
    let relay = TestRelay::start().await;
    for round in 0..ROUNDS {
        let a = relay.user(&format!("a{round}")).await;
        let b = relay.user(&format!("b{round}")).await;
        let team = a.create_team("T").await;
        a.add_member(&team, &format!("b{round}@example.test"), "owner").await;
        let b_id = b.user_id().await;
        let members = format!("/api/teams/{team}/members");
        let (password, demote, b_path) =
            (json!({ "password": PASSWORD }), json!({ "role": "admin" }), format!("{members}/{b_id}"));
        let ((deleted, _), (demoted, _)) =
            tokio::join!(a.send(Method::DELETE, "/api/me", Some(&password)), b.patch(&b_path, &demote));
        let owners: Vec<Value> = match b.get(&members).await {
            (StatusCode::OK, list) => {
                list.as_array().expect("array").iter().filter(|m| m["role"] == "owner").cloned().collect()
            }
            other => panic!("round {round}: {other:?}"),
        };
        assert_eq!(owners.len(), 1, "round {round}: deleted {deleted}, demoted {demoted}: {owners:?}");
        assert!(
            [deleted, demoted].contains(&StatusCode::CONFLICT),
            "round {round}: one of them is refused as the last owner (deleted {deleted}, demoted {demoted})"
        );
    }
}

#[tokio::test]
async fn two_people_patching_different_fields_of_a_project_at_once_both_keep_their_change() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let team = alice.create_team("T").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    for round in 0..ROUNDS {
        let (status, created) =
            alice.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "P", "description": "D" })).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let path = format!("/api/teams/{team}/projects/{}", created["id"].as_str().expect("id"));
        let (name, description) =
            (json!({ "name": format!("Name {round}") }), json!({ "description": format!("Description {round}") }));
        let (a, b) = tokio::join!(alice.patch(&path, &name), bob.patch(&path, &description));
        assert_eq!((a.0, b.0), (StatusCode::OK, StatusCode::OK), "round {round}: {a:?} {b:?}");
        let (_, project) = alice.get(&path).await;
        assert_eq!(
            (project["name"].as_str(), project["description"].as_str()),
            (Some(format!("Name {round}").as_str()), Some(format!("Description {round}").as_str())),
            "round {round}: {project}"
        );
    }
}
