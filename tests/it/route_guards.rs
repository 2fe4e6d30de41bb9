//! Every protected route, taken from the OpenAPI document so a new route cannot slip past: no token,
//! bad token and expired token get 401; a non-member gets 404; a viewer gets 403 on writes; a bad or
//! oversized body is refused. The authorization matrix writes down, once per route, what each kind of
//! caller gets; a route without an entry (or an entry without a route) fails it.

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
        ("POST", "/api/teams/{team_id}/projects")
        | ("PUT", "/api/teams/{team_id}/projects/{project_id}")
        | ("PATCH", "/api/teams/{team_id}/projects/{project_id}") => json!({ "name": "P" }),
        ("POST", "/api/teams/{team_id}/projects/{project_id}/tasks") => json!({ "title": "T" }),
        ("PATCH", "/api/teams/{team_id}/projects/{project_id}/tasks/{task_id}") => json!({ "done": true }),
        ("PUT", "/api/teams/{team_id}/settings") => json!({
            "description": "",
            "default_project_status": "active",
            "members_can_create_projects": true,
            "webhook_payload_retention_days": 30,
        }),
        ("POST", "/api/teams/{team_id}/messages") => json!({ "client_id": "guard", "content": "hi" }),
        ("PATCH", "/api/teams/{team_id}/messages/{message_id}") => json!({ "content": "changed" }),
        ("PUT", "/api/teams/{team_id}/messages/{message_id}/reactions") => json!({ "emoji": "👍", "on": true }),
        ("PUT", "/api/teams/{team_id}/read") => json!({ "seq": 0 }),
        ("POST", "/api/teams/{team_id}/documents") => json!({ "document_id": document_url(42), "title": "Doc" }),
        ("PATCH", "/api/teams/{team_id}/documents/{document_id}") => json!({ "title": "Renamed" }),
        ("POST", "/api/teams/{team_id}/integrations") => json!({ "service": "github" }),
        ("POST", "/api/teams/{team_id}/invitations") => json!({ "role": "viewer" }),
        ("POST", "/api/auth/reset-password") => json!({ "token": "no-such-token", "new_password": "a new password" }),
        ("POST", "/api/me/password") => json!({ "current_password": "wrong password", "new_password": "new password" }),
        ("PATCH", "/api/me") => json!({ "display_name": "Renamed" }),
        ("DELETE", "/api/me") => json!({ "password": "wrong password" }),
        ("POST", "/api/teams/{team_id}/integrations/{integration_id}/rotate") => json!({}),
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
    document: String,
    owner_id: String,
    message: String,
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
        let document = document_url(43);
        let (status, body) = owner
            .post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": document, "title": "Guarded" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let owner_id = owner.user_id().await;
        let (_, message) =
            owner.post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "m", "content": "hi" })).await;
        let message = message["id"].as_str().expect("message id").to_owned();
        Self { relay, owner, viewer, outsider, team, project, document, owner_id, message }
    }

    fn path(&self, route: &Route) -> String {
        route
            .template
            .replace("{team_id}", &self.team)
            .replace("{project_id}", &self.project)
            .replace("{document_id}", &self.document)
            .replace("{task_id}", "018f2f4e-0000-7000-8000-000000000001")
            .replace("{user_id}", &self.owner_id)
            .replace("{message_id}", &self.message)
            .replace("{integration_id}", "no-such-integration")
            .replace("{invitation_id}", "018f2f4e-0000-7000-8000-000000000000")
            .replace("{token}", "no-such-invitation")
    }
}

/// What each caller gets from a route: outsider (signed in, not in the team), viewer, member, admin, owner.
/// Routes outside a team answer an outsider as any signed-in user.
type Answers = [u16; 5];

/// The authorization matrix: one line per route of the OpenAPI document. Routes with `security` also answer
/// 401 to no token and to an expired one; public routes give the status an anonymous call gets instead.
enum Expect {
    Secured(Answers),
    Public(u16),
}

