//! Sign-up, sign-in, refresh rotation with reuse detection, sign-out, and token checks.

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_relay::auth::{AUDIENCE, AccessClaims};
use teamflow_tests::{TestRelay, assert_error};

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

async fn register(relay: &TestRelay, email: &str) -> (StatusCode, Value) {
    relay
        .client()
        .post("/api/auth/register", &json!({ "email": email, "password": "correct horse", "display_name": "Alice" }))
        .await
}

#[tokio::test]
async fn register_signs_in_and_me_answers_the_user() {
    let relay = TestRelay::start().await;
    let (status, body) = register(&relay, "  Alice@Example.TEST ").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["user"]["email"], "alice@example.test", "emails are normalised");
    assert_eq!(body["expires_in"], 900);
    assert!(body["refresh_token"].as_str().is_some_and(|t| t.len() >= 40));

    let me = relay.client().with_token(body["access_token"].as_str());
    let (status, me_body) = me.get("/api/me").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me_body["user"], body["user"]);
    assert_eq!(me_body["teams"], json!([]));

    let team = me.create_team("Design").await;
    let (_, me_body) = me.get("/api/me").await;
    assert_eq!(me_body["teams"], json!([{ "id": team, "name": "Design", "role": "owner" }]));
}

#[tokio::test]
async fn an_email_registers_once_whatever_its_case() {
    let relay = TestRelay::start().await;
    assert_eq!(register(&relay, "bob@example.test").await.0, StatusCode::CREATED);
    let (status, body) = register(&relay, "BOB@example.test").await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn registration_reports_every_invalid_field() {
    let relay = TestRelay::start().await;
    let (status, body) = relay
        .client()
        .post("/api/auth/register", &json!({ "email": "nope", "password": "short", "display_name": "  " }))
        .await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    let details = &body["error"]["details"];
    for field in ["email", "password", "display_name"] {
        assert!(details[field].is_string(), "{field} missing from {details}");
    }
    let (status, body) = relay
        .client()
        .post(
            "/api/auth/register",
            &json!({ "email": "a@example.test", "password": "x".repeat(10_000), "display_name": "A" }),
        )
        .await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(body["error"]["details"]["password"].is_string());
}

#[tokio::test]
async fn login_refuses_wrong_passwords_and_unknown_emails_alike() {
    let relay = TestRelay::start().await;
    register(&relay, "carol@example.test").await;
    let client = relay.client();
    let (status, ok) =
        client.post("/api/auth/login", &json!({ "email": "CAROL@example.test", "password": "correct horse" })).await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(ok["user"]["email"], "carol@example.test");

    let (s1, wrong) =
        client.post("/api/auth/login", &json!({ "email": "carol@example.test", "password": "wrong horse" })).await;
    let (s2, unknown) =
        client.post("/api/auth/login", &json!({ "email": "nobody@example.test", "password": "correct horse" })).await;
    assert_error(s1, &wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_error(s2, &unknown, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(wrong, unknown, "the answer must not reveal which emails exist");
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let relay = TestRelay::start().await;
    let (_, first) = register(&relay, "dave@example.test").await;
    let client = relay.client();
    let first_refresh = first["refresh_token"].as_str().expect("token");

    let (status, second) = client.post("/api/auth/refresh", &json!({ "refresh_token": first_refresh })).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let second_refresh = second["refresh_token"].as_str().expect("token");
    assert_ne!(second_refresh, first_refresh, "refresh tokens rotate");
    let (status, _) = client.with_token(second["access_token"].as_str()).get("/api/me").await;
    assert_eq!(status, StatusCode::OK, "the new access token works");

    // The client rotates again; then someone replays the spent first token: refused (it is no retry: what it
    // led to was used), and the legitimate newest token dies with it.
    let (status, third) = client.post("/api/auth/refresh", &json!({ "refresh_token": second_refresh })).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let (status, body) = client.post("/api/auth/refresh", &json!({ "refresh_token": first_refresh })).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = client.post("/api/auth/refresh", &json!({ "refresh_token": third["refresh_token"] })).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    // Another sign-in of the same user is a separate family and still works.
    let (_, other) =
        client.post("/api/auth/login", &json!({ "email": "dave@example.test", "password": "correct horse" })).await;
    let (status, _) = client.post("/api/auth/refresh", &json!({ "refresh_token": other["refresh_token"] })).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_are_retries_not_reuse() {
    let relay = TestRelay::start().await;
    let (_, session) = register(&relay, "erin@example.test").await;
    let client = relay.client();
    let token = session["refresh_token"].clone();
    let attempts = (0..8).map(|_| {
        let client = client.clone();
        let token = token.clone();
        tokio::spawn(async move { client.post("/api/auth/refresh", &json!({ "refresh_token": token })).await })
    });
    let mut answers = Vec::new();
    for attempt in attempts {
        let (status, body) = attempt.await.expect("task");
        assert_eq!(status, StatusCode::OK, "a retry within the grace is answered: {body}");
        answers.push(body);
    }
    // The client keeps one answer; its token works, so the sign-in was not revoked.
    let (status, _) = client.post("/api/auth/refresh", &json!({ "refresh_token": answers[0]["refresh_token"] })).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn logout_revokes_the_sign_in() {
    let relay = TestRelay::start().await;
    let (_, session) = register(&relay, "frank@example.test").await;
    let client = relay.client();
    let token = json!({ "refresh_token": session["refresh_token"] });
    assert_eq!(client.post("/api/auth/logout", &token).await.0, StatusCode::NO_CONTENT);
    let (status, body) = client.post("/api/auth/refresh", &token).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    // Signing out again, or with nonsense, is harmless.
    assert_eq!(client.post("/api/auth/logout", &token).await.0, StatusCode::NO_CONTENT);
    assert_eq!(
        client.post("/api/auth/logout", &json!({ "refresh_token": "nonsense" })).await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn expired_forged_and_misdirected_access_tokens_are_refused_with_a_challenge() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let sub = alice.user_id().await;
    let now = unix_now();
    let claims = |aud: &str, exp: u64| AccessClaims {
        sub: sub.clone(),
        iss: "teamflow-relay".into(),
        aud: aud.into(),
        iat: now,
        exp,
        sid: "a-session".into(),
    };
    let other_relay = TestRelay::start().await;
    let cases = [
        ("expired", relay.sign(&claims(AUDIENCE, now - 120)).await),
        ("wrong audience", relay.sign(&claims("someone-else", now + 600)).await),
        ("other relay's key", other_relay.sign(&claims(AUDIENCE, now + 600)).await),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (case, token) in cases {
        let response = alice.with_token(Some(&token)).request(reqwest::Method::GET, "/api/me", None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer", "{case}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unauthorized", "{case}");
    }
    // The relay's own, well-formed token still works: the failures above are about the token alone.
    let valid = relay.sign(&claims(AUDIENCE, now + 600)).await;
    assert_eq!(alice.with_token(Some(&valid)).get("/api/me").await.0, StatusCode::OK);
}
