//! Webhooks through a real relay: integrations, signed deliveries from GitHub, Slack and Trello becoming
//! activity (live and listed), replays processed once, bad signatures refused, nothing lost on restart.

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_relay::webhooks::verify::sign;
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{Client, DataDir, TestRelay, assert_error, test_config};

fn fixture(name: &str) -> Vec<u8> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../relay-server/src/webhooks/fixtures").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Setup {
    relay: TestRelay,
    owner: Client,
    team: String,
}

async fn setup() -> Setup {
    let relay = TestRelay::start().await;
    setup_on(relay).await
}

async fn setup_on(relay: TestRelay) -> Setup {
    let owner = relay.user("owner").await;
    let team = owner.create_team("Hooks").await;
    Setup { relay, owner, team }
}

impl Setup {
    async fn integrate(&self, body: Value) -> Value {
        let (status, created) = self.owner.post(&format!("/api/teams/{}/integrations", self.team), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        created
    }

    /// Posts raw bytes to a webhook URL with the given headers.
    async fn deliver(&self, url: &str, headers: &[(&str, String)], body: Vec<u8>) -> (StatusCode, Value) {
        let path = url.split_once("/api/").map(|(_, p)| format!("/api/{p}")).expect("webhook url");
        let mut request = reqwest::Client::new().post(self.relay.url(&path)).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("deliver");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn activity(&self) -> Vec<Value> {
        let (status, page) = self.owner.get(&format!("/api/teams/{}/activity", self.team)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page["items"].as_array().expect("items").clone()
    }

    async fn watch(&self) -> RoomSocket {
        let mut socket = RoomSocket::connect(&self.relay.url(""), self.owner.token.as_deref().expect("token")).await;
        socket.join(&self.team).await;
        socket
    }
}

fn github_headers(secret: &str, event: &str, delivery: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        ("x-github-event", event.to_owned()),
        ("x-github-delivery", delivery.to_owned()),
        ("x-github-hook-id", "4242".to_owned()),
        ("x-hub-signature-256", sign::github(secret, body)),
        ("content-type", "application/json".to_owned()),
    ]
}

fn slack_headers(secret: &str, timestamp: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    let ts = timestamp.to_string();
    vec![("x-slack-request-timestamp", ts.clone()), ("x-slack-signature", sign::slack(secret, &ts, body))]
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn integrations_are_managed_by_admins_and_secrets_shown_once() {
    let s = setup().await;
    let member = s.relay.user("member").await;
    s.owner.add_member(&s.team, "member@example.test", "member").await;
    let path = format!("/api/teams/{}/integrations", s.team);

    let github = s.integrate(json!({ "service": "github" })).await;
    let secret = github["secret"].as_str().expect("generated secret");
    assert_eq!(secret.len(), 64, "256 random bits, hex");
    let id = github["id"].as_str().expect("id");
    assert_eq!(github["webhook_url"], s.relay.url(&format!("/api/webhooks/github/{id}")));

    let (status, list) = s.owner.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert!(list[0].get("secret").is_none(), "secrets are never listed: {list}");

    for (body, field) in [
        (json!({ "service": "slack" }), "secret"),
        (json!({ "service": "trello", "secret": "short" }), "secret"),
        (json!({ "service": "github", "mirror_to_chat": true }), "mirror_to_chat"),
    ] {
        let (status, error) = s.owner.post(&path, &body).await;
        assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(error["error"]["details"][field].is_string(), "{error}");
    }
    let (status, error) = s.owner.post(&path, &json!({ "service": "jira", "secret": "whatever1" })).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, error) = member.post(&path, &json!({ "service": "github" })).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");
    let (status, error) = member.get(&path).await;
    assert_error(status, &error, StatusCode::FORBIDDEN, "forbidden");

    assert_eq!(s.owner.delete(&format!("{path}/{id}")).await.0, StatusCode::NO_CONTENT);
    let body = fixture("github-push.json");
    let (status, error) = s
        .deliver(github["webhook_url"].as_str().expect("url"), &github_headers(secret, "push", "d1", &body), body)
        .await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn github_deliveries_become_activity_once() {
    let s = setup().await;
    let mut socket = s.watch().await;
    let hook = s.integrate(json!({ "service": "github", "secret": "It's a Secret to Everybody" })).await;
    let url = hook["webhook_url"].as_str().expect("url");
    let secret = "It's a Secret to Everybody";

    let ping = br#"{"zen":"Keep it logically awesome."}"#.to_vec();
    let (status, body) = s.deliver(url, &github_headers(secret, "ping", "p1", &ping), ping).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "pong" })));

    let push = fixture("github-push.json");
    let headers = github_headers(secret, "push", "72d3162e-cc78-11e3-81ab-4c9367dc0958", &push);
    let (status, body) = s.deliver(url, &headers, push.clone()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "stored" })));
    let live = socket.next_of("activity").await;
    assert_eq!(live["item"]["summary"], "alice pushed 3 commits to main");
    assert_eq!(live["item"]["service"], "github");

    // GitHub redelivers with the same delivery id: acknowledged, not processed again.
    let (status, body) = s.deliver(url, &headers, push.clone()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "duplicate" })));

    let pr = fixture("github-pull_request.json");
    s.deliver(url, &github_headers(secret, "pull_request", "d-pr", &pr), pr).await;
    let issue = fixture("github-issues.json");
    s.deliver(url, &github_headers(secret, "issues", "d-issue", &issue), issue).await;
    assert_eq!(socket.next_of("activity").await["item"]["summary"], "PR #12 opened: Fix login");
    assert_eq!(socket.next_of("activity").await["item"]["summary"], "issue #7 closed");
    assert!(!socket.drain(1).await.iter().any(|f| f["type"] == "activity"), "the redelivery made no activity");

    let summaries: Vec<Value> = s.activity().await.iter().map(|i| i["summary"].clone()).collect();
    assert_eq!(summaries, ["issue #7 closed", "PR #12 opened: Fix login", "alice pushed 3 commits to main"]);
    let (_, analytics) = s.owner.get(&format!("/api/teams/{}/analytics", s.team)).await;
    assert_eq!(analytics["activity_by_service"]["github"], 3);
}

