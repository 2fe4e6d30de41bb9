//! Webhook integrations: GitHub, Slack and Trello post events into a team.
//!
//! A delivery is verified on its raw body (before any parsing), stored in `webhook_events` (the durable
//! queue) and only then acknowledged; the worker turns stored events into activity (and, for Slack, chat)
//! afterwards, so a restart loses nothing and repeats nothing.
//!
//! Receiving is unauthenticated until the signature checks, so it does as little as it can before that: the
//! integration is looked up first (an unknown one costs no body), the body is read against its service's
//! cap while it streams, and only a bounded number of receives run at once (`http/webhooks.rs`).

mod describe;
pub mod verify;
mod worker;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::HeaderMap;
use rand::RngCore as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use teamflow_protocol::api::integrations::{
    ActivityItem, ActivityPage, ActivityQuery, Integration, IntegrationCreated, IntegrationInput, RefusedDelivery,
    RotateSecret, Service, WebhookFailure,
};
use teamflow_protocol::{Role, TeamId, UserId};
use tokio::sync::Notify;

pub use describe::{Description, describe};
pub use worker::claim_due;
pub(crate) use worker::{Worker, spawn_worker};

use crate::access::Membership;
use crate::db::{self, Db, Page, from_ms, now_ms};
use crate::error::ApiError;
use crate::validate::{Lines, Validator};

/// The largest webhook body accepted from any service: GitHub caps its payloads at 25 MB.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
/// Slack's and Trello's events are small; 1 MiB leaves them room and an attacker little.
pub const MAX_SMALL_BODY_BYTES: usize = 1024 * 1024;

/// The largest body `service` sends.
pub fn max_body_bytes(service: Service) -> usize {
    match service {
        Service::Github => MAX_BODY_BYTES,
        Service::Slack | Service::Trello => MAX_SMALL_BODY_BYTES,
    }
}

/// Why an integration was disabled when its creator left the team.
pub const CREATOR_REMOVED: &str = "creator_removed";

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
    /// 0 or 1 (`Any` reads flags as integers).
    mirror_to_chat: i64,
    #[sqlx(try_from = "String")]
    created_by: UserId,
    created_at: i64,
    disabled_reason: Option<String>,
    last_delivery_at: Option<i64>,
    last_refused_at: Option<i64>,
    last_refused_reason: Option<String>,
}

impl From<IntegrationRow> for Integration {
    fn from(r: IntegrationRow) -> Self {
        Integration {
            id: r.id,
            team_id: r.team_id,
            service: r.service,
            webhook_url: r.callback_url,
            mirror_to_chat: r.mirror_to_chat != 0,
            created_by: r.created_by,
            created_at: from_ms(r.created_at),
            disabled: r.disabled_reason,
            last_delivery_at: r.last_delivery_at.map(from_ms),
            // A delivery taken clears the refusal (`note_delivery`), so a fixed secret shows with the next event.
            refusing: r
                .last_refused_at
                .zip(r.last_refused_reason)
                .map(|(at, reason)| RefusedDelivery { at: from_ms(at), reason }),
        }
    }
}

const INTEGRATION_SELECT: &str = "SELECT id, team_id, service, secret, callback_url, mirror_to_chat, created_by, \
     created_at, disabled_reason, last_delivery_at, last_refused_at, last_refused_reason FROM integrations";

/// A new secret: for GitHub generated when not given (256 random bits, hex); the others must give theirs.
fn secret_for(v: &mut Validator, service: Service, given: Option<&str>) -> String {
    match (service, given) {
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
    }
}

pub async fn create(
    db: &Db,
    public_url: &str,
    member: &Membership,
    input: IntegrationInput,
) -> Result<IntegrationCreated, ApiError> {
    member.require(Role::Admin)?;
    let (team, user) = (member.team(), member.user());
    let mut v = Validator::new();
    let secret = secret_for(&mut v, input.service, input.secret.as_deref());
    v.check(
        "mirror_to_chat",
        !input.mirror_to_chat || input.service == Service::Slack,
        "only Slack messages can be mirrored to chat",
    );
    v.finish()?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let webhook_url = format!("{public_url}/api/webhooks/{}/{id}", input.service.as_str());
    let mut tx = db::begin_write(db).await?;
    crate::access::recheck(db, &mut tx, member, Role::Admin).await?;
    sqlx::query(
        "INSERT INTO integrations (id, team_id, service, secret, callback_url, mirror_to_chat, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(team.to_string())
    .bind(input.service.as_str())
    .bind(&secret)
    .bind(&webhook_url)
    .bind(i64::from(input.mirror_to_chat))
    .bind(user.to_string())
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(%team, integration = %id, service = input.service.as_str(), by = %user, "integration created");
    Ok(IntegrationCreated { id, service: input.service, webhook_url, secret })
}

pub async fn list(db: &Db, member: &Membership) -> Result<Vec<Integration>, ApiError> {
    member.require(Role::Admin)?;
    let rows: Vec<IntegrationRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{INTEGRATION_SELECT} WHERE team_id = $1 ORDER BY created_at, id")))
            .bind(member.team().to_string())
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(Integration::from).collect())
}

