//! Team chat: idempotent posting with per-team sequence numbers (committed in groups by one writer task),
//! mentions checked against the team and recorded, newest-first paging, and each member's read position.
//! Changing and deleting a message is in `changes`, reactions in `reactions`.

mod changes;
mod reactions;

pub use changes::{changes_after, delete, edit};
pub use reactions::set as set_reaction;

use std::collections::{BTreeMap, BTreeSet};

use sqlx::any::AnyExecutor;
use teamflow_protocol::api::messages::{
    MarkRead, Message, MessageKind, MessagePage, MessagesQuery, PostMessage, ReadState,
};
use teamflow_protocol::mentions::{MAX_MENTIONS, mentioned};
use teamflow_protocol::{MessageId, Role, TeamId, UserId};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::access::Membership;
use crate::db::{Db, Page, from_ms, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::validate::{Lines, Validator};

pub const MAX_CONTENT_CHARS: usize = 10_000;

#[derive(sqlx::FromRow)]
struct MessageRow {
    #[sqlx(try_from = "String")]
    id: MessageId,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    seq: i64,
    #[sqlx(try_from = "String")]
    author_id: UserId,
    author_name: String,
    client_id: String,
    #[sqlx(try_from = "String")]
    kind: MessageKind,
    content: String,
    created_at: i64,
    edited_at: Option<i64>,
    deleted_at: Option<i64>,
    /// The team's change number of its last edit or deletion (`changes`).
    change_seq: Option<i64>,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Message {
            id: r.id,
            team_id: r.team_id,
            seq: r.seq,
            author_id: r.author_id,
            author_name: r.author_name,
            client_id: r.client_id,
            kind: r.kind,
            // Stored content was checked when posted: every mention in it named a member then.
            mentions: mentioned(&r.content),
            content: r.content,
            created_at: from_ms(r.created_at),
            edited_at: r.edited_at.map(from_ms),
            deleted: r.deleted_at.is_some(),
            change_seq: r.change_seq,
            reactions: Vec::new(),
        }
    }
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.team_id, m.seq, m.author_id, u.display_name AS author_name,
        m.client_id, m.kind, m.content, m.created_at, m.edited_at, m.deleted_at, m.change_seq
    FROM messages m JOIN users u ON u.id = m.author_id";

/// Whether a post made a new message or found the one an earlier attempt made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Created,
    Existing,
}

/// Posts that share commits. Every post queued while the writer's previous group was committing goes into
/// the next group: one transaction, one fsync. Once its group has committed, a new message is published and
/// then its post answered, so nothing acknowledged is lost and none is fanned out twice or not at all; under
/// load the commit cost is spread over the group (docs/benchmarks.md).
#[derive(Debug, Clone)]
pub struct MessageWriter {
    jobs: mpsc::Sender<Job>,
}

/// The most posts one transaction takes; the rest wait for the next.
const MAX_GROUP: usize = 256;

#[derive(Debug)]
struct Job {
    team: TeamId,
    user: UserId,
    post: ValidPost,
    reply: oneshot::Sender<Result<(Message, Posted), ApiError>>,
}

/// A post that passed validation.
#[derive(Debug)]
struct ValidPost {
    client_id: String,
    content: String,
    kind: MessageKind,
    mentions: Vec<UserId>,
}

impl MessageWriter {
    /// Starts the writer task. It commits what is queued, then ends, once `stop` is cancelled.
    pub fn spawn(db: Db, events: Events, stop: CancellationToken) -> (MessageWriter, JoinHandle<()>) {
        let (jobs, queue) = mpsc::channel(4 * MAX_GROUP);
        (MessageWriter { jobs }, tokio::spawn(write_groups(db, events, queue, stop)))
    }

