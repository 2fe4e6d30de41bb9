//! Webhook integrations: GitHub, Slack and Trello post events into a team.
//!
//! A delivery is verified on its raw body (before any parsing), stored in `webhook_events` (the durable
//! queue) and only then acknowledged; the worker turns stored events into activity (and, for Slack, chat)
//! afterwards, so a restart loses nothing and repeats nothing.

mod describe;
pub mod verify;
mod worker;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use rand::RngCore as _;
use serde_json::Value;
use sqlx::SqlitePool;
use teamflow_protocol::api::integrations::{
    ActivityItem, ActivityPage, ActivityQuery, Integration, IntegrationCreated, IntegrationInput, Service,
};
use teamflow_protocol::{Role, TeamId, UserId};
use tokio::sync::Notify;

pub use describe::{Description, describe};
pub(crate) use worker::{Worker, spawn_worker};

use crate::access::Membership;
use crate::db::{Page, from_ms, now_ms};
use crate::error::ApiError;
use crate::validate::{Lines, Validator};

/// The largest webhook body accepted. GitHub caps payloads at 25 MB; Slack and Trello stay far below.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// Wakes the worker when an event is stored.
#[derive(Clone, Debug, Default)]
pub struct Queue(Arc<Notify>);

impl Queue {
    fn wake(&self) {
        self.0.notify_one();
    }
}

#[derive(sqlx::FromRow)]
struct IntegrationRow {
    id: String,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    #[sqlx(try_from = "String")]
    service: Service,
    secret: String,
    callback_url: String,
    mirror_to_chat: bool,
    #[sqlx(try_from = "String")]
    created_by: UserId,
    created_at: i64,
}

impl From<IntegrationRow> for Integration {
    fn from(r: IntegrationRow) -> Self {
        Integration {
            id: r.id,
            team_id: r.team_id,
            service: r.service,
            webhook_url: r.callback_url,
            mirror_to_chat: r.mirror_to_chat,
            created_by: r.created_by,
            created_at: from_ms(r.created_at),
        }
    }
}

const INTEGRATION_SELECT: &str =
    "SELECT id, team_id, service, secret, callback_url, mirror_to_chat, created_by, created_at FROM integrations";

pub async fn create(
    db: &SqlitePool,
    public_url: &str,
    member: &Membership,
    input: IntegrationInput,
) -> Result<IntegrationCreated, ApiError> {
    member.require(Role::Admin)?;
    let (team, user) = (member.team(), member.user());
    let mut v = Validator::new();
    let secret = match (input.service, input.secret.as_deref()) {
        (Service::Github, None) => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            hex::encode(bytes)
        }
        (_, Some(secret)) => v.text("secret", secret, 8, 200, Lines::Single),
        (_, None) => {
            v.fail("secret", "required: the signing secret the provider gave you");
            String::new()
        }
    };
    v.check(
        "mirror_to_chat",
        !input.mirror_to_chat || input.service == Service::Slack,
        "only Slack messages can be mirrored to chat",
    );
    v.finish()?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let webhook_url = format!("{public_url}/api/webhooks/{}/{id}", input.service.as_str());
    sqlx::query(
        "INSERT INTO integrations (id, team_id, service, secret, callback_url, mirror_to_chat, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(team.to_string())
    .bind(input.service.as_str())
    .bind(&secret)
    .bind(&webhook_url)
    .bind(input.mirror_to_chat)
    .bind(user.to_string())
    .bind(now_ms())
    .execute(db)
    .await?;
    tracing::info!(%team, integration = %id, service = input.service.as_str(), by = %user, "integration created");
    Ok(IntegrationCreated { id, service: input.service, webhook_url, secret })
}

pub async fn list(db: &SqlitePool, member: &Membership) -> Result<Vec<Integration>, ApiError> {
    member.require(Role::Admin)?;
    let rows: Vec<IntegrationRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{INTEGRATION_SELECT} WHERE team_id = ? ORDER BY created_at, id")))
            .bind(member.team().to_string())
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(Integration::from).collect())
}

pub async fn delete(db: &SqlitePool, member: &Membership, integration: &str) -> Result<(), ApiError> {
    member.require(Role::Admin)?;
    let deleted = sqlx::query("DELETE FROM integrations WHERE team_id = ? AND id = ?")
        .bind(member.team().to_string())
        .bind(integration)
        .execute(db)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::NotFound("no such integration"));
    }
    Ok(())
}

/// What a delivery came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// Stored for processing.
    Stored,
    /// Already stored under the same delivery identity; nothing new.
    Duplicate,
    /// A provider's liveness check (GitHub `ping`); nothing stored.
    Pong,
    /// Slack's `url_verification`: echo the challenge.
    Challenge(String),
}

async fn integration(db: &SqlitePool, service: Service, id: &str) -> Result<IntegrationRow, ApiError> {
    let row: Option<IntegrationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{INTEGRATION_SELECT} WHERE id = ?")))
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.filter(|r| r.service == service).ok_or(ApiError::NotFound("no such integration"))
}

