//! Emoji reactions on messages: a member puts an emoji on a message or takes theirs off, in one write
//! transaction under the team's lock with their role read there; a change that changes something takes the
//! team's next change number on the message (a device that was away catches up with it as with an edit)
//! and is published, once committed, as `message_changed`. Every message the relay answers carries its
//! reactions (`attach`).

use std::collections::HashMap;

use teamflow_protocol::api::messages::{MAX_REACTIONS, Message, Reaction, SetReaction, is_reaction_emoji};
use teamflow_protocol::{MessageId, Role};

use super::changes::{MESSAGE_DELETED, find, next_change};
use crate::access::{Membership, recheck};
use crate::db::{Db, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::validate::Validator;

/// Puts the caller's emoji on the message, or takes it off. Answers the message as it is afterwards; one
/// that did not change (the emoji already there, or not there to take off) is answered and told to no one.
pub async fn set(
    db: &Db,
    events: &Events,
    member: &Membership,
    id: MessageId,
    input: SetReaction,
) -> Result<Message, ApiError> {
    member.require(Role::Member)?;
    let mut v = Validator::new();
    v.check("emoji", is_reaction_emoji(&input.emoji), "must be one emoji");
    v.finish()?;
    let mut tx = db.begin_write().await?;
    recheck(db, &mut tx, member, Role::Member).await?;
    let message = find(&mut tx, member, id).await?;
    if message.deleted {
        // Taking one off a deleted message (which has none) is already done; putting one on is refused.
        return if input.on { Err(ApiError::Gone(MESSAGE_DELETED)) } else { Ok(message) };
    }
    let changed = if input.on {
        let new_emoji = !message.reactions.iter().any(|r| r.emoji == input.emoji);
        if new_emoji && message.reactions.len() >= MAX_REACTIONS {
            let mut v = Validator::new();
            v.fail("emoji", format!("a message takes at most {MAX_REACTIONS} different emoji"));
            v.finish()?;
        }
        sqlx::query(
            "INSERT INTO message_reactions (message_id, emoji, user_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (message_id, emoji, user_id) DO NOTHING",
        )
        .bind(id.to_string())
        .bind(&input.emoji)
        .bind(member.user().to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected()
    } else {
        sqlx::query("DELETE FROM message_reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3")
            .bind(id.to_string())
            .bind(&input.emoji)
            .bind(member.user().to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected()
    };
    if changed == 0 {
        return Ok(message);
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE messages SET change_seq = {} WHERE id = $2", next_change("$1"))))
        .bind(member.team().to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    let changed = find(&mut tx, member, id).await?;
    tx.commit().await?;
    events.publish(Event::MessageChanged(changed.clone())).await;
    Ok(changed)
}

/// Fills in the reactions of `messages` (one query for all of them), each emoji in the order it was first
/// put on, its people in the order they put it there.
pub(crate) async fn attach<'c, E>(db: E, messages: &mut [Message]) -> Result<(), ApiError>
where
    E: sqlx::AnyExecutor<'c>,
{
    let live: Vec<String> = messages.iter().filter(|m| !m.deleted).map(|m| m.id.to_string()).collect();
    if live.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (1..=live.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT message_id, emoji, user_id FROM message_reactions WHERE message_id IN ({})
         ORDER BY created_at, emoji, user_id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as::<_, (String, String, String)>(sqlx::AssertSqlSafe(sql));
    for id in &live {
        query = query.bind(id);
    }
    let mut by_message: HashMap<String, Vec<Reaction>> = HashMap::new();
    for (message, emoji, user) in query.fetch_all(db).await? {
        let user = user.parse().map_err(|e| ApiError::Internal(format!("user id in database: {e}")))?;
        let reactions = by_message.entry(message).or_default();
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(reaction) => reaction.user_ids.push(user),
            None => reactions.push(Reaction { emoji, user_ids: vec![user] }),
        }
    }
    for message in messages {
        message.reactions = by_message.remove(&message.id.to_string()).unwrap_or_default();
    }
    Ok(())
}