pub async fn delete(db: &Db, member: &Membership, integration: &str) -> Result<(), ApiError> {
    member.require(Role::Admin)?;
    // Its secret and kept payloads go with it, erased.
    let mut tx = db.begin_erasing().await?;
    let deleted = sqlx::query("DELETE FROM integrations WHERE team_id = $1 AND id = $2")
        .bind(member.team().to_string())
        .bind(integration)
        .execute(&mut **tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::NotFound("no such integration"));
    }
    tx.commit().await?;
    Ok(())
}

/// Replaces an integration's secret (the old one stops verifying at once). The caller becomes its creator,
/// whose current role its events use, and a disabled integration is enabled again with its URL unchanged;
/// refusals under the old secret are forgotten.
pub async fn rotate(
    db: &Db,
    member: &Membership,
    integration: &str,
    input: RotateSecret,
) -> Result<IntegrationCreated, ApiError> {
    member.require(Role::Admin)?;
    let mut tx = db::begin_write(db).await?;
    crate::access::recheck(db, &mut tx, member, Role::Admin).await?;
    let row: IntegrationRow =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{INTEGRATION_SELECT} WHERE team_id = $1 AND id = $2")))
            .bind(member.team().to_string())
            .bind(integration)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ApiError::NotFound("no such integration"))?;
    let mut v = Validator::new();
    let secret = secret_for(&mut v, row.service, input.secret.as_deref());
    v.finish()?;
    sqlx::query(
        "UPDATE integrations SET secret = $1, created_by = $2, disabled_at = NULL, disabled_reason = NULL,
             last_refused_at = NULL, last_refused_reason = NULL WHERE id = $3",
    )
    .bind(&secret)
    .bind(member.user().to_string())
    .bind(&row.id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(team = %member.team(), integration = %row.id, by = %member.user(), "integration secret rotated");
    Ok(IntegrationCreated { id: row.id, service: row.service, webhook_url: row.callback_url, secret })
}

/// Disables the integrations `creator` made in `team`, inside the transaction that removes them from it.
pub(crate) async fn disable_for_removed_creator(
    tx: &mut sqlx::AnyConnection,
    team: TeamId,
    creator: UserId,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE integrations SET disabled_at = $1, disabled_reason = $2
         WHERE team_id = $3 AND created_by = $4 AND disabled_at IS NULL",
    )
    .bind(now_ms())
    .bind(CREATOR_REMOVED)
    .bind(team.to_string())
    .bind(creator.to_string())
    .execute(tx)
    .await?;
    Ok(done.rows_affected())
}

/// The events of an integration the relay gave up on, newest first (owners and admins).
pub async fn failures(db: &Db, member: &Membership, integration: &str) -> Result<Vec<WebhookFailure>, ApiError> {
    member.require(Role::Admin)?;
    let known: Option<String> = sqlx::query_scalar("SELECT id FROM integrations WHERE team_id = $1 AND id = $2")
        .bind(member.team().to_string())
        .bind(integration)
        .fetch_optional(db.pool())
        .await?;
    known.ok_or(ApiError::NotFound("no such integration"))?;
    let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT id, event_type, failure, attempts, received_at, failed_at FROM webhook_events
         WHERE integration_id = $1 AND failed_at IS NOT NULL ORDER BY seq DESC LIMIT 100",
    )
    .bind(integration)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(event_id, event_type, reason, attempts, received_at, failed_at)| WebhookFailure {
            event_id,
            event_type,
            reason,
            attempts,
            received_at: from_ms(received_at),
            failed_at: from_ms(failed_at),
        })
        .collect())
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

/// The integration a delivery is addressed to, found before its body is read.
pub struct Target {
    row: IntegrationRow,
}

impl std::fmt::Debug for Target {
    // Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target").field("id", &self.row.id).field("service", &self.row.service).finish_non_exhaustive()
    }
}

impl Target {
    /// The largest body this integration's service sends.
    pub fn max_body_bytes(&self) -> usize {
        max_body_bytes(self.row.service)
    }
}

/// Finds the active integration `id` of `service`: 404 for another service's, an unknown or a disabled one.
pub async fn target(db: &Db, service: &str, id: &str) -> Result<Target, ApiError> {
    let service = Service::parse(service).ok_or(ApiError::ServiceNotSupported)?;
    let row: Option<IntegrationRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{INTEGRATION_SELECT} WHERE id = $1")))
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    let row = row.filter(|r| r.service == service).ok_or(ApiError::NotFound("no such integration"))?;
    if row.disabled_reason.is_some() {
        return Err(ApiError::NotFound("this integration is disabled"));
    }
    Ok(Target { row })
}