#[tokio::test]
async fn bad_github_signatures_are_refused_and_store_nothing() {
    let s = setup().await;
    let hook = s.integrate(json!({ "service": "github" })).await;
    let url = hook["webhook_url"].as_str().expect("url");
    let secret = hook["secret"].as_str().expect("secret");
    let push = fixture("github-push.json");

    let mut tampered = push.clone();
    tampered[10] ^= 1;
    let wrong_secret = github_headers("not the secret", "push", "x1", &push);
    let sha1_only: Vec<(&str, String)> = github_headers(secret, "push", "x2", &push)
        .into_iter()
        .map(
            |(k, v)| {
                if k == "x-hub-signature-256" { ("x-hub-signature", "sha1=0123456789abcdef".into()) } else { (k, v) }
            },
        )
        .collect();
    for (headers, body) in [
        (github_headers(secret, "push", "x0", &push), tampered),
        (wrong_secret, push.clone()),
        (sha1_only, push.clone()),
    ] {
        let (status, error) = s.deliver(url, &headers, body).await;
        assert_error(status, &error, StatusCode::UNAUTHORIZED, "invalid_signature");
    }
    // Signed garbage is authentic but unreadable.
    let garbage = b"{not json".to_vec();
    let (status, error) = s.deliver(url, &github_headers(secret, "push", "x3", &garbage), garbage).await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "validation_failed");

    let (_, analytics) = s.owner.get(&format!("/api/teams/{}/analytics", s.team)).await;
    assert_eq!(analytics["activity_by_service"]["github"], 0, "nothing was stored");
}

