//! The webhook worker: turns stored events into activity, mirrors Slack messages into chat, broadcasts,
//! and drops raw payloads past their team's retention.
//!
//! Instances sharing a database each claim due events for a lease (`claim_due`), so an event is worked on
//! by one instance; and each event is processed at most once in effect: the chat mirror is keyed by the event (so a repeat finds
//! the message already there), and the event is marked processed in the same statement that checks it was
//! not. A relay stopped between acknowledging and processing picks the event up on its next start.
//!
//! Failures are classified ([`Failure`]). A permanent one (the event can never succeed: its creator may no
//! longer post, the content is refused) is recorded on the event for the team's admins, and the queue moves
//! on. A transient one (the database busy, the relay stopping) schedules that event alone for a later try,
//! with a growing delay, so one bad event never holds back another team's.

use std::time::Duration;

use teamflow_sync::Backoff;

use teamflow_protocol::api::integrations::Service;
use teamflow_protocol::api::messages::{MIRRORED_CLIENT_PREFIX, MessageKind, PostMessage};
use teamflow_protocol::{TeamId, UserId};
use tokio_util::sync::CancellationToken;

use super::{Description, Queue, activity_item, describe};
use crate::access::Access;
use crate::db::{Db, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::messages::{self, MessageWriter};

const BATCH: i64 = 50;
/// How long a claimed event is left to its instance: far longer than a batch takes.
const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// How often payload retention is enforced (and pending events re-checked) without a wake-up.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Tries of an event failing transiently before it is recorded as failed.
const MAX_ATTEMPTS: i64 = 8;

/// Why processing an event failed, and so what to do with it.
#[derive(Debug)]
enum Failure {
    /// It can never succeed as it is: record it and move on.
    Permanent(String),
    /// It may succeed later: try it again after a delay.
    Transient(ApiError),
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        match &error {
            ApiError::Database(_) | ApiError::Internal(_) | ApiError::ServiceUnavailable(_) | ApiError::Busy { .. } => {
                Failure::Transient(error)
            }
            other => {
                let code = serde_json::to_value(other.code()).ok();
                let code = code.as_ref().and_then(serde_json::Value::as_str).unwrap_or("refused");
                Failure::Permanent(format!("{code}: {other}"))
            }
        }
    }
}

#[derive(sqlx::FromRow)]
struct Pending {
    id: String,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    #[sqlx(try_from = "String")]
    service: Service,
    event_type: String,
    payload: Option<Vec<u8>>,
    attempts: i64,
    /// 0 or 1 (`Any` reads flags as integers).
    mirror_to_chat: i64,
    #[sqlx(try_from = "String")]
    created_by: UserId,
}

/// What the worker works with.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) db: Db,
    /// Slack messages are mirrored into chat through it.
    pub(crate) messages: MessageWriter,
    pub(crate) events: Events,
    /// An integration's events act with its creator's role as it is now.
    pub(crate) access: Access,
    /// Wakes the worker when a delivery is stored.
    pub(crate) queue: Queue,
    /// Whether to process stored events at all (off, they stay as a crash would leave them).
    pub(crate) process: bool,
    /// This instance's name in the events it claims (random per start).
    pub(crate) instance: String,
    pub(crate) shutdown: CancellationToken,
}

/// Runs until `worker.shutdown` is cancelled.
pub(crate) fn spawn_worker(worker: Worker) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let next = match drain(&worker).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "webhook queue unreadable; will retry");
                    None
                }
            };
            let wait = next.map_or(SWEEP_EVERY, |at| {
                Duration::from_millis(u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0)).min(SWEEP_EVERY)
            });
            tokio::select! {
                () = worker.queue.0.notified() => {}
                () = tokio::time::sleep(wait) => {}
                () = worker.shutdown.cancelled() => break,
            }
        }
    })
}