fn matrix() -> Vec<(&'static str, &'static str, Expect)> {
    use Expect::{Public, Secured};
    vec![
        ("POST", "/api/auth/register", Public(201)),
        ("POST", "/api/auth/login", Public(200)),
        ("POST", "/api/auth/refresh", Public(401)),
        ("POST", "/api/auth/logout", Public(204)),
        ("POST", "/api/webhooks/{service}/{integration_id}", Public(401)),
        ("HEAD", "/api/webhooks/{service}/{integration_id}", Public(200)),
        // The sample's nonce was never issued to the caller: refused as unproven for anyone signed in (the
        // accepted path, with a signed nonce, is in tests/it/devices.rs).
        ("POST", "/api/devices/certificate", Secured([422, 422, 422, 422, 422])),
        ("GET", "/api/devices/relay", Secured([200, 200, 200, 200, 200])),
        ("POST", "/api/devices/nonce", Secured([200, 200, 200, 200, 200])),
        ("GET", "/api/devices/revocations", Secured([200, 200, 200, 200, 200])),
        ("GET", "/api/me", Secured([200, 200, 200, 200, 200])),
        ("PATCH", "/api/me", Secured([200, 200, 200, 200, 200])),
        // With a wrong password: the route is reached, the password refused.
        ("DELETE", "/api/me", Secured([422, 422, 422, 422, 422])),
        ("POST", "/api/me/password", Secured([422, 422, 422, 422, 422])),
        // Ends every sign-in of its caller: called by a user of its own (see below).
        ("POST", "/api/auth/logout-all", Secured([204, 204, 204, 204, 204])),
        ("POST", "/api/auth/ticket", Secured([200, 200, 200, 200, 200])),
        ("POST", "/api/auth/reset-password", Public(404)),
        ("GET", "/api/invitations/{token}", Public(404)),
        ("POST", "/api/invitations/{token}/accept", Secured([404, 404, 404, 404, 404])),
        ("POST", "/api/invitations/{token}/decline", Secured([404, 404, 404, 404, 404])),
        ("GET", "/api/teams/{team_id}/invitations", Secured([404, 403, 403, 200, 200])),
        ("POST", "/api/teams/{team_id}/invitations", Secured([404, 403, 403, 201, 201])),
        ("DELETE", "/api/teams/{team_id}/invitations/{invitation_id}", Secured([404, 404, 404, 404, 404])),
        ("GET", "/api/teams", Secured([200, 200, 200, 200, 200])),
        ("POST", "/api/teams", Secured([201, 201, 201, 201, 201])),
        // Without an upgrade request (and, for /sync, the announced peer id) the socket routes refuse, but
        // only once the token has been checked.
        ("GET", "/api/ws", Secured([400, 400, 400, 400, 400])),
        ("GET", "/sync", Secured([422, 422, 422, 422, 422])),
        ("GET", "/api/teams/{team_id}", Secured([404, 200, 200, 200, 200])),
        ("PUT", "/api/teams/{team_id}", Secured([404, 403, 403, 200, 200])),
        ("DELETE", "/api/teams/{team_id}", Secured([404, 403, 403, 403, 204])),
        ("GET", "/api/teams/{team_id}/activity", Secured([404, 200, 200, 200, 200])),
        ("GET", "/api/teams/{team_id}/analytics", Secured([404, 200, 200, 200, 200])),
        ("GET", "/api/teams/{team_id}/devices", Secured([404, 200, 200, 200, 200])),
        ("GET", "/api/teams/{team_id}/documents", Secured([404, 200, 200, 200, 200])),
        // Every member may ask; each is answered only the deleted documents they may restore.
        ("GET", "/api/teams/{team_id}/documents/deleted", Secured([404, 200, 200, 200, 200])),
        ("POST", "/api/teams/{team_id}/documents", Secured([404, 403, 201, 201, 201])),
        // The owner registered the scene's document: a member renames it but may not delete or restore it.
        ("PATCH", "/api/teams/{team_id}/documents/{document_id}", Secured([404, 403, 200, 200, 200])),
        ("DELETE", "/api/teams/{team_id}/documents/{document_id}", Secured([404, 403, 403, 204, 204])),
        ("POST", "/api/teams/{team_id}/documents/{document_id}/restore", Secured([404, 403, 403, 200, 200])),
        ("GET", "/api/teams/{team_id}/integrations", Secured([404, 403, 403, 200, 200])),
        ("POST", "/api/teams/{team_id}/integrations", Secured([404, 403, 403, 201, 201])),
        ("DELETE", "/api/teams/{team_id}/integrations/{integration_id}", Secured([404, 403, 403, 204, 204])),
        ("GET", "/api/teams/{team_id}/integrations/{integration_id}/failures", Secured([404, 403, 403, 200, 200])),
        ("POST", "/api/teams/{team_id}/integrations/{integration_id}/rotate", Secured([404, 403, 403, 200, 200])),
        ("GET", "/api/teams/{team_id}/members", Secured([404, 200, 200, 200, 200])),
        ("POST", "/api/teams/{team_id}/members", Secured([404, 403, 403, 202, 202])),
        // {user_id} is the member: a member may lower their own role, and leave.
        ("PATCH", "/api/teams/{team_id}/members/{user_id}", Secured([404, 403, 200, 200, 200])),
        ("DELETE", "/api/teams/{team_id}/members/{user_id}", Secured([404, 403, 204, 204, 204])),
        ("GET", "/api/teams/{team_id}/messages", Secured([404, 200, 200, 200, 200])),
        ("GET", "/api/teams/{team_id}/messages/changes", Secured([404, 200, 200, 200, 200])),
        ("POST", "/api/teams/{team_id}/messages", Secured([404, 403, 201, 201, 201])),
        // The scene's message is the member's: only they rewrite it; they, admins and owners delete it.
        ("PATCH", "/api/teams/{team_id}/messages/{message_id}", Secured([404, 403, 200, 403, 403])),
        ("DELETE", "/api/teams/{team_id}/messages/{message_id}", Secured([404, 403, 200, 200, 200])),
        // Anyone who writes in the team reacts to anyone's message; a viewer reads.
        ("PUT", "/api/teams/{team_id}/messages/{message_id}/reactions", Secured([404, 403, 200, 200, 200])),
        // Everyone who can read the chat keeps a read position, viewers too.
        ("GET", "/api/teams/{team_id}/read", Secured([404, 200, 200, 200, 200])),
        ("PUT", "/api/teams/{team_id}/read", Secured([404, 200, 200, 200, 200])),
        ("GET", "/api/teams/{team_id}/projects", Secured([404, 200, 200, 200, 200])),
        ("POST", "/api/teams/{team_id}/projects", Secured([404, 403, 201, 201, 201])),
        ("GET", "/api/teams/{team_id}/projects/{project_id}", Secured([404, 200, 200, 200, 200])),
        ("PUT", "/api/teams/{team_id}/projects/{project_id}", Secured([404, 403, 200, 200, 200])),
        ("PATCH", "/api/teams/{team_id}/projects/{project_id}", Secured([404, 403, 200, 200, 200])),
        ("GET", "/api/teams/{team_id}/projects/{project_id}/history", Secured([404, 200, 200, 200, 200])),
        ("GET", "/api/teams/{team_id}/projects/{project_id}/tasks", Secured([404, 200, 200, 200, 200])),
        ("POST", "/api/teams/{team_id}/projects/{project_id}/tasks", Secured([404, 403, 201, 201, 201])),
        ("PATCH", "/api/teams/{team_id}/projects/{project_id}/tasks/{task_id}", Secured([404, 403, 200, 200, 200])),
        ("DELETE", "/api/teams/{team_id}/projects/{project_id}/tasks/{task_id}", Secured([404, 403, 204, 204, 204])),
        ("DELETE", "/api/teams/{team_id}/projects/{project_id}", Secured([404, 403, 403, 204, 204])),
        ("GET", "/api/teams/{team_id}/settings", Secured([404, 200, 200, 200, 200])),
        ("PUT", "/api/teams/{team_id}/settings", Secured([404, 403, 403, 200, 200])),
    ]
}