/// The admin sees what the relay's log says: deliveries refused for a wrong secret, and when one last arrived.
#[tokio::test]
async fn an_integration_refusing_deliveries_says_so_in_its_listing() {
    let s = setup().await;
    let hook = s.integrate(json!({ "service": "github" })).await;
    let (url, secret) = (hook["webhook_url"].as_str().expect("url"), hook["secret"].as_str().expect("secret"));
    let listed = || async {
        let (status, list) = s.owner.get(&format!("/api/teams/{}/integrations", s.team)).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list[0].clone()
    };
    let fresh = listed().await;
    assert!(fresh.get("last_delivery_at").is_none() && fresh.get("refusing").is_none(), "{fresh}");

    let ping = b"{}".to_vec();
    assert_eq!(s.deliver(url, &github_headers(secret, "ping", "p1", &ping), ping).await.0, StatusCode::OK);
    let pinged = listed().await;
    assert!(pinged["last_delivery_at"].is_string() && pinged.get("refusing").is_none(), "{pinged}");

    // Signed with another secret (as when the secret was pasted wrong at GitHub).
    let push = fixture("github-push.json");
    let (status, _) = s.deliver(url, &github_headers("not the secret", "push", "w1", &push), push.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let refusing = listed().await;
    assert_eq!(refusing["last_delivery_at"], pinged["last_delivery_at"], "{refusing}");
    let reason = refusing["refusing"]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("invalid_signature:"), "{refusing}");
    // Another forged request within the minute writes nothing.
    let (status, _) = s.deliver(url, &github_headers("not the secret", "push", "w2", &push), push.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(listed().await["refusing"], refusing["refusing"]);

    // The next delivery taken clears it at once, within the minute too.
    let (status, _) = s.deliver(url, &github_headers(secret, "push", "ok1", &push), push.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let taken = listed().await;
    assert!(taken.get("refusing").is_none(), "{taken}");
    // As times, not strings: RFC 3339 drops the fraction's trailing zeros ("…28.18Z" sorts after "…28.183Z").
    let at = |listed: &Value| {
        let text = listed["last_delivery_at"].as_str().expect("a delivery time");
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
    };
    assert!(at(&taken) >= at(&pinged), "{taken}");

    // Authentic but unreadable is a refusal too, with what was wrong.
    let garbage = b"{not json".to_vec();
    s.deliver(url, &github_headers(secret, "push", "g1", &garbage), garbage).await;
    let unreadable = listed().await;
    let reason = unreadable["refusing"]["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("validation_failed:") && reason.contains("not JSON"), "{unreadable}");

    // A new secret starts clean: what the old one refused is no longer what the integration does.
    let id = hook["id"].as_str().expect("id");
    let (status, _) = s.owner.post(&format!("/api/teams/{}/integrations/{id}/rotate", s.team), &json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = listed().await;
    assert!(rotated.get("refusing").is_none(), "{rotated}");
}

#[tokio::test]
async fn slack_challenges_retries_staleness_and_chat_mirroring() {
    let s = setup().await;
    let mut socket = s.watch().await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let hook = s.integrate(json!({ "service": "slack", "secret": secret, "mirror_to_chat": true })).await;
    let url = hook["webhook_url"].as_str().expect("url");

    let challenge = br#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#.to_vec();
    let (status, error) = s.deliver(url, &[], challenge.clone()).await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "invalid_signature");
    let (status, answer) = s.deliver(url, &slack_headers(secret, now(), &challenge), challenge).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({ "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" }));

    let message = fixture("slack-message.json");
    let (status, body) = s.deliver(url, &slack_headers(secret, now(), &message), message.clone()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "stored" })));
    // Slack retries the same event (X-Slack-Retry-Num): processed once.
    let mut retry = slack_headers(secret, now(), &message);
    retry.push(("x-slack-retry-num", "1".into()));
    retry.push(("x-slack-retry-reason", "http_timeout".into()));
    let (status, body) = s.deliver(url, &retry, message.clone()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "duplicate" })));

    let (mut mirrored, mut activity) = (None, None);
    while mirrored.is_none() || activity.is_none() {
        let frame = socket.next().await;
        match frame["type"].as_str() {
            Some("new_message") => mirrored = Some(frame),
            Some("activity") => activity = Some(frame),
            _ => {}
        }
    }
    let mirrored = mirrored.expect("mirrored message");
    assert_eq!(mirrored["message"]["content"], "[Slack] U2147483697: Deploy is green, shipping at 3pm");
    assert!(activity.expect("activity")["item"]["summary"].as_str().is_some_and(|s| s.contains("Deploy is green")));
    let (_, page) = s.owner.get(&format!("/api/teams/{}/messages", s.team)).await;
    assert_eq!(page["messages"].as_array().map(Vec::len), Some(1), "mirrored once");

    let stale = slack_headers(secret, now() - 301, &message);
    let (status, error) = s.deliver(url, &stale, message).await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "invalid_signature");
}

