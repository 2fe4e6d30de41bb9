//! The outbox: chat messages and changes of them, document registrations, project changes and read
//! positions made while offline (or before delivery), committed locally first and delivered exactly once,
//! in order, when the relay answers. A team's read positions waiting together are one entry: only the furthest one matters.
//!
//! Exactly once rests on the relay's idempotency: each entry carries a client id, and the relay returns the
//! original message for a repeated one (a reaction needs none: putting one on or taking it off twice is
//! the same as once). An entry is removed only in the transaction that caches the
//! relay's answer, so a crash at any point leaves it either pending (and safely re-sent) or delivered.

use std::time::Duration;

use reqwest::Method;
use teamflow_protocol::MessageId;
use teamflow_protocol::ProjectId;
use teamflow_protocol::TeamId;
use teamflow_protocol::api::messages::{
    EditMessage, MarkRead, Message, MessageKind, PostMessage, ReadState, SetReaction,
};
use teamflow_protocol::api::projects::{ProjectPatch, Task};
use teamflow_protocol::api::teams::{DocumentEntry, Project, ProjectInput, RegisterDocument};

use teamflow_sync::Backoff;

use crate::forgotten::Asked;
use crate::projects::{EditAnswer, ProjectEdit, after_delivery, keep_project};
use crate::store::cache_message;
use crate::{ApiFailure, Link, Node, NodeError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Pending,
    /// The relay refused it for good; `error_code` and `error` say why.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct OutboxEntry {
    pub client_id: String,
    pub team_id: TeamId,
    /// What the change is.
    pub kind: OutboxKind,
    /// A message's text, a document's title, a project's name, or a task's title.
    pub content: String,
    pub state: OutboxState,
    pub error_code: Option<String>,
    pub error: Option<String>,
}

/// What one delivery run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub delivered: usize,
    pub failed: usize,
    /// Still waiting (the relay was unreachable, or asked us to slow down).
    pub pending: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum OutboxKind {
    Message,
    Document,
    ProjectCreate,
    /// A whole-project replacement queued by an older version of the app; delivered as a patch.
    ProjectUpdate,
    /// How far the chat was read on this device.
    Read,
    /// An edit of some of a project's fields.
    ProjectPatch,
    TaskCreate,
    TaskUpdate,
    TaskDelete,
    /// New text for one of this person's messages.
    MessageEdit,
    MessageDelete,
    /// An emoji put on a message, or taken off.
    Reaction,
}

/// A queued change, as stored in `body_json`. The `kind` column says which, so it is read back per kind
/// (`Row::change`), never guessed from the JSON's shape.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Change {
    Message(PostMessage),
    Document(RegisterDocument),
    ProjectCreate(ProjectInput),
    ProjectUpdate(ProjectUpdate),
    Read(MarkRead),
    Edit(ProjectEdit),
    MessageEdit(QueuedMessageChange),
    MessageDelete(QueuedMessageChange),
    Reaction(QueuedReaction),
}

/// A reaction queued: which message, which emoji, on or off.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct QueuedReaction {
    pub(crate) message_id: MessageId,
    pub(crate) emoji: String,
    pub(crate) on: bool,
}

/// A change of a posted message, queued: which message, and its new text (an edit) or the text it had
/// when it was deleted (shown if the relay refuses).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct QueuedMessageChange {
    pub(crate) message_id: MessageId,
    pub(crate) seq: i64,
    pub(crate) content: String,
}

/// A full replacement of a project's fields, as older versions of the app queued it.
#[derive(serde::Serialize, serde::Deserialize)]
struct ProjectUpdate {
    project_id: ProjectId,
    input: ProjectInput,
}

