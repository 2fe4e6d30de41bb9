//! Analytics: messages per day, active members and projects by status, over a bounded range.

use reqwest::StatusCode;
use serde_json::json;
use teamflow_tests::{TestRelay, assert_error};
use time::OffsetDateTime;
use time::macros::format_description;

#[tokio::test]
async fn analytics_count_what_happened_in_the_range() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let _carol = relay.user("carol").await;
    let team = alice.create_team("T").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    alice.add_member(&team, "carol@example.test", "viewer").await;
    for (i, client) in [&alice, &alice, &bob].into_iter().enumerate() {
        let (status, _) = client
            .post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": format!("a{i}"), "content": "hi" }))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    for (name, status) in [("A", "active"), ("B", "active"), ("C", "completed")] {
        let (s, _) =
            alice.post(&format!("/api/teams/{team}/projects"), &json!({ "name": name, "status": status })).await;
        assert_eq!(s, StatusCode::CREATED);
    }

    let today = OffsetDateTime::now_utc().date().format(format_description!("[year]-[month]-[day]")).expect("format");
    let (status, report) = bob.get(&format!("/api/teams/{team}/analytics")).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let days = report["messages_per_day"].as_array().expect("days");
    assert_eq!(days.len(), 30, "the default range is thirty days");
    assert_eq!(days.last(), Some(&json!({ "date": today, "count": 3 })));
    assert_eq!(report["total_messages"], 3);
    assert_eq!(report["active_members"], 2);
    assert_eq!(report["member_count"], 3);
    assert_eq!(
        report["projects_by_status"],
        json!({ "planned": 0, "active": 2, "paused": 0, "completed": 1, "archived": 0 })
    );

    assert_eq!(report["activity_by_service"], json!({ "github": 0, "slack": 0, "trello": 0 }));

    let (_, past) = bob.get(&format!("/api/teams/{team}/analytics?from=2020-01-01&to=2020-01-31")).await;
    assert_eq!(past["total_messages"], 0);
    assert_eq!(past["messages_per_day"].as_array().map(Vec::len), Some(31));

    for query in ["from=2020-01-01&to=2022-01-01", "from=2020-02-01&to=2020-01-01", "from=01/02/2020", "to=tomorrow"] {
        let (status, error) = bob.get(&format!("/api/teams/{team}/analytics?{query}")).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    }
}

#[tokio::test]
async fn the_node_asks_for_a_range_and_checks_its_dates_first() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = teamflow_tests::alice_and_bob(&relay).await;
    bob.send_message(team, "morning").await.expect("send");
    let today = OffsetDateTime::now_utc().date().format(format_description!("[year]-[month]-[day]")).expect("date");

    let figures = alice.analytics(team, Some(&today), Some(&today)).await.expect("analytics");
    assert_eq!((figures.total_messages, figures.active_members, figures.member_count), (1, 1, 2));
    assert_eq!(figures.messages_per_day.len(), 1, "one day asked, one day answered");
    let default = alice.analytics(team, None, None).await.expect("the relay's default range");
    assert_eq!(default.messages_per_day.len(), 30);

    // A date that is not one never reaches a path; a well-formed but impossible one is the relay's to refuse.
    for bad in ["yesterday", "2026-12-01&to=2027-01-01", "2026/12/01"] {
        let refused = alice.analytics(team, Some(bad), None).await.expect_err(bad);
        assert!(matches!(refused, teamflow_node::NodeError::Invalid(_)), "{bad}: {refused}");
    }
    let refused = alice.analytics(team, Some("2026-13-01"), None).await.expect_err("month 13");
    assert!(
        matches!(&refused, teamflow_node::NodeError::Api(teamflow_node::ApiFailure::Refused { code, .. }) if code == "validation_failed"),
        "{refused}"
    );
}