/// Answers Trello's `HEAD` check of a callback URL.
pub async fn exists(db: &SqlitePool, service: &str, id: &str) -> Result<(), ApiError> {
    let service = Service::parse(service).ok_or(ApiError::ServiceNotSupported)?;
    integration(db, service, id).await.map(|_| ())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Malformed(format!("the webhook body is not JSON: {e}")))
}

/// Verifies and stores one delivery. Nothing is stored unless the signature checks out.
pub async fn receive(
    db: &SqlitePool,
    queue: &Queue,
    service: &str,
    id: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Receipt, ApiError> {
    let service = Service::parse(service).ok_or(ApiError::ServiceNotSupported)?;
    let integration = integration(db, service, id).await?;
    let secret = integration.secret.as_str();
    let (event_type, delivery_key) = match service {
        Service::Github => {
            verify::github(secret, header(headers, "x-hub-signature-256"), &body)?;
            let event =
                header(headers, "x-github-event").ok_or(ApiError::Malformed("missing X-GitHub-Event".into()))?;
            if event == "ping" {
                return Ok(Receipt::Pong);
            }
            let delivery =
                header(headers, "x-github-delivery").ok_or(ApiError::Malformed("missing X-GitHub-Delivery".into()))?;
            parse(&body)?;
            let hook = header(headers, "x-github-hook-id").unwrap_or_default();
            (event.to_owned(), format!("{hook}:{delivery}"))
        }
        Service::Slack => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            verify::slack(
                secret,
                header(headers, "x-slack-request-timestamp"),
                header(headers, "x-slack-signature"),
                &body,
                now,
            )?;
            let payload = parse(&body)?;
            match payload.get("type").and_then(Value::as_str) {
                Some("url_verification") => {
                    let challenge = payload.get("challenge").and_then(Value::as_str).unwrap_or_default();
                    return Ok(Receipt::Challenge(challenge.to_owned()));
                }
                Some(kind) => {
                    // Retries carry the same event_id, so they land on the same key.
                    let event_id = payload.get("event_id").and_then(Value::as_str);
                    let event_id = event_id.ok_or(ApiError::Malformed("missing event_id".into()))?;
                    (kind.to_owned(), event_id.to_owned())
                }
                None => return Err(ApiError::Malformed("missing type".into())),
            }
        }
        Service::Trello => {
            verify::trello(secret, &integration.callback_url, header(headers, "x-trello-webhook"), &body)?;
            let payload = parse(&body)?;
            let action = payload.get("action").ok_or(ApiError::Malformed("missing action".into()))?;
            let action_id =
                action.get("id").and_then(Value::as_str).ok_or(ApiError::Malformed("missing action.id".into()))?;
            let kind = action.get("type").and_then(Value::as_str).unwrap_or("action");
            (kind.to_owned(), action_id.to_owned())
        }
    };
    let stored = sqlx::query(
        "INSERT INTO webhook_events (id, integration_id, team_id, service, event_type, delivery_key, payload, received_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (integration_id, delivery_key) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&integration.id)
    .bind(integration.team_id.to_string())
    .bind(service.as_str())
    .bind(&event_type)
    .bind(&delivery_key)
    .bind(&body[..])
    .bind(now_ms())
    .execute(db)
    .await?;
    if stored.rows_affected() == 0 {
        return Ok(Receipt::Duplicate);
    }
    queue.wake();
    Ok(Receipt::Stored)
}

#[derive(sqlx::FromRow)]
struct ActivityRow {
    id: String,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    seq: i64,
    #[sqlx(try_from = "String")]
    service: Service,
    event_type: String,
    summary: String,
    url: Option<String>,
    received_at: i64,
}

impl From<ActivityRow> for ActivityItem {
    fn from(r: ActivityRow) -> Self {
        ActivityItem {
            id: r.id,
            team_id: r.team_id,
            seq: r.seq,
            service: r.service,
            event_type: r.event_type,
            summary: r.summary,
            url: r.url,
            created_at: from_ms(r.received_at),
        }
    }
}

const ACTIVITY_SELECT: &str =
    "SELECT id, team_id, seq, service, event_type, summary, url, received_at FROM webhook_events";

pub async fn activity(db: &SqlitePool, member: &Membership, query: ActivityQuery) -> Result<ActivityPage, ApiError> {
    let page = Page::new(query.limit);
    let rows: Vec<ActivityRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ACTIVITY_SELECT} WHERE team_id = ? AND processed_at IS NOT NULL AND (? IS NULL OR seq < ?)
         ORDER BY seq DESC LIMIT ?"
    )))
    .bind(member.team().to_string())
    .bind(query.before)
    .bind(query.before)
    .bind(page.fetch())
    .fetch_all(db)
    .await?;
    let (rows, next_before) = page.split(rows, |a| a.seq);
    Ok(ActivityPage { items: rows.into_iter().map(ActivityItem::from).collect(), next_before })
}

async fn activity_item(db: &SqlitePool, id: &str) -> Result<ActivityItem, ApiError> {
    let row: ActivityRow =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{ACTIVITY_SELECT} WHERE id = ?"))).bind(id).fetch_one(db).await?;
    Ok(row.into())
}
