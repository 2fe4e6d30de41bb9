//! Every protected route, taken from the OpenAPI document so a new route cannot slip past: no token,
//! bad token and expired token get 401; a non-member gets 404; a viewer gets 403 on writes; a bad or
//! oversized body is refused.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use teamflow_relay::auth::{AUDIENCE, AccessClaims};
use teamflow_tests::{Client, TestRelay, assert_error, document_url};

struct Route {
    method: Method,
    template: String,
    /// A body the route accepts, for routes that take one.
    body: Option<Value>,
}

/// A valid body for each route that takes one. A route missing here fails `every_route_is_covered`.
fn sample_body(method: &Method, template: &str) -> Option<Value> {
    let body = match (method.as_str(), template) {
        ("POST", "/api/teams") | ("PUT", "/api/teams/{team_id}") => json!({ "name": "Renamed" }),
        ("POST", "/api/teams/{team_id}/members") => json!({ "email": "outsider@example.test", "role": "viewer" }),
        ("PATCH", "/api/teams/{team_id}/members/{user_id}") => json!({ "role": "viewer" }),
        ("POST", "/api/teams/{team_id}/projects") | ("PUT", "/api/teams/{team_id}/projects/{project_id}") => {
            json!({ "name": "P" })
        }
        ("PUT", "/api/teams/{team_id}/settings") => json!({
            "description": "",
            "default_project_status": "active",
            "members_can_create_projects": true,
            "webhook_payload_retention_days": 30,
        }),
        ("POST", "/api/teams/{team_id}/messages") => json!({ "client_id": "guard", "content": "hi" }),
        ("POST", "/api/teams/{team_id}/documents") => json!({ "document_id": document_url(42), "title": "Doc" }),
        ("POST", "/api/teams/{team_id}/integrations") => json!({ "service": "github" }),
        ("POST", "/api/devices/certificate") => {
            json!({ "peer_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", "nonce": "n", "signature": "s" })
        }
        _ => return None,
    };
    Some(body)
}

fn protected_routes() -> Vec<Route> {
    let spec = serde_json::to_value(teamflow_relay::http::openapi()).expect("openapi as json");
    let mut routes = Vec::new();
    for (template, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            if operation.get("security").is_none() {
                continue;
            }
            let body = operation.get("requestBody").map(|_| {
                sample_body(&method, template).unwrap_or_else(|| panic!("no sample body for {method} {template}"))
            });
            routes.push(Route { method, template: template.clone(), body });
        }
    }
    routes
}

struct Fixture {
    relay: TestRelay,
    owner: Client,
    viewer: Client,
    outsider: Client,
    team: String,
    project: String,
    owner_id: String,
}

impl Fixture {
    async fn new() -> Self {
        let relay = TestRelay::start().await;
        let owner = relay.user("owner").await;
        let viewer = relay.user("viewer").await;
        let outsider = relay.user("outsider").await;
        let team = owner.create_team("Guarded").await;
        owner.add_member(&team, "viewer@example.test", "viewer").await;
        let (_, project) = owner.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "P" })).await;
        let project = project["id"].as_str().expect("project id").to_owned();
        let owner_id = owner.user_id().await;
        Self { relay, owner, viewer, outsider, team, project, owner_id }
    }

    fn path(&self, route: &Route) -> String {
        route
            .template
            .replace("{team_id}", &self.team)
            .replace("{project_id}", &self.project)
            .replace("{user_id}", &self.owner_id)
            .replace("{integration_id}", "no-such-integration")
    }
}

#[tokio::test]
async fn every_route_is_covered() {
    let routes = protected_routes();
    assert!(routes.len() >= 20, "found only {} protected routes", routes.len());
    assert!(routes.iter().any(|r| r.template == "/api/me"));
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_get_401_with_a_challenge() {
    let f = Fixture::new().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let sub = f.owner_id.clone();
    let expired = f.relay.sign(&AccessClaims {
        sub,
        iss: "teamflow-relay".into(),
        aud: AUDIENCE.into(),
        iat: now - 1000,
        exp: now - 100,
    });
    for route in protected_routes() {
        let path = f.path(&route);
        for (case, token) in
            [("no token", None), ("bad token", Some("bad.token.value")), ("expired", Some(expired.as_str()))]
        {
            let response = f.owner.with_token(token).request(route.method.clone(), &path, route.body.as_ref()).await;
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}: {} {}", route.method, route.template);
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let body: Value = response.json().await.expect("json");
            assert_eq!(body["error"]["code"], "unauthorized", "{case}: {} {}", route.method, route.template);
        }
    }
}

#[tokio::test]
async fn non_members_get_404_on_everything_under_a_team() {
    let f = Fixture::new().await;
    for route in protected_routes().into_iter().filter(|r| r.template.contains("{team_id}")) {
        let (status, body) = f.outsider.send(route.method.clone(), &f.path(&route), route.body.as_ref()).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    }
    // And nothing changed on their account.
    assert_eq!(f.owner.get(&format!("/api/teams/{}", f.team)).await.1["name"], "Guarded");
}

#[tokio::test]
async fn viewers_get_403_on_every_write() {
    let f = Fixture::new().await;
    let writes = protected_routes().into_iter().filter(|r| r.template.contains("{team_id}") && r.method != Method::GET);
    let mut checked = 0;
    for route in writes {
        let (status, body) = f.viewer.send(route.method.clone(), &f.path(&route), route.body.as_ref()).await;
        assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} write routes");
}

#[tokio::test]
async fn invalid_and_oversized_bodies_are_refused_on_every_body_route() {
    let f = Fixture::new().await;
    let huge = json!({ "name": "x".repeat(300 * 1024) });
    for route in protected_routes().into_iter().filter(|r| r.body.is_some()) {
        let path = f.path(&route);
        let label = format!("{} {}", route.method, route.template);
        let (status, body) = f.owner.send(route.method.clone(), &path, Some(&json!({ "surprise": true }))).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        // serde reports a positional array against a struct as syntax or data, depending on the struct.
        let (status, body) = f.owner.send(route.method.clone(), &path, Some(&json!([1, 2, 3]))).await;
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY, "{label}: {status}");
        assert_eq!(body["error"]["code"], "validation_failed", "{label}");
        let (status, body) = f.owner.send(route.method.clone(), &path, Some(&huge)).await;
        assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
        let response = f
            .owner
            .http
            .request(route.method.clone(), format!("{}{path}", f.owner.base))
            .bearer_auth(f.owner.token.as_deref().expect("token"))
            .header("content-type", "application/json")
            .body("{\"")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{label}: truncated JSON");
        let response = f
            .owner
            .http
            .request(route.method.clone(), format!("{}{path}", f.owner.base))
            .bearer_auth(f.owner.token.as_deref().expect("token"))
            .header("content-type", "text/plain")
            .body("name=x")
            .send()
            .await
            .expect("send");
        assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{label}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unsupported_media_type", "{label}");
    }
    // None of that wrote anything.
    assert_eq!(f.owner.get(&format!("/api/teams/{}", f.team)).await.1["name"], "Guarded");
    assert_eq!(f.owner.get(&format!("/api/teams/{}/messages", f.team)).await.1["messages"], json!([]));
}