#[tokio::test]
async fn trello_checks_the_callback_and_signs_over_it_exactly() {
    let s = setup().await;
    let mut socket = s.watch().await;
    let secret = "trello-app-secret";
    let hook = s.integrate(json!({ "service": "trello", "secret": secret })).await;
    let url = hook["webhook_url"].as_str().expect("url").to_owned();
    let path = url.split_once("/api/").map(|(_, p)| format!("/api/{p}")).expect("path");
    let head = |p: String| async move { reqwest::Client::new().head(p).send().await.expect("head").status() };
    assert_eq!(head(s.relay.url(&path)).await, StatusCode::OK);
    assert_eq!(head(s.relay.url("/api/webhooks/trello/nope")).await, StatusCode::NOT_FOUND);

    let card = fixture("trello-updateCard.json");
    let slash = vec![("x-trello-webhook", sign::trello(secret, &format!("{url}/"), &card))];
    let (status, error) = s.deliver(&url, &slash, card.clone()).await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "invalid_signature");

    let signed = vec![("x-trello-webhook", sign::trello(secret, &url, &card))];
    assert_eq!(s.deliver(&url, &signed, card.clone()).await.1, json!({ "status": "stored" }));
    assert_eq!(s.deliver(&url, &signed, card).await.1, json!({ "status": "duplicate" }));
    let item = socket.next_of("activity").await;
    assert_eq!(item["item"]["summary"], "card 'Ship v1' moved to Done");
    assert_eq!(item["item"]["url"], "https://trello.com/c/Dz1qN6oQ");
}

#[tokio::test]
async fn unknown_services_unknown_integrations_and_huge_bodies_are_refused() {
    let s = setup().await;
    let hook = s.integrate(json!({ "service": "github" })).await;
    let id = hook["id"].as_str().expect("id");
    let client = s.relay.client();
    let (status, error) = client.post(&format!("/api/webhooks/gitlab/{id}"), &json!({})).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "service_not_supported");
    let (status, error) = client.post("/api/webhooks/github/0000", &json!({})).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    // A GitHub integration's id under another service is no integration.
    let (status, error) = client.post(&format!("/api/webhooks/slack/{id}"), &json!({})).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
    // Past the documented 25 MB limit.
    let huge = vec![b' '; 25 * 1024 * 1024 + 1];
    let (status, error) = s.deliver(hook["webhook_url"].as_str().expect("url"), &[], huge).await;
    assert_error(status, &error, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn an_event_acknowledged_before_a_stop_is_processed_after_restart_once() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    // Hold events in the state a crash between acknowledging and processing leaves them in.
    config.process_webhooks = false;
    let s = setup_on(TestRelay::start_with(dir, config).await).await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let hook = s.integrate(json!({ "service": "slack", "secret": secret, "mirror_to_chat": true })).await;
    let message = fixture("slack-message.json");
    let url = hook["webhook_url"].as_str().expect("url").to_owned();
    let (status, body) = s.deliver(&url, &slack_headers(secret, now(), &message), message).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "stored" })));
    assert!(s.activity().await.is_empty(), "acknowledged, not yet processed");
    let (owner, team) = (s.owner.clone(), s.team.clone());

    let mut relay = s.relay;
    for _ in 0..2 {
        let dir = relay.stop().await;
        let config = test_config(dir.path());
        relay = TestRelay::start_with(dir, config).await;
        let owner = Client { base: relay.url(""), ..owner.clone() };
        let mut socket = RoomSocket::connect(&relay.url(""), owner.token.as_deref().expect("token")).await;
        // The worker runs at start, maybe while the socket joins: its broadcasts may come before the state.
        let (state, mut seen) = socket.join_seeing(&team).await;
        if state["latest_seq"] == 0 {
            // Every frame is kept: the activity broadcast may come while waiting for the message.
            while !seen.iter().any(|f| f["type"] == "new_message") {
                seen.push(socket.next().await);
            }
        }
        let (_, page) = owner.get(&format!("/api/teams/{team}/activity")).await;
        if page["items"].as_array().map(Vec::len) != Some(1) {
            // Read before the worker marked it processed: its broadcast is still to come.
            if !seen.iter().any(|f| f["type"] == "activity") {
                socket.next_of("activity").await;
            }
            let (_, page) = owner.get(&format!("/api/teams/{team}/activity")).await;
            assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
        }
        let (_, messages) = owner.get(&format!("/api/teams/{team}/messages")).await;
        assert_eq!(messages["messages"].as_array().map(Vec::len), Some(1), "{messages}");
    }
    let owner = Client { base: relay.url(""), ..owner };
    let (_, page) = owner.get(&format!("/api/teams/{team}/activity")).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "processed exactly once across two restarts");
    let (_, messages) = owner.get(&format!("/api/teams/{team}/messages")).await;
    assert_eq!(messages["messages"].as_array().map(Vec::len), Some(1), "mirrored exactly once");
}

