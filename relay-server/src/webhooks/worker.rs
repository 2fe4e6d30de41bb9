//! The webhook worker: turns stored events into activity, mirrors Slack messages into chat, broadcasts,
//! and drops raw payloads past their team's retention.
//!
//! Each event is processed at most once in effect: the chat mirror is keyed by the event (so a repeat finds
//! the message already there), and the event is marked processed in the same statement that checks it was
//! not. A relay stopped between acknowledging and processing picks the event up on its next start.

use std::time::Duration;

use sqlx::SqlitePool;
use teamflow_protocol::api::integrations::Service;
use teamflow_protocol::api::messages::{MessageKind, PostMessage};
use teamflow_protocol::{TeamId, UserId};
use tokio_util::sync::CancellationToken;

use super::{Queue, activity_item, describe};
use crate::access::Membership;
use crate::db::now_ms;
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::messages::{self, MessageWriter};

const BATCH: i64 = 50;
/// How often payload retention is enforced (and pending events re-checked) without a wake-up.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(sqlx::FromRow)]
struct Pending {
    id: String,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    #[sqlx(try_from = "String")]
    service: Service,
    event_type: String,
    payload: Option<Vec<u8>>,
    mirror_to_chat: bool,
    #[sqlx(try_from = "String")]
    created_by: UserId,
}

/// What the worker works with.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) db: SqlitePool,
    /// Slack messages are mirrored into chat through it.
    pub(crate) messages: MessageWriter,
    pub(crate) events: Events,
    /// Wakes the worker when a delivery is stored.
    pub(crate) queue: Queue,
    /// Whether to process stored events at all (off, they stay as a crash would leave them).
    pub(crate) process: bool,
    pub(crate) shutdown: CancellationToken,
}

/// Runs until `worker.shutdown` is cancelled.
pub(crate) fn spawn_worker(worker: Worker) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            // Retention first, so a pass's broadcasts come after its pruning.
            if let Err(e) = prune_payloads(&worker.db).await {
                tracing::error!(error = %e, "webhook payload pruning failed");
            }
            if let Err(e) = drain(&worker).await {
                tracing::error!(error = %e, "webhook processing failed; will retry");
            }
            tokio::select! {
                () = worker.queue.0.notified() => {}
                () = tokio::time::sleep(SWEEP_EVERY) => {}
                () = worker.shutdown.cancelled() => break,
            }
        }
    })
}

async fn drain(worker: &Worker) -> Result<(), ApiError> {
    if !worker.process {
        return Ok(());
    }
    loop {
        let pending: Vec<Pending> = sqlx::query_as(
            "SELECT e.id, e.team_id, e.service, e.event_type, e.payload, i.mirror_to_chat, i.created_by
             FROM webhook_events e JOIN integrations i ON i.id = e.integration_id
             WHERE e.processed_at IS NULL ORDER BY e.seq LIMIT ?",
        )
        .bind(BATCH)
        .fetch_all(&worker.db)
        .await?;
        if pending.is_empty() {
            return Ok(());
        }
        for event in pending {
            process(worker, event).await?;
        }
    }
}

async fn process(worker: &Worker, event: Pending) -> Result<(), ApiError> {
    let payload = event.payload.as_deref().and_then(|p| serde_json::from_slice(p).ok()).unwrap_or_default();
    let description = describe(event.service, &event.event_type, &payload);

    // The mirror first: keyed by the event, a repeat after a crash finds it and adds nothing.
    if event.mirror_to_chat
        && let Some((who, text)) = &description.chat
        && !text.trim().is_empty()
    {
        let content: String = format!("[Slack] {who}: {text}").chars().take(messages::MAX_CONTENT_CHARS).collect();
        let input = PostMessage { client_id: format!("slack-{}", event.id), content, kind: MessageKind::Text };
        // The integration acts with a member's rights, whatever its creator's role is now.
        let author = Membership::integration(event.team_id, event.created_by);
        worker.messages.post(&author, input).await?;
    }

    let marked = sqlx::query(
        "UPDATE webhook_events SET processed_at = ?, summary = ?, url = ? WHERE id = ? AND processed_at IS NULL",
    )
    .bind(now_ms())
    .bind(&description.summary)
    .bind(&description.url)
    .bind(&event.id)
    .execute(&worker.db)
    .await?;
    if marked.rows_affected() == 0 {
        return Ok(());
    }
    let item = activity_item(&worker.db, &event.id).await?;
    worker.events.publish(Event::Activity(item)).await;
    Ok(())
}

/// Raw payloads are kept only for the team's `webhook_payload_retention_days`.
async fn prune_payloads(db: &SqlitePool) -> Result<(), ApiError> {
    let pruned = sqlx::query(
        "UPDATE webhook_events SET payload = NULL
         WHERE payload IS NOT NULL AND processed_at IS NOT NULL
           AND received_at < ? - 86400000 * (
               SELECT json_extract(t.settings, '$.webhook_payload_retention_days') FROM teams t
               WHERE t.id = webhook_events.team_id)",
    )
    .bind(now_ms())
    .execute(db)
    .await?;
    if pruned.rows_affected() > 0 {
        tracing::info!(count = pruned.rows_affected(), "dropped webhook payloads past retention");
    }
    Ok(())
}