impl Change {
    fn kind(&self) -> OutboxKind {
        match self {
            Change::Message(_) => OutboxKind::Message,
            Change::Document(_) => OutboxKind::Document,
            Change::ProjectCreate(_) => OutboxKind::ProjectCreate,
            Change::ProjectUpdate(_) => OutboxKind::ProjectUpdate,
            Change::Read(_) => OutboxKind::Read,
            Change::Edit(ProjectEdit::Patch(_)) => OutboxKind::ProjectPatch,
            Change::Edit(ProjectEdit::TaskCreate(_)) => OutboxKind::TaskCreate,
            Change::Edit(ProjectEdit::TaskPatch(_)) => OutboxKind::TaskUpdate,
            Change::Edit(ProjectEdit::TaskDelete(_)) => OutboxKind::TaskDelete,
            Change::MessageEdit(_) => OutboxKind::MessageEdit,
            Change::MessageDelete(_) => OutboxKind::MessageDelete,
            Change::Reaction(_) => OutboxKind::Reaction,
        }
    }

    fn content(&self) -> &str {
        match self {
            Change::Message(m) => &m.content,
            Change::Document(d) => &d.title,
            Change::ProjectCreate(p) | Change::ProjectUpdate(ProjectUpdate { input: p, .. }) => &p.name,
            Change::Read(_) => "read position",
            Change::Edit(edit) => edit.label(),
            Change::MessageEdit(change) | Change::MessageDelete(change) => &change.content,
            Change::Reaction(reaction) => &reaction.emoji,
        }
    }
}

impl OutboxKind {
    fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Message => "message",
            OutboxKind::Document => "document",
            OutboxKind::ProjectCreate => "project_create",
            OutboxKind::ProjectUpdate => "project_update",
            OutboxKind::Read => "read",
            OutboxKind::ProjectPatch => "project_patch",
            OutboxKind::TaskCreate => "task_create",
            OutboxKind::TaskUpdate => "task_update",
            OutboxKind::TaskDelete => "task_delete",
            OutboxKind::MessageEdit => "message_edit",
            OutboxKind::MessageDelete => "message_delete",
            OutboxKind::Reaction => "reaction",
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    position: i64,
    client_id: String,
    kind: String,
    team_id: String,
    body_json: String,
    state: String,
    error_code: Option<String>,
    error: Option<String>,
}

impl Row {
    fn change(&self) -> Result<Change, NodeError> {
        let corrupt = |e: serde_json::Error| NodeError::Corrupt(e.to_string());
        Ok(match self.kind.as_str() {
            "message" => Change::Message(serde_json::from_str(&self.body_json).map_err(corrupt)?),
            "document" => Change::Document(serde_json::from_str(&self.body_json).map_err(corrupt)?),
            "project_create" => Change::ProjectCreate(serde_json::from_str(&self.body_json).map_err(corrupt)?),
            "project_update" => Change::ProjectUpdate(serde_json::from_str(&self.body_json).map_err(corrupt)?),
            "read" => Change::Read(serde_json::from_str(&self.body_json).map_err(corrupt)?),
            "message_edit" => Change::MessageEdit(serde_json::from_str(&self.body_json).map_err(corrupt)?),
            "message_delete" => Change::MessageDelete(serde_json::from_str(&self.body_json).map_err(corrupt)?),
            "reaction" => Change::Reaction(serde_json::from_str(&self.body_json).map_err(corrupt)?),
            kind => Change::Edit(decode_edit(kind, &self.body_json)?),
        })
    }

    fn entry(&self) -> Result<OutboxEntry, NodeError> {
        let change = self.change()?;
        Ok(OutboxEntry {
            kind: change.kind(),
            content: change.content().to_owned(),
            client_id: self.client_id.clone(),
            team_id: self.team_id.parse().map_err(|e: uuid::Error| NodeError::Corrupt(e.to_string()))?,
            state: if self.state == "failed" { OutboxState::Failed } else { OutboxState::Pending },
            error_code: self.error_code.clone(),
            error: self.error.clone(),
        })
    }
}