#[tokio::test]
async fn raw_payloads_are_dropped_after_the_teams_retention_period() {
    let s = setup().await;
    let secret = "It's a Secret to Everybody";
    let hook = s.integrate(json!({ "service": "github", "secret": secret })).await;
    let url = hook["webhook_url"].as_str().expect("url").to_owned();
    let mut socket = s.watch().await;
    let push = fixture("github-push.json");
    s.deliver(&url, &github_headers(secret, "push", "old", &push), push.clone()).await;
    socket.next_of("activity").await;

    // Age the first event past the default 30 days, straight in the relay's database.
    let db = s.relay.db().await;
    sqlx::query("UPDATE webhook_events SET received_at = received_at - $1 WHERE delivery_key = '4242:old'")
        .bind(31 * 86_400_000_i64)
        .execute(db.pool())
        .await
        .expect("age the event");
    // Any delivery wakes the worker, which enforces retention after claiming it and before announcing it, so
    // its activity line means the prune has run. (Another push: the same body would be a duplicate.)
    let mut newer: Value = serde_json::from_slice(&push).expect("json");
    newer["after"] = "0000000000000000000000000000000000000001".into();
    let newer = serde_json::to_vec(&newer).expect("json");
    s.deliver(&url, &github_headers(secret, "push", "new", &newer), newer).await;
    socket.next_of("activity").await;
    let payloads: Vec<(String, Option<Vec<u8>>)> =
        sqlx::query_as("SELECT delivery_key, payload FROM webhook_events ORDER BY seq")
            .fetch_all(db.pool())
            .await
            .expect("read");
    assert_eq!(payloads[0], ("4242:old".to_owned(), None), "the old payload is gone");
    assert!(payloads[1].1.is_some(), "the recent payload is kept");
    assert_eq!(s.activity().await.len(), 2, "the activity lines stay");
}

/// A Slack message carrying `text`, with its own event id.
fn slack_message(event_id: &str, text: &str) -> Vec<u8> {
    let mut message: Value = serde_json::from_slice(&fixture("slack-message.json")).expect("fixture");
    message["event_id"] = event_id.into();
    message["event"]["text"] = text.into();
    serde_json::to_vec(&message).expect("json")
}