    /// Stores a message by `author`, or returns the one already stored under the same `client_id`, so a
    /// client may retry freely. Answers once the message is committed and, if new, published.
    pub async fn post(&self, author: &Membership, input: PostMessage) -> Result<(Message, Posted), ApiError> {
        author.require(Role::Member)?;
        let (team, user) = (author.team(), author.user());
        let mut v = Validator::new();
        let client_id = v.client_id("client_id", &input.client_id);
        let (content, mentions) = checked_content(&mut v, &input.content);
        v.finish()?;
        let (reply, answer) = oneshot::channel();
        let post = ValidPost { client_id, content, kind: input.kind, mentions };
        let stopped = || ApiError::ServiceUnavailable("the relay is shutting down");
        self.jobs.send(Job { team, user, post, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// A message's text as stored (checked as `Validator::text` does), and who it mentions.
fn checked_content(v: &mut Validator, content: &str) -> (String, Vec<UserId>) {
    let content = v.text("content", content, 1, MAX_CONTENT_CHARS, Lines::Multi);
    let mentions = mentioned(&content);
    v.check("content", mentions.len() <= MAX_MENTIONS, "mentions more than 50 people");
    (content, mentions)
}

async fn write_groups(db: Db, events: Events, mut queue: mpsc::Receiver<Job>, stop: CancellationToken) {
    loop {
        let first = tokio::select! {
            job = queue.recv() => job,
            () = stop.cancelled() => {
                // No new posts once stopping; what is queued is still committed and answered.
                queue.close();
                queue.recv().await
            }
        };
        let Some(first) = first else { return };
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&db, &events, group).await;
    }
}

/// Commits a group and answers each post. If the group's transaction fails, each post is tried again in
/// its own, so one post's failure is not its neighbours'.
async fn commit_group(db: &Db, events: &Events, group: Vec<Job>) {
    let answers = match insert_all(db, &group).await {
        Ok(answers) => answers,
        Err(e) if group.len() > 1 => {
            tracing::warn!(error = %e, posts = group.len(), "a group of posts failed; committing them one by one");
            for job in group {
                let answer = insert_all(db, std::slice::from_ref(&job)).await.and_then(|mut a| a.remove(0));
                answer_post(events, job, answer).await;
            }
            return;
        }
        Err(e) => vec![Err(e)],
    };
    for (job, answer) in group.into_iter().zip(answers) {
        answer_post(events, job, answer).await;
    }
}

/// Once the post's transaction has committed: publishes the message if it is new, then answers the post.
async fn answer_post(events: &Events, job: Job, answer: Result<(Message, Posted), ApiError>) {
    if let Ok((message, Posted::Created)) = &answer {
        events.publish(Event::MessagePosted(message.clone())).await;
    }
    job.reply.send(answer).ok();
}

/// Inserts every post in one transaction. An `Err` means nothing was committed; a post's own answer may
/// still be an error (a `client_id` reused for a different message, a team deleted meanwhile) that wrote
/// nothing.
async fn insert_all(db: &Db, jobs: &[Job]) -> Result<Vec<Result<(Message, Posted), ApiError>>, ApiError> {
    let mut tx = db.begin_write().await?;
    // Each team's next seq is chosen under its lock (a no-op beyond `begin_write` on SQLite; a row lock on
    // PostgreSQL, where other instances post too). Taken once per team of the group, in one order, so two
    // instances' groups never wait on each other in a cycle.
    let teams: BTreeSet<TeamId> = jobs.iter().map(|job| job.team).collect();
    let mut gone = BTreeSet::new();
    for team in teams {
        if !db.lock_team(&mut tx, &team.to_string()).await? {
            gone.insert(team);
        }
    }
    let mut answers = Vec::with_capacity(jobs.len());
    for job in jobs {
        if gone.contains(&job.team) {
            answers.push(Err(ApiError::NotFound(crate::access::TEAM_NOT_FOUND)));
            continue;
        }
        answers.push(insert(&mut tx, job).await?);
    }
    tx.commit().await?;
    Ok(answers)
}

/// The outer error fails the transaction; the inner one is this post's answer alone.
async fn insert(tx: &mut sqlx::AnyConnection, job: &Job) -> Result<Result<(Message, Posted), ApiError>, ApiError> {
    let (team, user, post) = (job.team, job.user, &job.post);
    // Checked in the write transaction, so a member removed meanwhile cannot be recorded as mentioned.
    if let Some(problem) = non_member_mention(tx, team, &post.mentions).await? {
        return Ok(Err(problem));
    }
    // One statement, under the team's lock (`insert_all`): concurrent posts can neither share a seq nor
    // duplicate a client_id.
    let inserted = sqlx::query(
        "INSERT INTO messages (id, team_id, seq, author_id, client_id, kind, content, created_at)
         SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7 FROM messages WHERE team_id = $2
         ON CONFLICT (team_id, author_id, client_id) DO NOTHING",
    )
    .bind(MessageId::new().to_string())
    .bind(team.to_string())
    .bind(user.to_string())
    .bind(&post.client_id)
    .bind(post.kind.as_str())
    .bind(&post.content)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;

    let row: MessageRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MESSAGE_SELECT} WHERE m.team_id = $1 AND m.author_id = $2 AND m.client_id = $3"
    )))
    .bind(team.to_string())
    .bind(user.to_string())
    .bind(&post.client_id)
    .fetch_one(&mut *tx)
    .await?;
    let message = Message::from(row);
    if inserted.rows_affected() == 1 {
        for mentioned in &post.mentions {
            sqlx::query("INSERT INTO message_mentions (message_id, team_id, seq, user_id) VALUES ($1, $2, $3, $4)")
                .bind(message.id.to_string())
                .bind(team.to_string())
                .bind(message.seq)
                .bind(mentioned.to_string())
                .execute(&mut *tx)
                .await?;
        }
        return Ok(Ok((message, Posted::Created)));
    }
    // A retry finds the message as it is now: edited or deleted since, it is still the one this post made.
    let changed_since = message.edited_at.is_some() || message.deleted;
    if (message.content != post.content || message.kind != post.kind) && !changed_since {
        return Ok(Err(ApiError::Conflict("this client_id was already used for a different message")));
    }
    // With its reactions: a copy without them, at the same change number, would stand for the message as
    // it is now on the device that retried.
    let mut message = [message];
    reactions::attach(&mut *tx, &mut message).await?;
    let [message] = message;
    Ok(Ok((message, Posted::Existing)))
}

