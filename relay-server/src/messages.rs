//! Team chat: idempotent posting with per-team sequence numbers, and newest-first paging.

use sqlx::SqlitePool;
use teamflow_protocol::api::messages::{Message, MessageKind, MessagePage, MessagesQuery, PostMessage};
use teamflow_protocol::{MessageId, Role, TeamId, UserId};

use crate::db::{Page, from_ms, now_ms};
use crate::error::ApiError;
use crate::teams::{require, role_in};
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
            content: r.content,
            created_at: from_ms(r.created_at),
        }
    }
}

const MESSAGE_SELECT: &str = "SELECT m.id, m.team_id, m.seq, m.author_id, u.display_name AS author_name,
        m.client_id, m.kind, m.content, m.created_at
    FROM messages m JOIN users u ON u.id = m.author_id";

/// Whether a post made a new message or found the one an earlier attempt made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Created,
    Existing,
}

/// Stores a message, or returns the one already stored under the same `client_id`, so a client may retry
/// freely. The message is committed before this returns; fan-out happens after.
pub async fn post(
    db: &SqlitePool,
    team: TeamId,
    user: UserId,
    input: PostMessage,
) -> Result<(Message, Posted), ApiError> {
    let role = role_in(db, team, user).await?;
    post_as(db, team, user, role, input).await
}

/// `post` for a caller whose role is already known (the realtime path reads it from the cache).
pub async fn post_as(
    db: &SqlitePool,
    team: TeamId,
    user: UserId,
    role: Role,
    input: PostMessage,
) -> Result<(Message, Posted), ApiError> {
    require(role, Role::Member)?;
    let mut v = Validator::new();
    let client_id = v.client_id("client_id", &input.client_id);
    let client_id = client_id.as_str();
    let content = v.text("content", &input.content, 1, MAX_CONTENT_CHARS, Lines::Multi);
    v.finish()?;

    // One statement: the sequence number and the uniqueness check happen under SQLite's write lock,
    // so concurrent posts can neither share a seq nor duplicate a client_id.
    let inserted = sqlx::query(
        "INSERT INTO messages (id, team_id, seq, author_id, client_id, kind, content, created_at)
         SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5, ?6, ?7 FROM messages WHERE team_id = ?2
         ON CONFLICT (team_id, author_id, client_id) DO NOTHING",
    )
    .bind(MessageId::new().to_string())
    .bind(team.to_string())
    .bind(user.to_string())
    .bind(client_id)
    .bind(input.kind.as_str())
    .bind(&content)
    .bind(now_ms())
    .execute(db)
    .await?;

    let row: MessageRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MESSAGE_SELECT} WHERE m.team_id = ? AND m.author_id = ? AND m.client_id = ?"
    )))
    .bind(team.to_string())
    .bind(user.to_string())
    .bind(client_id)
    .fetch_one(db)
    .await?;
    let message = Message::from(row);
    if inserted.rows_affected() == 1 {
        return Ok((message, Posted::Created));
    }
    if message.content != content || message.kind != input.kind {
        return Err(ApiError::Conflict("this client_id was already used for a different message"));
    }
    Ok((message, Posted::Existing))
}

/// The team's highest message `seq` (0 for an empty chat).
pub async fn latest_seq(db: &SqlitePool, team: TeamId) -> Result<i64, ApiError> {
    let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM messages WHERE team_id = ?")
        .bind(team.to_string())
        .fetch_one(db)
        .await?;
    Ok(seq.unwrap_or(0))
}

/// A page of messages, newest first, strictly older than `before` when given.
pub async fn list(db: &SqlitePool, team: TeamId, user: UserId, query: MessagesQuery) -> Result<MessagePage, ApiError> {
    role_in(db, team, user).await?;
    let page = Page::new(query.limit);
    let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MESSAGE_SELECT} WHERE m.team_id = ? AND (? IS NULL OR m.seq < ?) ORDER BY m.seq DESC LIMIT ?"
    )))
    .bind(team.to_string())
    .bind(query.before)
    .bind(query.before)
    .bind(page.fetch())
    .fetch_all(db)
    .await?;
    let (rows, next_before) = page.split(rows, |m| m.seq);
    Ok(MessagePage { messages: rows.into_iter().map(Message::from).collect(), next_before })
}