#[tokio::test]
async fn a_poison_slack_message_is_sanitised_and_stalls_no_queue() {
    let s = setup().await;
    let mut socket = s.watch().await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let slack = s.integrate(json!({ "service": "slack", "secret": secret, "mirror_to_chat": true })).await;
    // Another team's GitHub events queue behind it.
    let other = s.relay.user("other").await;
    let other_team = other.create_team("Elsewhere").await;
    let (_, github) = other
        .post(&format!("/api/teams/{other_team}/integrations"), &json!({ "service": "github", "secret": "gh-secret" }))
        .await;
    let mut other_socket = RoomSocket::connect(&s.relay.url(""), other.token.as_deref().expect("token")).await;
    other_socket.join(&other_team).await;

    let poison = slack_message("EvPoison", "ship\u{0007}it\u{202e} now\u{0000}");
    let url = slack["webhook_url"].as_str().expect("url");
    let (status, _) = s.deliver(url, &slack_headers(secret, now(), &poison), poison).await;
    assert_eq!(status, StatusCode::OK);
    let push = fixture("github-push.json");
    let github_url = github["webhook_url"].as_str().expect("url");
    let (status, _) = s.deliver(github_url, &github_headers("gh-secret", "push", "after", &push), push).await;
    assert_eq!(status, StatusCode::OK);

    assert_eq!(other_socket.next_of("activity").await["item"]["summary"], "alice pushed 3 commits to main");
    let mirrored = socket.next_of("new_message").await;
    assert_eq!(mirrored["message"]["content"], "[Slack] U2147483697: shipit now", "control characters dropped");
    let activity = socket.next_of("activity").await;
    assert!(!activity["item"]["summary"].as_str().expect("summary").chars().any(char::is_control));
}