/// Every route of the OpenAPI document with its sample body (if it takes one), public ones included.
fn all_routes() -> Vec<Route> {
    let spec = serde_json::to_value(teamflow_relay::http::openapi()).expect("openapi as json");
    let mut routes = Vec::new();
    for (template, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let body = operation.get("requestBody").map(|_| {
                public_body(&method, template)
                    .or_else(|| sample_body(&method, template))
                    .unwrap_or_else(|| panic!("no sample body for {method} {template}"))
            });
            routes.push(Route { method, template: template.clone(), body });
        }
    }
    routes
}

fn public_body(method: &Method, template: &str) -> Option<Value> {
    let body = match (method.as_str(), template) {
        ("POST", "/api/auth/register") => {
            json!({ "email": "newcomer@example.test", "password": "correct horse battery", "display_name": "New" })
        }
        ("POST", "/api/auth/login") => json!({ "email": "owner@example.test", "password": "correct horse battery" }),
        ("POST", "/api/auth/refresh" | "/api/auth/logout") => json!({ "refresh_token": "not-a-token" }),
        ("POST", "/api/webhooks/{service}/{integration_id}") => json!({ "zen": "unsigned" }),
        _ => return None,
    };
    Some(body)
}

/// One team as each check needs it, fresh, so a check that deletes something leaves the next one whole.
struct Scene {
    team: String,
    project: String,
    task: String,
    integration: String,
    document: String,
    message: String,
}