/// Processes every event due now; answers when the next postponed one is due, if any.
///
/// Retention is enforced after each claim that took events and before they are announced: an event is
/// claimed only once it is stored, so a payload that aged past retention before it arrived is gone before
/// its activity goes out, however the events of a pass arrive. Enforcing it once at the start of a pass
/// allowed neither: events stored while the pass ran were announced after a prune that came before them,
/// and a queue never empty kept its pass from ending and so retention from running. A pass that claims
/// nothing prunes once, which is the sweep.
async fn drain(worker: &Worker) -> Result<Option<i64>, ApiError> {
    if !worker.process {
        prune_payloads(&worker.db).await;
        return Ok(None);
    }
    let mut pruned = false;
    loop {
        let lease = claim_due(&worker.db, &worker.instance, BATCH).await?;
        let pending: Vec<Pending> = sqlx::query_as(
            "SELECT e.id, e.team_id, e.service, e.event_type, e.payload, e.attempts, i.mirror_to_chat, i.created_by
             FROM webhook_events e JOIN integrations i ON i.id = e.integration_id
             WHERE e.claimed_by = $1 AND e.claimed_until = $2 AND e.processed_at IS NULL ORDER BY e.seq",
        )
        .bind(&worker.instance)
        .bind(lease)
        .fetch_all(worker.db.pool())
        .await?;
        if !pending.is_empty() || !pruned {
            prune_payloads(&worker.db).await;
            pruned = true;
        }
        if pending.is_empty() {
            // The next retry, or the next lapse of another instance's claim (its holder may have died).
            let next: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(CASE WHEN claimed_until IS NOT NULL AND (retry_at IS NULL OR claimed_until > retry_at)
                                 THEN claimed_until ELSE retry_at END)
                 FROM webhook_events WHERE processed_at IS NULL",
            )
            .fetch_one(worker.db.pool())
            .await?;
            return Ok(next);
        }
        for event in pending {
            let (id, attempts) = (event.id.as_str(), event.attempts);
            let payload = event.payload.as_deref().and_then(|p| serde_json::from_slice(p).ok()).unwrap_or_default();
            let description = describe(event.service, &event.event_type, &payload);
            match process(worker, &event, &description).await {
                Ok(()) => {}
                Err(Failure::Permanent(reason)) => {
                    record_failure(worker, id, attempts + 1, &reason, &description).await?;
                }
                Err(Failure::Transient(error)) if attempts + 1 >= MAX_ATTEMPTS => {
                    tracing::error!(event = %id, %error, "webhook event failed too often; giving up");
                    record_failure(worker, id, attempts + 1, &format!("gave_up: {error}"), &description).await?;
                }
                Err(Failure::Transient(error)) => {
                    let delay = retry_delay(attempts + 1);
                    tracing::warn!(event = %id, %error, ?delay, "webhook event failed; will retry it");
                    let retry_at = now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
                    sqlx::query(
                        "UPDATE webhook_events SET attempts = $1, retry_at = $2, claimed_by = NULL, claimed_until = NULL
                         WHERE id = $3 AND claimed_by = $4 AND processed_at IS NULL",
                    )
                        .bind(attempts + 1)
                        .bind(retry_at)
                        .bind(id)
                        .bind(&worker.instance)
                        .execute(worker.db.pool())
                        .await?;
                }
            }
        }
    }
}

/// Claims up to `limit` due events for `instance` until the answered lease (Unix ms): events no other
/// instance holds a live claim on, oldest first. On PostgreSQL the candidates are locked with `FOR UPDATE SKIP
/// LOCKED`, so instances claiming at the same moment take disjoint events instead of waiting for each other;
/// on SQLite the statement runs alone. A claim is only a lease: if its holder dies, the event is due again
/// once the lease lapses, and processing stays idempotent (see the module's doc) should two ever overlap.
pub async fn claim_due(db: &Db, instance: &str, limit: i64) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    let lease = now + i64::try_from(CLAIM_LEASE.as_millis()).unwrap_or(i64::MAX);
    let skip_locked = match db.backend() {
        crate::db::backend::Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        crate::db::backend::Backend::Sqlite => "",
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE webhook_events SET claimed_by = $1, claimed_until = $2 WHERE id IN (
             SELECT id FROM webhook_events
             WHERE processed_at IS NULL AND (retry_at IS NULL OR retry_at <= $3)
               AND (claimed_until IS NULL OR claimed_until <= $3)
             ORDER BY seq LIMIT $4 {skip_locked})"
    )))
    .bind(instance)
    .bind(lease)
    .bind(now)
    .bind(limit)
    .execute(db.pool())
    .await?;
    Ok(lease)
}

/// The delay before try number `attempt + 1` of one event: the relay's one backoff policy.
fn retry_delay(attempt: i64) -> Duration {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(600));
    (0..attempt.max(1)).map(|_| backoff.next_delay()).last().unwrap_or(Duration::from_secs(1))
}