#[tokio::test]
async fn a_permanent_failure_is_recorded_for_admins_and_uses_the_creators_current_role() {
    let s = setup().await;
    let admin = s.relay.user("admin").await;
    s.owner.add_member(&s.team, "admin@example.test", "admin").await;
    let mut socket = s.watch().await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let (status, hook) = admin
        .post(
            &format!("/api/teams/{}/integrations", s.team),
            &json!({ "service": "slack", "secret": secret, "mirror_to_chat": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let id = hook["id"].as_str().expect("id");
    // The creator is now a viewer: their integration may no longer post for them.
    let admin_id = admin.user_id().await;
    let (status, _) =
        s.owner.patch(&format!("/api/teams/{}/members/{admin_id}", s.team), &json!({ "role": "viewer" })).await;
    assert_eq!(status, StatusCode::OK);

    let first = slack_message("EvOne", "as a viewer");
    let url = hook["webhook_url"].as_str().expect("url");
    s.deliver(url, &slack_headers(secret, now(), &first), first).await;
    let second = slack_message("EvTwo", "still a viewer");
    s.deliver(url, &slack_headers(secret, now(), &second), second).await;
    // Both are processed (recorded, not retried forever), in order.
    for text in ["as a viewer", "still a viewer"] {
        let item = socket.next_of("activity").await;
        assert!(item["item"]["summary"].as_str().is_some_and(|s| s.contains(text)), "{item}");
    }
    let (_, messages) = s.owner.get(&format!("/api/teams/{}/messages", s.team)).await;
    assert_eq!(messages["messages"].as_array().map(Vec::len), Some(0), "nothing posted with rights the creator lost");

    let failures = format!("/api/teams/{}/integrations/{id}/failures", s.team);
    let (status, list) = s.owner.get(&failures).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().expect("failures").clone();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(list.iter().all(|f| f["reason"].as_str().is_some_and(|r| r.starts_with("forbidden"))), "{list:?}");
    assert_eq!(list[0]["event_type"], "event_callback");
    let viewer = admin.get(&failures).await;
    assert_error(viewer.0, &viewer.1, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test]
async fn an_integration_whose_creator_left_is_disabled_until_an_admin_rotates_its_secret() {
    let s = setup().await;
    let admin = s.relay.user("admin").await;
    s.owner.add_member(&s.team, "admin@example.test", "admin").await;
    let path = format!("/api/teams/{}/integrations", s.team);
    let (status, hook) = admin.post(&path, &json!({ "service": "github" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let (id, url) = (hook["id"].as_str().expect("id"), hook["webhook_url"].as_str().expect("url"));
    let old_secret = hook["secret"].as_str().expect("secret");
    let push = fixture("github-push.json");

    let admin_id = admin.user_id().await;
    assert_eq!(s.owner.delete(&format!("/api/teams/{}/members/{admin_id}", s.team)).await.0, StatusCode::NO_CONTENT);
    let (_, list) = s.owner.get(&path).await;
    assert_eq!(list[0]["disabled"], "creator_removed", "shown as disabled: {list}");
    let (status, error) = s.deliver(url, &github_headers(old_secret, "push", "d1", &push), push.clone()).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");

    let (status, rotated) = s.owner.post(&format!("{path}/{id}/rotate"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["webhook_url"], url, "the URL the provider holds stays");
    let new_secret = rotated["secret"].as_str().expect("new secret");
    assert_ne!(new_secret, old_secret);
    let (_, list) = s.owner.get(&path).await;
    assert!(list[0].get("disabled").is_none(), "enabled again: {list}");
    assert_eq!(list[0]["created_by"], s.owner.user_id().await, "acting for the admin who rotated it");
    let (status, error) = s.deliver(url, &github_headers(old_secret, "push", "d2", &push), push.clone()).await;
    assert_error(status, &error, StatusCode::UNAUTHORIZED, "invalid_signature");
    let (status, body) = s.deliver(url, &github_headers(new_secret, "push", "d3", &push), push).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "stored" })));
    // Slack's secret comes from Slack: rotating needs the new one.
    let (_, slack) = s.owner.post(&path, &json!({ "service": "slack", "secret": "first-secret" })).await;
    let slack_rotate = format!("{path}/{}/rotate", slack["id"].as_str().expect("id"));
    let (status, error) = s.owner.post(&slack_rotate, &json!({})).await;
    assert_error(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let (status, error) = admin.post(&slack_rotate, &json!({ "secret": "second-secret" })).await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn github_replays_under_a_new_delivery_id_are_duplicates() {
    let s = setup().await;
    let secret = "It's a Secret to Everybody";
    let hook = s.integrate(json!({ "service": "github", "secret": secret })).await;
    let url = hook["webhook_url"].as_str().expect("url");
    let push = fixture("github-push.json");
    let (_, body) = s.deliver(url, &github_headers(secret, "push", "first", &push), push.clone()).await;
    assert_eq!(body, json!({ "status": "stored" }));
    // The delivery header is not signed: the same signed body under another id is the same event.
    let (_, body) = s.deliver(url, &github_headers(secret, "push", "forged", &push), push).await;
    assert_eq!(body, json!({ "status": "duplicate" }));
}

#[tokio::test]
async fn an_extreme_slack_timestamp_is_refused_not_a_fault() {
    let s = setup().await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let hook = s.integrate(json!({ "service": "slack", "secret": secret })).await;
    let url = hook["webhook_url"].as_str().expect("url");
    let message = fixture("slack-message.json");
    for timestamp in [i64::MIN, i64::MAX, -1] {
        let (status, error) = s.deliver(url, &slack_headers(secret, timestamp, &message), message.clone()).await;
        assert_error(status, &error, StatusCode::UNAUTHORIZED, "invalid_signature");
    }
}

/// Sends a request's head on a raw connection, so a test controls when (and whether) its body follows.
async fn raw_request(relay: &TestRelay, path: &str, headers: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt as _;
    let addr = relay.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n");
    stream.write_all(head.as_bytes()).await.expect("send head");
    stream
}

/// Reads up to the end of the next response head and answers its status line.
async fn read_status(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt as _;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(std::time::Duration::from_secs(30), stream.read(&mut byte))
            .await
            .expect("an answer in time")
            .expect("read");
        assert_eq!(read, 1, "connection closed before an answer: {}", String::from_utf8_lossy(&head));
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn webhook_bodies_are_capped_per_service_after_the_lookup_and_receives_are_bounded() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.limits.max_webhook_receives = 1;
    let s = setup_on(TestRelay::start_with(dir, config).await).await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let hook = s.integrate(json!({ "service": "slack", "secret": secret })).await;
    let url = hook["webhook_url"].as_str().expect("url");
    let path = url.split_once("/api/").map(|(_, p)| format!("/api/{p}")).expect("path");

    // An unknown integration is refused before any of its (claimed) 30 MB is read.
    let mut unknown = raw_request(&s.relay, "/api/webhooks/github/0000", "Content-Length: 30000000\r\n").await;
    assert!(read_status(&mut unknown).await.contains(" 404 "), "looked up first");

    // Slack sends small events: 2 MiB, signed, is refused.
    let big = slack_message("EvBig", &"x".repeat(2 * 1024 * 1024));
    let (status, error) = s.deliver(url, &slack_headers(secret, now(), &big), big).await;
    assert_error(status, &error, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // One receive at a time here: a sender holding the slot (the relay asked for its body) turns others away.
    let mut slow = raw_request(&s.relay, &path, "Content-Length: 2\r\nExpect: 100-continue\r\n").await;
    assert!(read_status(&mut slow).await.contains(" 100 "), "the relay is reading this body");
    let message = fixture("slack-message.json");
    let response = reqwest::Client::new().post(s.relay.url(&path)).body(message.clone()).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    {
        use tokio::io::AsyncWriteExt as _;
        slow.write_all(b"{}").await.expect("finish the body");
    }
    assert!(read_status(&mut slow).await.contains(" 401 "), "unsigned");
    let (status, body) = s.deliver(url, &slack_headers(secret, now(), &message), message).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "stored" })), "the slot is free again");
}

/// More activity than one page: the node reads the latest page, then the older ones by their cursor, and
/// keeps each, so a page read before is there offline too.
#[tokio::test]
async fn a_node_pages_back_through_activity_and_keeps_the_pages_offline() {
    let s = setup().await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let hook = s.integrate(json!({ "service": "slack", "secret": secret })).await;
    let url = hook["webhook_url"].as_str().expect("url").to_owned();
    let mut socket = s.watch().await;
    const EVENTS: usize = 53;
    for n in 0..EVENTS {
        let body = slack_message(&format!("Ev{n:03}"), &format!("line {n}"));
        let (status, _) = s.deliver(&url, &slack_headers(secret, now(), &body), body).await;
        assert_eq!(status, StatusCode::OK);
    }
    for _ in 0..EVENTS {
        socket.next_of("activity").await;
    }

    let dir = DataDir::new();
    let node = teamflow_node::Node::open(dir.path(), &s.relay.url("")).await.expect("open node");
    node.sign_in("owner@example.test", teamflow_tests::PASSWORD).await.expect("sign in");
    let team: teamflow_protocol::TeamId = s.team.parse().expect("team id");
    let summary = |item: &teamflow_protocol::api::integrations::ActivityItem| item.summary.clone();
    let latest = node.activity(team, None).await.expect("latest page");
    assert_eq!(latest.items.len(), 50, "one page");
    assert!(summary(&latest.items[0]).contains("line 52"), "newest first: {:?}", latest.items[0]);
    let before = latest.next_before.expect("an older page exists");
    let older = node.activity(team, Some(before)).await.expect("older page");
    assert_eq!(older.items.len(), 3);
    assert!(summary(&older.items[2]).contains("line 0"), "{:?}", older.items);
    assert_eq!(older.next_before, None, "the oldest page says so");

    let addr = s.relay.addr;
    let dir = s.relay.stop().await;
    let offline = node.activity(team, None).await.expect("the latest page, kept");
    assert_eq!(offline.items.len(), 50);
    assert_eq!(offline.next_before, Some(before));
    let offline_older = node.activity(team, Some(before)).await.expect("the older page, kept");
    assert_eq!(offline_older.items.len(), 3);

    // Read afresh, the latest page drops the older ones kept: their cursors move with new events.
    let relay = TestRelay::start_again(dir, addr).await;
    node.activity(team, None).await.expect("the latest page, afresh");
    relay.stop().await;
    assert!(matches!(node.activity(team, Some(before)).await, Err(teamflow_node::NodeError::NotCached(_))));
}