/// Answers Trello's `HEAD` check of a callback URL.
pub async fn exists(db: &Db, service: &str, id: &str) -> Result<(), ApiError> {
    target(db, service, id).await.map(|_| ())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Malformed(format!("the webhook body is not JSON: {e}")))
}

/// Verifies and stores one delivery to `target`. Nothing is stored unless the signature checks out. What
/// it came to is noted on the integration for its admins (see `note_delivery`).
pub async fn receive(
    db: &Db,
    queue: &Queue,
    target: &Target,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Receipt, ApiError> {
    let outcome = verify_and_store(db, queue, target, headers, body).await;
    let refused = match &outcome {
        Ok(_) => None,
        Err(error @ (ApiError::InvalidSignature | ApiError::Malformed(_))) => {
            Some(format!("{}: {error}", error.code().as_str()))
        }
        // The relay's own trouble (a busy or failing database) says nothing about the sender.
        Err(_) => None,
    };
    if outcome.is_ok() || refused.is_some() {
        // The answer stands whether or not the note is written; a failed note is only logged.
        if let Err(error) = note_delivery(db, &target.row.id, refused.as_deref()).await {
            tracing::warn!(integration = %target.row.id, %error, "could not note a delivery on its integration");
        }
    }
    outcome
}

/// How often at most a delivery's outcome is written on its integration, unless it changes what the
/// integration shows (a delivery taken after a refusal, or a refusal after a delivery).
const NOTE_EVERY_MS: i64 = 60_000;

/// Notes a delivery taken (`refused` = None, which also clears a refusal) or refused, at most once a
/// [`NOTE_EVERY_MS`] unless it changes what the integration shows: a sender of forged requests cannot make
/// the relay write once per request.
async fn note_delivery(db: &Db, integration: &str, refused: Option<&str>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let query = match refused {
        None => sqlx::query(
            "UPDATE integrations SET last_delivery_at = $1, last_refused_at = NULL, last_refused_reason = NULL
             WHERE id = $2 AND (last_delivery_at IS NULL OR last_delivery_at < $3 OR last_refused_at IS NOT NULL)",
        ),
        Some(_) => sqlx::query(
            "UPDATE integrations SET last_refused_at = $1, last_refused_reason = $4
             WHERE id = $2 AND (last_refused_at IS NULL OR last_refused_at < $3)",
        ),
    };
    let query = query.bind(now).bind(integration).bind(now - NOTE_EVERY_MS);
    let query = match refused {
        Some(reason) => query.bind(reason.chars().take(300).collect::<String>()),
        None => query,
    };
    query.execute(db.pool()).await?;
    Ok(())
}

async fn verify_and_store(
    db: &Db,
    queue: &Queue,
    target: &Target,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Receipt, ApiError> {
    let integration = &target.row;
    let service = integration.service;
    let secret = integration.secret.as_str();
    let mut body_sha256 = None;
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
            // The delivery header is not signed; the body is. A replay under a fresh delivery id is the
            // same body, so it lands on the same hash.
            body_sha256 = Some(hex::encode(Sha256::digest(&body)));
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
        "INSERT INTO webhook_events
             (id, integration_id, team_id, service, event_type, delivery_key, body_sha256, payload, received_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&integration.id)
    .bind(integration.team_id.to_string())
    .bind(service.as_str())
    .bind(&event_type)
    .bind(&delivery_key)
    .bind(&body_sha256)
    .bind(&body[..])
    .bind(now_ms())
    .execute(db.pool())
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

pub async fn activity(db: &Db, member: &Membership, query: ActivityQuery) -> Result<ActivityPage, ApiError> {
    let page = Page::new(query.limit);
    let rows: Vec<ActivityRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ACTIVITY_SELECT} WHERE team_id = $1 AND processed_at IS NOT NULL AND ($2 IS NULL OR seq < $3)
         ORDER BY seq DESC LIMIT $4"
    )))
    .bind(member.team().to_string())
    .bind(query.before)
    .bind(query.before)
    .bind(page.fetch())
    .fetch_all(db.pool())
    .await?;
    let (rows, next_before) = page.split(rows, |a| a.seq);
    Ok(ActivityPage { items: rows.into_iter().map(ActivityItem::from).collect(), next_before })
}

async fn activity_item(db: &Db, id: &str) -> Result<ActivityItem, ApiError> {
    let row: ActivityRow = sqlx::query_as(sqlx::AssertSqlSafe(format!("{ACTIVITY_SELECT} WHERE id = $1")))
        .bind(id)
        .fetch_one(db.pool())
        .await?;
    Ok(row.into())
}