/// A permanent failure: the event leaves the queue, with its reason kept for the team's admins. Its activity
/// line is kept too (it describes what happened at the provider), so the event is marked processed.
async fn record_failure(
    worker: &Worker,
    id: &str,
    attempts: i64,
    reason: &str,
    description: &Description,
) -> Result<(), ApiError> {
    tracing::warn!(event = %id, reason, "webhook event failed permanently");
    let reason: String = reason.chars().take(500).collect();
    let marked = sqlx::query(
        "UPDATE webhook_events SET failed_at = $1, failure = $2, attempts = $3, retry_at = NULL, processed_at = $4,
             summary = $5, url = $6
         WHERE id = $7 AND processed_at IS NULL",
    )
    .bind(now_ms())
    .bind(&reason)
    .bind(attempts)
    .bind(now_ms())
    .bind(&description.summary)
    .bind(&description.url)
    .bind(id)
    .execute(worker.db.pool())
    .await?;
    if marked.rows_affected() > 0 {
        let item = activity_item(&worker.db, id).await?;
        worker.events.publish(Event::Activity(item)).await;
    }
    Ok(())
}

async fn process(worker: &Worker, event: &Pending, description: &Description) -> Result<(), Failure> {
    // The mirror first: keyed by the event, a repeat after a crash finds it and adds nothing.
    if event.mirror_to_chat != 0
        && let Some((who, text)) = &description.chat
        && !text.trim().is_empty()
    {
        let content: String = format!("[Slack] {who}: {text}").chars().take(messages::MAX_CONTENT_CHARS).collect();
        let input = PostMessage {
            client_id: format!("{MIRRORED_CLIENT_PREFIX}{}", event.id),
            content,
            kind: MessageKind::Text,
        };
        // With the creator's role as it is now: a creator demoted to viewer posts nothing, one who left
        // is no member (and their integrations were disabled when they left).
        let author = match worker.access.member(event.team_id, event.created_by).await {
            Ok(author) => author,
            Err(ApiError::NotFound(_)) => {
                return Err(Failure::Permanent(format!(
                    "{}: the integration's creator is no longer a member",
                    super::CREATOR_REMOVED
                )));
            }
            Err(e) => return Err(e.into()),
        };
        worker.messages.post(&author, input).await?;
    }

    let marked = sqlx::query(
        "UPDATE webhook_events SET processed_at = $1, summary = $2, url = $3 WHERE id = $4 AND processed_at IS NULL",
    )
    .bind(now_ms())
    .bind(&description.summary)
    .bind(&description.url)
    .bind(&event.id)
    .execute(worker.db.pool())
    .await
    .map_err(ApiError::from)?;
    if marked.rows_affected() == 0 {
        return Ok(());
    }
    let item = activity_item(&worker.db, &event.id).await?;
    worker.events.publish(Event::Activity(item)).await;
    Ok(())
}

/// Raw payloads are kept only for the team's `webhook_payload_retention_days`. A failure is logged and
/// left to the next pass: retention never holds back the queue.
async fn prune_payloads(db: &Db) {
    if let Err(e) = try_prune_payloads(db).await {
        tracing::error!(error = %e, "webhook payload pruning failed");
    }
}

async fn try_prune_payloads(db: &Db) -> Result<(), ApiError> {
    let past_retention = format!(
        "payload IS NOT NULL AND processed_at IS NOT NULL
         AND received_at < $1 - 86400000 * (SELECT {} FROM teams t WHERE t.id = webhook_events.team_id)",
        db.json_integer("t.settings", "webhook_payload_retention_days")
    );
    let now = now_ms();
    // Asked first, outside the erasing transaction: it runs for every batch, and on SQLite the transaction
    // takes the database's write lock, which a pass with nothing to drop need not hold up writers for.
    let any: Option<i64> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT 1 FROM webhook_events WHERE {past_retention} LIMIT 1")))
            .bind(now)
            .fetch_optional(db.pool())
            .await?;
    if any.is_none() {
        return Ok(());
    }
    let mut tx = db.begin_erasing().await?;
    let pruned =
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE webhook_events SET payload = NULL WHERE {past_retention}")))
            .bind(now)
            .execute(&mut **tx)
            .await?;
    if pruned.rows_affected() == 0 {
        tx.nothing_erased().await?;
        return Ok(());
    }
    tx.commit().await?;
    tracing::info!(count = pruned.rows_affected(), "dropped webhook payloads past retention");
    Ok(())
}
