//! The HTTP surface: one router for the REST API, operations endpoints and the OpenAPI document.
//!
//! A request passes, outermost first: request id, tracing, panic catcher, CORS, metrics, the error
//! shaper, the body limit, rate limiting, then the handler. Handlers only extract, call the domain and
//! respond.

mod auth;
mod devices;
mod extract;
mod invitations;
mod links;
mod messages;
mod ops;
mod projects;
pub mod rate_limit;
mod realtime;
mod sync;
mod teams;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

pub use extract::AuthUser;
pub use ops::metrics_router;

use crate::access::Access;
use crate::accounts::Sessions;
use crate::auth::PasswordHasher;
use crate::config::Config;
use crate::devices::CertificateIssuer;
use crate::error::{ApiError, error_response};
use crate::events::Events;
use crate::messages::MessageWriter;
use crate::metrics::Metrics;
use crate::rooms::RoomsHandle;
use crate::sync::SyncServer;

/// Everything a request handler may reach. Cheap to clone: every field is a handle. Only the http layer holds
/// it: domain functions take the parts they need.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: crate::db::Db,
    /// Issues access tokens (and verifies them, in `verify_bearer`) and refresh tokens.
    pub sessions: Sessions,
    /// Makes invitation tokens (derived from the signing key).
    pub invitations: crate::invitations::Secret,
    /// Signs device certificates for peer-to-peer sync.
    pub certificates: Arc<CertificateIssuer>,
    pub passwords: PasswordHasher,
    pub metrics: Arc<Metrics>,
    pub limits: rate_limit::RateLimits,
    pub access: Access,
    pub rooms: RoomsHandle,
    /// Every committed change is published here.
    pub events: Events,
    /// Chat posts go through it: it commits them in groups.
    pub messages: MessageWriter,
    pub sync: SyncServer,
    pub webhooks: crate::webhooks::Queue,
    /// Webhook deliveries being received (unauthenticated until their signature checks) at once.
    pub webhook_receives: Arc<tokio::sync::Semaphore>,
    /// Where clients and webhook providers reach this relay, without a trailing slash.
    pub public_url: Arc<str>,
    /// Cancelled when the relay stops; long-lived connections end on it.
    pub shutdown: CancellationToken,
    /// Every upgraded connection, so shutdown can wait for them to close.
    pub connections: TaskTracker,
    pub config: Arc<Config>,
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "TeamFlow relay API", description = "Accounts, teams and chat for TeamFlow's desktop apps."),
    modifiers(&BearerAuth),
    components(schemas(teamflow_protocol::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Routes that need no access token: sign-up, sign-in, refresh, sign-out, password reset, invitation previews.
fn public_api() -> OpenApiRouter<AppState> {
    auth::public_routes().merge(invitations::public_routes())
}

/// Webhook receivers: no token (the signature authenticates), their own body limit.
fn webhook_api() -> OpenApiRouter<AppState> {
    webhooks::receivers()
}

/// Routes behind an access token.
fn protected_api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::routes())
        .merge(invitations::routes())
        .merge(devices::routes())
        .merge(teams::routes())
        .merge(projects::routes())
        .merge(messages::routes())
        .merge(realtime::routes())
        .merge(sync::routes())
        .merge(webhooks::routes())
}

/// The OpenAPI document, generated from the same route declarations the router serves.
pub fn openapi() -> OpenApi {
    OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .merge(public_api())
        .merge(protected_api())
        .merge(webhook_api())
        .split_for_parts()
        .1
}

pub fn router(state: AppState) -> Router {
    let (public, _) = public_api().split_for_parts();
    let (protected, _) = protected_api().split_for_parts();
    let (receivers, _) = webhook_api().split_for_parts();
    let api = protected
        .merge(public.layer(state.limits.auth_layer()))
        .layer(DefaultBodyLimit::max(state.config.limits.max_body_bytes))
        .merge(receivers)
        .layer(state.limits.api_layer())
        // Outside the limiter, so it counts signed-in users by the token verified here, once per request.
        .layer(middleware::from_fn_with_state(state.clone(), extract::verify_bearer));
    let request_id = HeaderName::from_static("x-request-id");

    // Outermost: every answer of a relay serving TLS carries it, errors and upgrades included. Not behind a
    // proxy on plain HTTP: there the proxy owns the HTTPS policy.
    let hsts = state
        .config
        .tls
        .enabled()
        .then(|| SetResponseHeaderLayer::overriding(header::STRICT_TRANSPORT_SECURITY, crate::tls::HSTS));

    Router::new()
        .merge(api)
        .merge(ops::routes(&state))
        .merge(links::routes(&state))
        .fallback(not_found)
        .layer(middleware::map_response(shape_bare_errors))
        .layer(middleware::from_fn_with_state(state.clone(), record_metrics))
        .layer(cors(&state.config.cors_origins))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal("handler panicked".into()).into_response()))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(tower::util::option_layer(hsts))
        .with_state(state)
}

/// The span of a request: its method and path, never its query string (which may hold a ticket, and in
/// older clients held a token) nor its headers.
fn request_span(request: &Request) -> tracing::Span {
    tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route")
}

/// Axum answers a wrong method with a bare 405 (and its `Allow` header); give it the shared body.
async fn shape_bare_errors(response: Response) -> Response {
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(header::CONTENT_TYPE) {
        let allow = response.headers().get(header::ALLOW).cloned();
        let body = teamflow_protocol::ErrorBody {
            error: teamflow_protocol::ErrorObject {
                code: teamflow_protocol::ErrorCode::MethodNotAllowed,
                message: "this route does not accept that method".into(),
                details: None,
            },
        };
        let mut shaped = error_response(StatusCode::METHOD_NOT_ALLOWED, &body);
        if let Some(allow) = allow {
            shaped.headers_mut().insert(header::ALLOW, allow);
        }
        return shaped;
    }
    response
}

async fn record_metrics(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.observe(&route, method.as_str(), response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

/// No origins configured: no CORS headers, so browsers keep other sites out.
fn cors(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::body::Body;

    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn request_spans_name_the_path_and_never_the_query() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let request =
                Request::builder().uri("/sync?ticket=secret-ticket&peer_id=u:d").body(Body::empty()).expect("request");
            let span = request_span(&request);
            let _inside = span.enter();
            tracing::debug!("handled");
        });
        let logged = String::from_utf8(captured.0.lock().expect("buffer").clone()).expect("utf-8");
        assert!(logged.contains("path=/sync"), "{logged}");
        assert!(!logged.contains("secret-ticket") && !logged.contains("peer_id"), "{logged}");
    }
}