/// A document URL of its own for the `n`th scene (more scenes than `document_url`'s 256).
fn scene_document(n: u32) -> String {
    let mut bytes = [9u8; 16];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    teamflow_protocol::DocumentUrl::from_bytes(bytes).to_string()
}

#[tokio::test]
async fn the_authorization_matrix_holds_for_every_route() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let admin = relay.user("admin").await;
    let member = relay.user("member").await;
    let viewer = relay.user("viewer").await;
    let outsider = relay.user("outsider").await;
    let member_id = member.user_id().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let expired = relay
        .sign(&AccessClaims {
            sub: owner.user_id().await,
            iss: "teamflow-relay".into(),
            aud: AUDIENCE.into(),
            iat: now - 1000,
            exp: now - 100,
            sid: owner.session_id(),
        })
        .await;

    let routes = all_routes();
    let matrix = matrix();
    let missing: Vec<String> = routes
        .iter()
        .filter(|r| !matrix.iter().any(|(m, t, _)| *m == r.method.as_str() && *t == r.template))
        .map(|r| format!("{} {}", r.method, r.template))
        .collect();
    assert!(missing.is_empty(), "routes without an entry in the authorization matrix: {missing:?}");
    let stale: Vec<String> = matrix
        .iter()
        .filter(|(m, t, _)| !routes.iter().any(|r| r.method.as_str() == *m && r.template == *t))
        .map(|(m, t, _)| format!("{m} {t}"))
        .collect();
    assert!(stale.is_empty(), "matrix entries for routes that do not exist: {stale:?}");

    let mut documents = 100u8;
    let mut scenes = 0u32;
    let mut failures = Vec::new();
    for route in &routes {
        let expect =
            &matrix.iter().find(|(m, t, _)| *m == route.method.as_str() && *t == route.template).expect("entry").2;
        let callers: Vec<(&str, Client, u16)> = match expect {
            Expect::Public(status) => vec![("anonymous", relay.client(), *status)],
            Expect::Secured(answers) => {
                let mut callers = vec![
                    ("no token", owner.with_token(None), 401),
                    ("expired token", owner.with_token(Some(&expired)), 401),
                ];
                for (i, (name, client)) in [
                    ("outsider", &outsider),
                    ("viewer", &viewer),
                    ("member", &member),
                    ("admin", &admin),
                    ("owner", &owner),
                ]
                .into_iter()
                .enumerate()
                {
                    callers.push((name, client.clone(), answers[i]));
                }
                callers
            }
        };
        // Ending every sign-in of the caller would sign the matrix's own users out: a user of its own.
        let callers = if route.template == "/api/auth/logout-all" {
            let own = relay.user(&format!("leaver{documents}")).await;
            documents += 1;
            let expected = if let Expect::Secured(answers) = expect { answers[4] } else { 204 };
            let mut callers = callers;
            callers.truncate(2);
            callers.push(("a user of its own", own, expected));
            callers
        } else {
            callers
        };
        for (caller, client, expected) in callers {
            // A fresh team for every call: the owner, an admin, a member and a viewer, a project, an integration.
            let team = owner.create_team("Matrix").await;
            for (who, role) in [("admin", "admin"), ("member", "member"), ("viewer", "viewer")] {
                owner.add_member(&team, &format!("{who}@example.test"), role).await;
            }
            let (_, project) = owner.post(&format!("/api/teams/{team}/projects"), &json!({ "name": "P" })).await;
            let project = project["id"].as_str().expect("project").to_owned();
            let (_, task) =
                owner.post(&format!("/api/teams/{team}/projects/{project}/tasks"), &json!({ "title": "T" })).await;
            let (_, integration) =
                owner.post(&format!("/api/teams/{team}/integrations"), &json!({ "service": "github" })).await;
            scenes += 1;
            let document = scene_document(scenes);
            let (status, registered) = owner
                .post(&format!("/api/teams/{team}/documents"), &json!({ "document_id": document, "title": "Scene" }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{registered}");
            let (_, message) = member
                .post(&format!("/api/teams/{team}/messages"), &json!({ "client_id": "scene", "content": "hi" }))
                .await;
            let scene = Scene {
                team,
                project,
                task: task["id"].as_str().expect("task").to_owned(),
                integration: integration["id"].as_str().expect("integration").to_owned(),
                document,
                message: message["id"].as_str().expect("message").to_owned(),
            };
            let path = route
                .template
                .replace("{team_id}", &scene.team)
                .replace("{project_id}", &scene.project)
                .replace("{task_id}", &scene.task)
                .replace("{user_id}", &member_id)
                .replace("{service}", "github")
                .replace("{integration_id}", &scene.integration)
                .replace("{document_id}", &scene.document)
                .replace("{message_id}", &scene.message);
            let mut body = route.body.clone();
            if route.template == "/api/teams/{team_id}/documents" && route.method == Method::POST {
                documents += 1;
                body = Some(json!({ "document_id": document_url(documents), "title": "Doc" }));
            }
            if route.template == "/api/auth/register" {
                body = Some(
                    json!({ "email": format!("newcomer{documents}@example.test"), "password": "correct horse battery", "display_name": "New" }),
                );
                documents += 1;
            }
            let status = client.request(route.method.clone(), &path, body.as_ref()).await.status().as_u16();
            if status != expected {
                failures
                    .push(format!("{} {} as {caller}: {status}, expected {expected}", route.method, route.template));
            }
        }
    }
    assert!(failures.is_empty(), "the authorization matrix does not hold:\n{}", failures.join("\n"));
}

#[tokio::test]
async fn missing_bad_and_expired_tokens_get_401_with_a_challenge() {
    let f = Fixture::new().await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let sub = f.owner_id.clone();
    let expired = f
        .relay
        .sign(&AccessClaims {
            sub,
            iss: "teamflow-relay".into(),
            aud: AUDIENCE.into(),
            iat: now - 1000,
            exp: now - 100,
            sid: f.owner.session_id(),
        })
        .await;
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
    // A read position is the viewer's own, not a change to the team: viewers keep one (see the matrix).
    let writes = protected_routes()
        .into_iter()
        .filter(|r| r.template.contains("{team_id}") && r.method != Method::GET && !r.template.ends_with("/read"));
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
    let (_, page) = f.owner.get(&format!("/api/teams/{}/messages", f.team)).await;
    let kept: Vec<_> =
        page["messages"].as_array().expect("messages").iter().map(|m| (&m["content"], &m["edited_at"])).collect();
    assert_eq!(kept, [(&json!("hi"), &Value::Null)], "only the fixture's message, as posted");
}