/// The team's highest message `seq` (0 for an empty chat).
pub async fn latest_seq<'e, E: AnyExecutor<'e>>(db: E, team: TeamId) -> Result<i64, ApiError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM messages WHERE team_id = $1")
        .bind(team.to_string())
        .fetch_one(db)
        .await?;
    Ok(seq.unwrap_or(0))
}

/// A page of messages, newest first, strictly older than `before` when given.
pub async fn list(db: &Db, member: &Membership, query: MessagesQuery) -> Result<MessagePage, ApiError> {
    let page = Page::new(query.limit);
    let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MESSAGE_SELECT} WHERE m.team_id = $1 AND ($2 IS NULL OR m.seq < $3) ORDER BY m.seq DESC LIMIT $4"
    )))
    .bind(member.team().to_string())
    .bind(query.before)
    .bind(query.before)
    .bind(page.fetch())
    .fetch_all(db.pool())
    .await?;
    let (rows, next_before) = page.split(rows, |m| m.seq);
    let mut messages: Vec<Message> = rows.into_iter().map(Message::from).collect();
    reactions::attach(db.pool(), &mut messages).await?;
    Ok(MessagePage { messages, next_before })
}

/// A refusal if any of `mentions` is not a member of `team`.
pub(crate) async fn non_member_mention(
    tx: &mut sqlx::AnyConnection,
    team: TeamId,
    mentions: &[UserId],
) -> Result<Option<ApiError>, ApiError> {
    for user in mentions {
        let member: Option<i64> = sqlx::query_scalar("SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(team.to_string())
            .bind(user.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if member.is_none() {
            let fields =
                BTreeMap::from([("content".to_owned(), format!("mentions {user}, who is not a member of this team"))]);
            return Ok(Some(ApiError::Validation { message: "the request has invalid fields".into(), fields }));
        }
    }
    Ok(None)
}

/// Where `member` stands in the team's chat (its counts read in one transaction).
pub async fn read_state(db: &Db, member: &Membership) -> Result<ReadState, ApiError> {
    let mut tx = db.pool().begin().await?;
    let state = read_state_in(&mut tx, member).await?;
    tx.commit().await?;
    Ok(state)
}

async fn read_state_in(db: &mut sqlx::AnyConnection, member: &Membership) -> Result<ReadState, ApiError> {
    let (team, user) = (member.team().to_string(), member.user().to_string());
    let read_seq: i64 = sqlx::query_scalar("SELECT seq FROM read_positions WHERE team_id = $1 AND user_id = $2")
        .bind(&team)
        .bind(&user)
        .fetch_optional(&mut *db)
        .await?
        .unwrap_or(0);
    let (latest, unread): (Option<i64>, i64) = sqlx::query_as(
        "SELECT (SELECT MAX(seq) FROM messages WHERE team_id = $1),
                (SELECT COUNT(*) FROM messages
                   WHERE team_id = $1 AND seq > $2 AND author_id != $3 AND deleted_at IS NULL)",
    )
    .bind(&team)
    .bind(read_seq)
    .bind(&user)
    .fetch_one(&mut *db)
    .await?;
    let mentions: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM message_mentions WHERE team_id = $1 AND user_id = $2 AND seq > $3")
            .bind(&team)
            .bind(&user)
            .bind(read_seq)
            .fetch_one(&mut *db)
            .await?;
    Ok(ReadState { team_id: member.team(), read_seq, latest_seq: latest.unwrap_or(0), unread, mentions })
}

/// Moves `member`'s read position to `seq` if that is further on (a position behind it changes nothing), and
/// tells their other connections. `seq` past the team's newest message is refused.
pub async fn mark_read(db: &Db, events: &Events, member: &Membership, input: MarkRead) -> Result<ReadState, ApiError> {
    let mut tx = crate::db::begin_write(db).await?;
    let latest = latest_seq(&mut *tx, member.team()).await?;
    let mut v = Validator::new();
    v.check("seq", (0..=latest).contains(&input.seq), "must be a message of this team (0 to its newest)");
    v.finish()?;
    let moved = sqlx::query(
        "INSERT INTO read_positions (team_id, user_id, seq, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (team_id, user_id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
         WHERE excluded.seq > read_positions.seq",
    )
    .bind(member.team().to_string())
    .bind(member.user().to_string())
    .bind(input.seq)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    let state = read_state_in(&mut tx, member).await?;
    tx.commit().await?;
    if moved {
        events.publish(Event::ReadMoved { user: member.user(), state }).await;
    }
    Ok(state)
}
