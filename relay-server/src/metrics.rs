//! Prometheus metrics for `/metrics`: requests by route and status, latency, database pool use.
//!
//! Each relay owns its registry (no global recorder), so several relays in one test process stay apart.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use crate::db::Db;

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    /// Open document-sync connections.
    pub sync_connections: IntGauge,
    token_verifications: IntCounterVec,
    db: Db,
}

impl Metrics {
    pub fn new(db: Db) -> Self {
        let registry = Registry::new_custom(Some("teamflow".into()), None).unwrap_or_default();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route, method and status"),
            &["route", "method", "status"],
        )
        .unwrap_or_else(|e| unreachable_metric(&e));
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route and method")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["route", "method"],
        )
        .unwrap_or_else(|e| unreachable_metric(&e));
        let pool_connections = IntGauge::new("db_pool_connections", "Database connections open")
            .unwrap_or_else(|e| unreachable_metric(&e));
        let pool_idle = IntGauge::new("db_pool_idle_connections", "Database connections idle")
            .unwrap_or_else(|e| unreachable_metric(&e));
        let sync_connections = IntGauge::new("sync_connections", "Open document sync connections")
            .unwrap_or_else(|e| unreachable_metric(&e));
        let token_verifications = IntCounterVec::new(
            Opts::new("token_verifications_total", "Access tokens verified, by outcome (valid, expired, invalid)"),
            &["outcome"],
        )
        .unwrap_or_else(|e| unreachable_metric(&e));
        for collector in [
            Box::new(sync_connections.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(token_verifications.clone()),
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
        ] {
            if let Err(e) = registry.register(collector) {
                tracing::error!(error = %e, "metric not registered");
            }
        }
        Self { registry, requests, latency, pool_connections, pool_idle, sync_connections, token_verifications, db }
    }

    /// Adds metrics kept elsewhere (the sync server's) to the exposition.
    pub fn register(&self, collectors: impl IntoIterator<Item = Box<dyn prometheus::core::Collector>>) {
        for collector in collectors {
            if let Err(e) = self.registry.register(collector) {
                tracing::error!(error = %e, "metric not registered");
            }
        }
    }

    pub fn token_verified(&self, outcome: &str) {
        self.token_verifications.with_label_values(&[outcome]).inc();
    }

    /// `route` is the matched route template (`/api/teams/{team_id}`), never the raw path, so ids do
    /// not explode the label space.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests.with_label_values(&[route, method, &status.to_string()]).inc();
        self.latency.with_label_values(&[route, method]).observe(seconds);
    }

    /// The Prometheus text exposition of every metric, with pool figures read now.
    pub fn render(&self) -> String {
        self.pool_connections.set(i64::from(self.db.pool().size()));
        self.pool_idle.set(i64::try_from(self.db.pool().num_idle()).unwrap_or(i64::MAX));
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "metrics encoding failed");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// Metric definitions are constants; a failure here is a programming error caught by the first test.
fn unreachable_metric(e: &prometheus::Error) -> ! {
    panic!("invalid metric definition: {e}")
}
