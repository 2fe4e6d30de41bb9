//! Changing a message after it was posted: its author rewrites the text, or it or an admin deletes it.
//! Each is one write transaction under the team's lock with the caller's role read there (so an edit and
//! a deletion of one message, or a demotion, never interleave), its mentions following its text, published
//! once committed as `message_changed`. A deleted message keeps its row and `seq` with its text emptied,
//! so the chat keeps its numbering and nobody's read position moves. Each change takes the team's next
//! change number, so a device that was away catches up with `changes_after`. Reactions are in `reactions`.

use teamflow_protocol::api::messages::{
    EditMessage, MIRRORED_CLIENT_PREFIX, Message, MessageChanges, MessageChangesQuery,
};
use teamflow_protocol::{MessageId, Role, UserId};

use super::{MESSAGE_SELECT, MessageRow, checked_content, non_member_mention};
use crate::access::{Membership, recheck};
use crate::db::{Db, Page, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::validate::Validator;

const MESSAGE_NOT_FOUND: &str = "no such message in this team";
pub(super) const MESSAGE_DELETED: &str = "the message was deleted";

/// Replaces the text of `member`'s own message. The same text again changes nothing (and tells no one),
/// so a repeated delivery is harmless.
pub async fn edit(
    db: &Db,
    events: &Events,
    member: &Membership,
    id: MessageId,
    input: EditMessage,
) -> Result<Message, ApiError> {
    member.require(Role::Member)?;
    let mut v = Validator::new();
    let (content, mentions) = checked_content(&mut v, &input.content);
    v.finish()?;
    let mut tx = db.begin_erasing().await?;
    recheck(db, &mut tx, member, Role::Member).await?;
    let message = find(&mut tx, member, id).await?;
    if message.author_id != member.user() {
        return Err(ApiError::Forbidden("only its author may change a message"));
    }
    if message.client_id.starts_with(MIRRORED_CLIENT_PREFIX) {
        return Err(ApiError::Forbidden("a message mirrored from another service is not changed here"));
    }
    if message.deleted {
        return Err(ApiError::Gone(MESSAGE_DELETED));
    }
    if message.content == content {
        return Ok(message);
    }
    // Checked in the write transaction, as for a post: nobody removed meanwhile is newly recorded as
    // mentioned. Those it mentioned already stay, members or not, so a typo can be fixed after one left.
    let added: Vec<UserId> = mentions.iter().filter(|user| !message.mentions.contains(user)).copied().collect();
    if let Some(problem) = non_member_mention(&mut tx, member.team(), &added).await? {
        return Err(problem);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE messages SET content = $1, edited_at = $2, change_seq = {} WHERE id = $3 AND deleted_at IS NULL",
        next_change("$4")
    )))
    .bind(&content)
    .bind(now_ms())
    .bind(id.to_string())
    .bind(member.team().to_string())
    .execute(&mut **tx)
    .await?;
    record_mentions(&mut tx, &message, &mentions).await?;
    let changed = find(&mut tx, member, id).await?;
    tx.commit().await?;
    events.publish(Event::MessageChanged(changed.clone())).await;
    Ok(changed)
}

/// Deletes a message: its author may (whatever their role now), and admins and owners may delete anyone's.
/// Deleting it again answers it as it is.
pub async fn delete(db: &Db, events: &Events, member: &Membership, id: MessageId) -> Result<Message, ApiError> {
    let mut tx = db.begin_erasing().await?;
    recheck(db, &mut tx, member, Role::Viewer).await?;
    let message = find(&mut tx, member, id).await?;
    if message.author_id != member.user() {
        recheck(db, &mut tx, member, Role::Admin).await.map_err(|e| match e {
            ApiError::Forbidden(_) => ApiError::Forbidden("only its author, admins and owners may delete a message"),
            other => other,
        })?;
    }
    if message.deleted {
        return Ok(message);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE messages SET content = '', deleted_at = $1, change_seq = {} WHERE id = $2",
        next_change("$3")
    )))
    .bind(now_ms())
    .bind(id.to_string())
    .bind(member.team().to_string())
    .execute(&mut **tx)
    .await?;
    record_mentions(&mut tx, &message, &[]).await?;
    // Its reactions go with its words.
    sqlx::query("DELETE FROM message_reactions WHERE message_id = $1").bind(id.to_string()).execute(&mut **tx).await?;
    let deleted = find(&mut tx, member, id).await?;
    tx.commit().await?;
    events.publish(Event::MessageChanged(deleted.clone())).await;
    Ok(deleted)
}

/// The team's next change number, the team being the statement's parameter `team`; chosen under the
/// team's lock (`recheck` took it), so two changes never share one.
pub(super) fn next_change(team: &str) -> String {
    // `IS NOT NULL` lets SQLite take the partial index (PostgreSQL infers it).
    format!("(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM messages WHERE team_id = {team} AND change_seq IS NOT NULL)")
}

/// The team's messages changed after change number `after`, as they are now, oldest change first.
pub async fn changes_after(
    db: &Db,
    member: &Membership,
    query: MessageChangesQuery,
) -> Result<MessageChanges, ApiError> {
    let page = Page::new(query.limit);
    let rows: Vec<MessageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MESSAGE_SELECT} WHERE m.team_id = $1 AND m.change_seq > $2 ORDER BY m.change_seq LIMIT $3"
    )))
    .bind(member.team().to_string())
    .bind(query.after)
    .bind(page.fetch())
    .fetch_all(db.pool())
    .await?;
    let (rows, next) = page.split(rows, |row| row.change_seq.unwrap_or(query.after));
    let mut messages: Vec<Message> = rows.into_iter().map(Message::from).collect();
    super::reactions::attach(db.pool(), &mut messages).await?;
    let next_after = messages.last().and_then(|m| m.change_seq).unwrap_or(query.after);
    Ok(MessageChanges { messages, next_after, more: next.is_some() })
}

/// The message `id` of the member's team, with its reactions.
pub(super) async fn find(
    tx: &mut sqlx::AnyConnection,
    member: &Membership,
    id: MessageId,
) -> Result<Message, ApiError> {
    let row: Option<MessageRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{MESSAGE_SELECT} WHERE m.id = $1 AND m.team_id = $2")))
            .bind(id.to_string())
            .bind(member.team().to_string())
            .fetch_optional(&mut *tx)
            .await?;
    let mut message = [row.map(Message::from).ok_or(ApiError::NotFound(MESSAGE_NOT_FOUND))?];
    super::reactions::attach(&mut *tx, &mut message).await?;
    let [message] = message;
    Ok(message)
}

/// Makes the message's recorded mentions (which unread counts read) those of its text now.
async fn record_mentions(tx: &mut sqlx::AnyConnection, message: &Message, mentions: &[UserId]) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM message_mentions WHERE message_id = $1")
        .bind(message.id.to_string())
        .execute(&mut *tx)
        .await?;
    for user in mentions {
        sqlx::query("INSERT INTO message_mentions (message_id, team_id, seq, user_id) VALUES ($1, $2, $3, $4)")
            .bind(message.id.to_string())
            .bind(message.team_id.to_string())
            .bind(message.seq)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}