/// Reads back a queued project or task edit of `kind`.
pub(crate) fn decode_edit(kind: &str, json: &str) -> Result<ProjectEdit, NodeError> {
    Ok(match kind {
        "project_patch" => ProjectEdit::Patch(serde_json::from_str(json).map_err(NodeError::corrupt)?),
        "task_create" => ProjectEdit::TaskCreate(serde_json::from_str(json).map_err(NodeError::corrupt)?),
        "task_update" => ProjectEdit::TaskPatch(serde_json::from_str(json).map_err(NodeError::corrupt)?),
        "task_delete" => ProjectEdit::TaskDelete(serde_json::from_str(json).map_err(NodeError::corrupt)?),
        other => return Err(NodeError::Corrupt(format!("unknown outbox kind {other}"))),
    })
}

/// Adds `change` at the end of the queue.
async fn insert_entry(
    db: &mut sqlx::SqliteConnection,
    client_id: &str,
    team: TeamId,
    change: &Change,
) -> Result<(), NodeError> {
    let json = serde_json::to_string(change).map_err(NodeError::corrupt)?;
    sqlx::query("INSERT INTO outbox (client_id, kind, team_id, body_json, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(client_id)
        .bind(change.kind().as_str())
        .bind(team.to_string())
        .bind(json)
        .bind(time::OffsetDateTime::now_utc().unix_timestamp() * 1000)
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// What a delivery brought back to keep.
enum Answer {
    Nothing,
    // Boxed, as the edit's answer is: a message with its reactions is much larger than the other answers.
    Message(Box<Message>),
    /// A project as the relay holds it after a create (or an old whole-project update): kept in the
    /// cached list, so a project made online is there offline without a read in between.
    Project(Box<Project>),
    // Boxed: an edit and its answer are much larger than the other answers.
    Edit(Box<(ProjectEdit, EditAnswer)>),
}

impl Answer {
    fn message(message: Message) -> Answer {
        Answer::Message(Box::new(message))
    }
}

impl Node {
    /// Queues a chat message (committed locally before this returns), then tries to deliver the queue.
    /// Being offline is not an error: the message waits, and `status` counts it as pending.
    pub async fn send_message(&self, team: TeamId, content: &str) -> Result<OutboxEntry, NodeError> {
        let client_id = uuid::Uuid::now_v7().to_string();
        let body = PostMessage { client_id: client_id.clone(), content: content.to_owned(), kind: MessageKind::Text };
        self.enqueue_and_try(client_id, team, Change::Message(body)).await
    }

    /// Queues a change of a posted message (committed locally first), then tries to deliver the queue. A
    /// deletion replaces the message's edits and reactions still waiting or refused (they would only be
    /// sent, or shown, to be deleted) and takes its words out of this device's search at once, in the same transaction.
    pub(crate) async fn enqueue_message_change(
        &self,
        team: TeamId,
        change: QueuedMessageChange,
        delete: bool,
    ) -> Result<OutboxEntry, NodeError> {
        let client_id = uuid::Uuid::now_v7().to_string();
        let mut tx = crate::store::begin_write(&self.db).await?;
        if delete {
            crate::store::erasing(&mut tx, async |tx| {
                sqlx::query(
                    "DELETE FROM outbox WHERE kind IN ('message_edit', 'reaction') AND team_id = ?
                       AND json_extract(body_json, '$.message_id') = ?",
                )
                .bind(team.to_string())
                .bind(change.message_id.to_string())
                .execute(&mut *tx)
                .await?;
                crate::search::remove(tx, "message", team, &change.seq.to_string()).await
            })
            .await?;
        }
        let change = if delete { Change::MessageDelete(change) } else { Change::MessageEdit(change) };
        insert_entry(&mut tx, &client_id, team, &change).await?;
        tx.commit().await?;
        if delete {
            self.log_emptier.request();
        }
        self.refresh_outbox_status().await?;
        self.try_delivering(client_id, team, change).await
    }

    /// This device's pending message changes for a team, in order, each with whether it is a deletion: to
    /// lay over cached reads.
    pub(crate) async fn queued_message_changes(
        &self,
        team: TeamId,
    ) -> Result<Vec<(QueuedMessageChange, bool)>, NodeError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, body_json FROM outbox WHERE team_id = ? AND state = 'pending'
               AND kind IN ('message_edit', 'message_delete') ORDER BY position",
        )
        .bind(team.to_string())
        .fetch_all(&self.db)
        .await?;
        rows.iter()
            .map(|(kind, json)| Ok((serde_json::from_str(json).map_err(NodeError::corrupt)?, kind == "message_delete")))
            .collect()
    }

    /// Queues putting `emoji` on a message or taking it off (committed locally first), then tries to deliver
    /// the queue. Works offline; the messages read meanwhile show it (`queued_reactions`).
    pub(crate) async fn enqueue_reaction(
        &self,
        team: TeamId,
        reaction: QueuedReaction,
    ) -> Result<OutboxEntry, NodeError> {
        self.enqueue_and_try(uuid::Uuid::now_v7().to_string(), team, Change::Reaction(reaction)).await
    }

    /// This device's pending reactions for a team, in order: to lay over cached reads.
    pub(crate) async fn queued_reactions(&self, team: TeamId) -> Result<Vec<QueuedReaction>, NodeError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT body_json FROM outbox WHERE team_id = ? AND state = 'pending' AND kind = 'reaction' ORDER BY position",
        )
        .bind(team.to_string())
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(|json| serde_json::from_str(json).map_err(NodeError::corrupt)).collect()
    }

    /// Queues creating a project (committed locally first, delivered exactly once through its client id),
    /// then tries to deliver the queue. Works offline; the project shows up in `projects` once delivered.
    pub async fn create_project(&self, team: TeamId, mut input: ProjectInput) -> Result<OutboxEntry, NodeError> {
        let client_id = uuid::Uuid::now_v7().to_string();
        input.client_id = Some(client_id.clone());
        self.enqueue_and_try(client_id, team, Change::ProjectCreate(input)).await
    }

    /// Queues a project or task edit (see `projects.rs`), then tries to deliver the queue.
    pub(crate) async fn enqueue_edit(
        &self,
        client_id: String,
        team: TeamId,
        edit: ProjectEdit,
    ) -> Result<OutboxEntry, NodeError> {
        self.enqueue_and_try(client_id, team, Change::Edit(edit)).await
    }

    /// This device's pending project and task edits for a team, in order, to lay over cached reads.
    pub(crate) async fn queued_edits(&self, team: TeamId) -> Result<Vec<ProjectEdit>, NodeError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT kind, body_json FROM outbox WHERE team_id = ? AND state = 'pending'
               AND kind IN ('project_patch', 'task_create', 'task_update', 'task_delete') ORDER BY position",
        )
        .bind(team.to_string())
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(|(kind, json)| decode_edit(kind, json)).collect()
    }

    async fn enqueue_and_try(&self, client_id: String, team: TeamId, change: Change) -> Result<OutboxEntry, NodeError> {
        self.enqueue(&client_id, team, &change).await?;
        self.try_delivering(client_id, team, change).await
    }

    /// Tries to deliver the queue, `change` (just queued) among it, and answers its entry as queued.
    async fn try_delivering(&self, client_id: String, team: TeamId, change: Change) -> Result<OutboxEntry, NodeError> {
        match self.flush().await {
            Ok(_) | Err(NodeError::SignedOut) => {}
            Err(e) => tracing::info!(error = %e, "change queued; delivery will be retried"),
        }
        let entry = OutboxEntry {
            kind: change.kind(),
            content: change.content().to_owned(),
            client_id,
            team_id: team,
            state: OutboxState::Pending,
            error_code: None,
            error: None,
        };
        Ok(entry)
    }

    /// Queues registering a document to a team (the relay shares it only once registered).
    pub(crate) async fn enqueue_document(&self, team: TeamId, body: RegisterDocument) -> Result<(), NodeError> {
        let client_id = uuid::Uuid::now_v7().to_string();
        self.enqueue(&client_id, team, &Change::Document(body)).await
    }

    /// The documents of `team` made on this device whose registration waits for the relay (or was refused
    /// by it), as list entries by the signed-in person: a document made offline stays in the team's list
    /// until it lands, and one the relay refused stays findable while its content is only here.
    pub(crate) async fn queued_documents(&self, team: TeamId) -> Result<Vec<DocumentEntry>, NodeError> {
        let Some(me) = self.user().await else { return Ok(Vec::new()) };
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT body_json, created_at FROM outbox
             WHERE kind = 'document' AND team_id = ? ORDER BY position",
        )
        .bind(team.to_string())
        .fetch_all(&self.db)
        .await?;
        rows.into_iter()
            .map(|(json, created_ms)| {
                let body: RegisterDocument = serde_json::from_str(&json).map_err(NodeError::corrupt)?;
                Ok(DocumentEntry {
                    document_id: body.document_id.parse().map_err(|e| NodeError::Corrupt(format!("{e}")))?,
                    team_id: team,
                    title: body.title,
                    project_id: body.project_id,
                    created_by: me.id,
                    created_at: time::OffsetDateTime::from_unix_timestamp(created_ms / 1000)
                        .map_err(|e| NodeError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }

    /// Queues sending the team's read position `seq`. A read of the team already waiting is moved forward
    /// instead, in the same transaction as the check, so a team has at most one.
    pub(crate) async fn enqueue_read(&self, team: TeamId, seq: i64) -> Result<(), NodeError> {
        let json = serde_json::to_string(&Change::Read(MarkRead { seq })).map_err(NodeError::corrupt)?;
        let mut tx = crate::store::begin_write(&self.db).await?;
        let waiting: Option<i64> =
            sqlx::query_scalar("SELECT position FROM outbox WHERE kind = 'read' AND team_id = ? AND state = 'pending'")
                .bind(team.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        match waiting {
            Some(position) => {
                sqlx::query(
                    "UPDATE outbox SET body_json = ? WHERE position = ? AND json_extract(body_json, '$.seq') < ?",
                )
                .bind(&json)
                .bind(position)
                .bind(seq)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO outbox (client_id, kind, team_id, body_json, created_at) VALUES (?, 'read', ?, ?, ?)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(team.to_string())
                .bind(&json)
                .bind(time::OffsetDateTime::now_utc().unix_timestamp() * 1000)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.refresh_outbox_status().await
    }

    async fn enqueue(&self, client_id: &str, team: TeamId, change: &Change) -> Result<(), NodeError> {
        let mut connection = self.db.acquire().await?;
        insert_entry(&mut connection, client_id, team, change).await?;
        drop(connection);
        self.refresh_outbox_status().await
    }

    /// Everything not yet delivered, in order, with failed entries and their reasons (signed in only).
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, NodeError> {
        self.require_sign_in()?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT position, client_id, kind, team_id, body_json, state, error_code, error FROM outbox ORDER BY position",
        )
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(Row::entry).collect()
    }

    /// Puts a failed entry back in the queue (the person fixed what the relay objected to, or the rule
    /// changed), keeping its place and client id so a delivery that did land is not repeated. False when
    /// no failed entry has that id.
    pub async fn retry(&self, client_id: &str) -> Result<bool, NodeError> {
        let changed = sqlx::query(
            "UPDATE outbox SET state = 'pending', error_code = NULL, error = NULL WHERE client_id = ? AND state = 'failed'",
        )
        .bind(client_id)
        .execute(&self.db)
        .await?
        .rows_affected();
        self.refresh_outbox_status().await?;
        Ok(changed > 0)
    }

    /// Drops a failed entry for good. False when no failed entry has that id (pending ones are on their
    /// way and cannot be recalled).
    pub async fn discard(&self, client_id: &str) -> Result<bool, NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        let changed = crate::store::erasing(&mut tx, async |tx| {
            Ok(sqlx::query("DELETE FROM outbox WHERE client_id = ? AND state = 'failed'")
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected())
        })
        .await?;
        tx.commit().await?;
        if changed > 0 {
            self.log_emptier.request();
        }
        self.refresh_outbox_status().await?;
        Ok(changed > 0)
    }

    /// Delivers the outbox whenever there is something to deliver and the relay link is up, for as long as
    /// the returned future runs (the app runs it beside the window; drop it to stop). A run that leaves
    /// entries behind (the relay went away again, or asked us to slow down) is retried with exponential
    /// backoff and jitter, capped at 30 s, or at once when the link drops and comes back meanwhile: a
    /// relay that returns gets what waited for it then, not after the backoff its absence built up.
    pub async fn keep_delivering(&self) {
        let mut status = self.watch_status();
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        loop {
            if status.wait_for(|s| s.signed_in && s.pending > 0 && s.link == Link::Online).await.is_err() {
                return;
            }
            let left = match self.flush().await {
                Ok(report) => report.pending,
                Err(e) => {
                    tracing::info!(error = %e, "outbox delivery failed; retrying");
                    1
                }
            };
            if left == 0 {
                backoff.reset();
                continue;
            }
            tokio::select! {
                () = backoff.wait() => {}
                relinked = async {
                    status.wait_for(|s| s.link != Link::Online).await?;
                    status.wait_for(|s| s.link == Link::Online).await.map(|_| ())
                } => {
                    if relinked.is_err() {
                        return;
                    }
                    backoff.reset();
                }
            }
        }
    }

    /// Sends one queued project or task edit.
    async fn deliver_edit(&self, team: &str, edit: ProjectEdit) -> Result<Answer, NodeError> {
        let (method, path) = edit.request(team);
        let answer = match &edit {
            ProjectEdit::Patch(queued) => {
                EditAnswer::Project(self.authed::<_, Project>(method, &path, Some(&queued.patch)).await?)
            }
            ProjectEdit::TaskCreate(queued) => {
                EditAnswer::Task(self.authed::<_, Task>(method, &path, Some(&queued.task)).await?)
            }
            ProjectEdit::TaskPatch(queued) => {
                EditAnswer::Task(self.authed::<_, Task>(method, &path, Some(&queued.patch)).await?)
            }
            ProjectEdit::TaskDelete(_) => {
                let _: serde_json::Value = self.authed::<(), _>(method, &path, None).await?;
                EditAnswer::Deleted
            }
        };
        Ok(Answer::Edit(Box::new((edit, answer))))
    }

    /// Removes a delivered entry and keeps the relay's answer to it, which was asked for at `asked`: in one
    /// transaction, but the answer only if its team was not forgotten since (checked under the write lock,
    /// as `begin_answer_write` does): a message posted just before its team was forgotten is delivered, and
    /// not cached again afterwards.
    async fn delivered(&self, row: &Row, answer: Answer, asked: Asked) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        let keep = !row.team_id.parse().is_ok_and(|team| self.forgotten_since(team, asked));
        let mut erased = false;
        match answer {
            Answer::Message(message) if keep => {
                erased = cache_message(&mut tx, &message).await?.erased();
            }
            Answer::Project(project) if keep => keep_project(&mut tx, &project).await?,
            Answer::Edit(edit) => after_delivery(&mut tx, row.position, &edit.0, &edit.1, keep).await?,
            Answer::Message(_) | Answer::Project(_) | Answer::Nothing => {}
        }
        // Unless a later read position replaced the entry's body meanwhile: that one goes next. Its words
        // are erased: the relay has them now, and this copy would outlive their deletion there.
        crate::store::erasing(&mut tx, async |tx| {
            sqlx::query("DELETE FROM outbox WHERE position = ? AND body_json = ?")
                .bind(row.position)
                .bind(&row.body_json)
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
        .await?;
        tx.commit().await?;
        if erased {
            self.log_emptier.request();
        }
        Ok(())
    }

    /// Delivers pending entries in order until the queue is empty or the relay stops answering.
    pub async fn flush(&self) -> Result<FlushReport, NodeError> {
        let _one_at_a_time = self.flushing.lock().await;
        let mut report = FlushReport::default();
        let mut registered_documents = false;
        loop {
            let next: Option<Row> = sqlx::query_as(
                "SELECT position, client_id, kind, team_id, body_json, state, error_code, error FROM outbox
                 WHERE state = 'pending' ORDER BY position LIMIT 1",
            )
            .fetch_optional(&self.db)
            .await?;
            let Some(row) = next else { break };
            let asked = self.asking();
            let delivered = match row.change()? {
                Change::Message(body) => {
                    let path = format!("/api/teams/{}/messages", row.team_id);
                    self.authed::<_, Message>(Method::POST, &path, Some(&body)).await.map(Answer::message)
                }
                Change::Read(body) => {
                    // The relay keeps the furthest position, so sending one twice is harmless.
                    let path = format!("/api/teams/{}/read", row.team_id);
                    match self.authed::<_, ReadState>(Method::PUT, &path, Some(&body)).await {
                        Ok(state) => self.remember_read(state.team_id, state.read_seq).await.map(|_| Answer::Nothing),
                        Err(e) => Err(e),
                    }
                }
                Change::ProjectCreate(body) => {
                    let path = format!("/api/teams/{}/projects", row.team_id);
                    self.authed::<_, Project>(Method::POST, &path, Some(&body))
                        .await
                        .map(|p| Answer::Project(Box::new(p)))
                }
                Change::ProjectUpdate(ProjectUpdate { project_id, input }) => {
                    // What the old replacement meant, as a patch: every field it carried.
                    let patch = ProjectPatch {
                        name: Some(input.name),
                        description: Some(input.description),
                        status: input.status,
                        document_id: input.document_id.map(Some),
                        ..ProjectPatch::default()
                    };
                    let path = format!("/api/teams/{}/projects/{project_id}", row.team_id);
                    self.authed::<_, Project>(Method::PATCH, &path, Some(&patch))
                        .await
                        .map(|p| Answer::Project(Box::new(p)))
                }
                Change::Edit(edit) => self.deliver_edit(&row.team_id, edit).await,
                Change::MessageEdit(change) => {
                    let path = format!("/api/teams/{}/messages/{}", row.team_id, change.message_id);
                    let body = EditMessage { content: change.content };
                    self.authed::<_, Message>(Method::PATCH, &path, Some(&body)).await.map(Answer::message)
                }
                Change::MessageDelete(change) => {
                    let path = format!("/api/teams/{}/messages/{}", row.team_id, change.message_id);
                    self.authed::<(), Message>(Method::DELETE, &path, None).await.map(Answer::message)
                }
                Change::Reaction(reaction) => {
                    let path = format!("/api/teams/{}/messages/{}/reactions", row.team_id, reaction.message_id);
                    let body = SetReaction { emoji: reaction.emoji, on: reaction.on };
                    self.authed::<_, Message>(Method::PUT, &path, Some(&body)).await.map(Answer::message)
                }
                Change::Document(body) => {
                    registered_documents = true;
                    let path = format!("/api/teams/{}/documents", row.team_id);
                    match self.authed::<_, DocumentEntry>(Method::POST, &path, Some(&body)).await {
                        // Already registered: an earlier attempt got through but its answer was lost.
                        Err(NodeError::Api(ApiFailure::Refused { status: 409, .. })) => Ok(Answer::Nothing),
                        other => other.map(|_| Answer::Nothing),
                    }
                }
            };
            match delivered {
                Ok(answer) => {
                    self.delivered(&row, answer, asked).await?;
                    report.delivered += 1;
                }
                // Unreachable or busy: try later. A 401 is about the session, not the message: keep it too.
                Err(NodeError::Api(failure)) if failure.is_transient() => break,
                Err(NodeError::Api(ApiFailure::Refused { status: 401, .. })) => break,
                Err(NodeError::Api(ApiFailure::Refused { code, message, .. })) => {
                    tracing::warn!(client_id = row.client_id, code, "the relay refused a queued message");
                    sqlx::query("UPDATE outbox SET state = 'failed', error_code = ?, error = ? WHERE position = ?")
                        .bind(&code)
                        .bind(&message)
                        .bind(row.position)
                        .execute(&self.db)
                        .await?;
                    report.failed += 1;
                }
                Err(e) => return Err(e),
            }
        }
        self.refresh_outbox_status().await?;
        if registered_documents && report.delivered > 0 {
            self.announce_documents().await?;
        }
        let pending: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetch_one(&self.db).await?;
        report.pending = usize::try_from(pending).unwrap_or(0);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use teamflow_protocol::api::messages::{Message, MessageKind};
    use teamflow_protocol::{MessageId, TeamId, UserId};

    use super::*;

    fn message(team: TeamId, seq: i64) -> Message {
        Message {
            id: MessageId::new(),
            team_id: team,
            seq,
            author_id: UserId::new(),
            author_name: "Ada".into(),
            client_id: format!("c{seq}"),
            kind: MessageKind::Text,
            content: "the plan for Friday".into(),
            mentions: Vec::new(),
            created_at: time::OffsetDateTime::now_utc(),
            edited_at: None,
            deleted: false,
            change_seq: None,
            reactions: Vec::new(),
        }
    }

    async fn queued(node: &Node, team: TeamId, client_id: &str) -> Row {
        sqlx::query(
            "INSERT INTO outbox (client_id, kind, team_id, body_json, created_at) VALUES (?, 'message', ?, '{}', 0)",
        )
        .bind(client_id)
        .bind(team.to_string())
        .execute(&node.db)
        .await
        .expect("queue");
        sqlx::query_as(
            "SELECT position, client_id, kind, team_id, body_json, state, error_code, error FROM outbox
             WHERE client_id = ?",
        )
        .bind(client_id)
        .fetch_one(&node.db)
        .await
        .expect("row")
    }

    async fn cached(node: &Node, team: TeamId) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM cached_messages WHERE team_id = ?")
            .bind(team.to_string())
            .fetch_one(&node.db)
            .await
            .expect("read")
    }

    /// The relay's answer to a message posted just before its team was forgotten removes the entry but
    /// caches nothing of the team again; another team's answer, and one asked after, are cached.
    #[tokio::test]
    async fn a_delivery_answered_after_its_team_was_forgotten_is_not_cached() {
        let dir = tempfile::tempdir().expect("dir");
        // Nothing here asks the relay: the answers are handed in.
        let node = Node::open(dir.path(), "https://127.0.0.1:9").await.expect("open");
        let (ops, other) = (TeamId::new(), TeamId::new());
        let (late, elsewhere) = (queued(&node, ops, "c1").await, queued(&node, other, "c2").await);

        let asked = node.asking();
        node.forget_team(ops).await.expect("forget");
        node.delivered(&late, Answer::Message(Box::new(message(ops, 1))), asked).await.expect("delivered");
        node.delivered(&elsewhere, Answer::Message(Box::new(message(other, 1))), asked).await.expect("delivered");
        assert_eq!(cached(&node, ops).await, 0, "the forgotten team's message was cached again");
        assert_eq!(cached(&node, other).await, 1);
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox").fetch_one(&node.db).await.expect("read");
        assert_eq!(left, 0, "both entries were delivered");

        let again = queued(&node, ops, "c3").await;
        node.delivered(&again, Answer::Message(Box::new(message(ops, 2))), node.asking()).await.expect("delivered");
        assert_eq!(cached(&node, ops).await, 1, "asked after the forgetting: kept");
    }
}
