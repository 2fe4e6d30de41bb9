//! Chat history on the node: the latest messages and older pages, fetched from the relay when it answers
//! and kept in the cache, so history reads offline too, with this device's queued changes of messages laid
//! over them. (Sending, changing and deleting go through the outbox.)

use reqwest::Method;
use teamflow_protocol::api::messages::{Message, MessageChanges, MessagePage};
use teamflow_protocol::{MessageId, TeamId};

use crate::outbox::{OutboxEntry, QueuedMessageChange, QueuedReaction};
use crate::store::{cache_message, recache_message};
use crate::{ApiFailure, Node, NodeError};

impl Node {
    /// The team's recent messages, oldest first: fetched from the relay when reachable (and cached), else
    /// read from the cache.
    pub async fn messages(&self, team: TeamId) -> Result<Vec<Message>, NodeError> {
        self.cache_message_page(team, &format!("/api/teams/{team}/messages?limit=100")).await?;
        let rows: Vec<String> = sqlx::query_scalar("SELECT json FROM cached_messages WHERE team_id = ? ORDER BY seq")
            .bind(team.to_string())
            .fetch_all(&self.db)
            .await?;
        self.with_queued_changes(team, &rows).await
    }

    /// Queues new text for one of the signed-in person's messages (works offline; shown changed at once).
    /// The relay refuses it for anyone else's message, or one deleted meanwhile.
    pub async fn edit_message(&self, team: TeamId, id: MessageId, content: &str) -> Result<OutboxEntry, NodeError> {
        let seq = self.cached_seq(team, id).await?;
        let change = QueuedMessageChange { message_id: id, seq, content: content.to_owned() };
        self.enqueue_message_change(team, change, false).await
    }

    /// Queues deleting a message (its author's, or anyone's for an admin or owner); works offline and shows
    /// it deleted at once.
    pub async fn delete_message(&self, team: TeamId, id: MessageId) -> Result<OutboxEntry, NodeError> {
        let seq = self.cached_seq(team, id).await?;
        let content = self.cached(team, seq).await?.map(|m| m.content).unwrap_or_default();
        let change = QueuedMessageChange { message_id: id, seq, content };
        self.enqueue_message_change(team, change, true).await
    }

    /// Queues putting this person's `emoji` on a message (`on`) or taking it off; works offline and shows
    /// it at once. Refused here, before it is queued, when it is not one emoji.
    pub async fn react(&self, team: TeamId, id: MessageId, emoji: &str, on: bool) -> Result<OutboxEntry, NodeError> {
        if !teamflow_protocol::api::messages::is_reaction_emoji(emoji) {
            return Err(NodeError::Invalid(format!("a reaction is one emoji, not {emoji:?}")));
        }
        self.cached_seq(team, id).await?;
        self.enqueue_reaction(team, QueuedReaction { message_id: id, emoji: emoji.to_owned(), on }).await
    }

    /// Where a message this device has shown sits in the chat.
    async fn cached_seq(&self, team: TeamId, id: MessageId) -> Result<i64, NodeError> {
        let seq: Option<i64> =
            sqlx::query_scalar("SELECT seq FROM cached_messages WHERE team_id = ? AND json_extract(json, '$.id') = ?")
                .bind(team.to_string())
                .bind(id.to_string())
                .fetch_optional(&self.db)
                .await?;
        seq.ok_or(NodeError::NotFound("message"))
    }

    async fn cached(&self, team: TeamId, seq: i64) -> Result<Option<Message>, NodeError> {
        let json: Option<String> = sqlx::query_scalar("SELECT json FROM cached_messages WHERE team_id = ? AND seq = ?")
            .bind(team.to_string())
            .bind(seq)
            .fetch_optional(&self.db)
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(NodeError::corrupt)).transpose()
    }

    /// Cached messages (JSON, oldest first) as this device shows them: with its queued changes laid over.
    async fn with_queued_changes(&self, team: TeamId, rows: &[String]) -> Result<Vec<Message>, NodeError> {
        let mut messages: Vec<Message> =
            rows.iter().map(|j| serde_json::from_str(j).map_err(NodeError::corrupt)).collect::<Result<_, _>>()?;
        for (change, delete) in self.queued_message_changes(team).await? {
            if let Some(message) = messages.iter_mut().find(|m| m.id == change.message_id) {
                if delete {
                    message.deleted = true;
                    message.content.clear();
                    message.mentions.clear();
                } else if !message.deleted {
                    message.mentions = teamflow_protocol::mentions::mentioned(&change.content);
                    message.content = change.content;
                    message.edited_at = Some(time::OffsetDateTime::now_utc());
                }
            }
        }
        let queued = self.queued_reactions(team).await?;
        if !queued.is_empty() {
            let me = self.user().await.ok_or(NodeError::SignedOut)?.id;
            for reaction in queued {
                if let Some(message) = messages.iter_mut().find(|m| m.id == reaction.message_id && !m.deleted) {
                    lay_over(&mut message.reactions, &reaction, me);
                }
            }
        }
        Ok(messages)
    }

    /// Up to `limit` messages older than `before` (a `seq`), oldest first, for paging back through history:
    /// from the relay when reachable (and cached), else whatever the cache holds. Offline with nothing older
    /// cached, `NotCached`: an empty page would say the history starts here, which only the relay knows.
    pub async fn messages_before(&self, team: TeamId, before: i64, limit: u32) -> Result<Vec<Message>, NodeError> {
        let limit = limit.clamp(1, 100);
        let unreached =
            self.cache_message_page(team, &format!("/api/teams/{team}/messages?before={before}&limit={limit}")).await?;
        let mut rows: Vec<String> = sqlx::query_scalar(
            "SELECT json FROM cached_messages WHERE team_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(team.to_string())
        .bind(before)
        .bind(limit)
        .fetch_all(&self.db)
        .await?;
        if rows.is_empty()
            && let Some(failure) = unreached
        {
            // Offline: the page waits for the link. A relay that answered busy or failing says so instead
            // (it is reachable, so nothing would clear "once you're connected").
            return Err(match failure {
                ApiFailure::Unreachable(_) => NodeError::NotCached(failure),
                other => NodeError::Api(other),
            });
        }
        rows.reverse();
        self.with_queued_changes(team, &rows).await
    }

    /// Brings the messages this device keeps up to date with those edited or deleted since it last asked
    /// (every change, the first time), page by page: what the room told while this device was away is not
    /// told again. Run once the team's room is joined; only messages already kept are changed, and those
    /// are answered (for the app to show as the room would have told them).
    pub(crate) async fn catch_up_message_changes(&self, team: TeamId) -> Result<Vec<Message>, NodeError> {
        let mut changed = Vec::new();
        loop {
            let after: i64 = sqlx::query_scalar("SELECT after FROM message_change_cursors WHERE team_id = ?")
                .bind(team.to_string())
                .fetch_optional(&self.db)
                .await?
                .unwrap_or(0);
            let asked = self.asking();
            let path = format!("/api/teams/{team}/messages/changes?after={after}&limit=100");
            let page: MessageChanges = self.authed::<(), _>(Method::GET, &path, None).await?;
            let Some(mut tx) = self.begin_answer_write(Some(team), asked).await? else { return Ok(changed) };
            let mut erasing = false;
            for message in page.messages {
                let cached = recache_message(&mut tx, &message).await?;
                erasing |= cached.erased();
                if cached.kept() {
                    changed.push(message);
                }
            }
            sqlx::query(
                "INSERT INTO message_change_cursors (team_id, after) VALUES (?, ?)
                 ON CONFLICT (team_id) DO UPDATE SET after = MAX(after, excluded.after)",
            )
            .bind(team.to_string())
            .bind(page.next_after)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            if erasing {
                self.log_emptier.request();
            }
            if !page.more {
                return Ok(changed);
            }
        }
    }

    /// Keeps messages (a page from the relay, an import) for reading offline and for search, in one
    /// transaction: all of them or none.
    pub async fn keep_messages(&self, messages: &[Message]) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        let mut erased = false;
        for message in messages {
            erased |= cache_message(&mut tx, message).await?.erased();
        }
        tx.commit().await?;
        if erased {
            self.log_emptier.request();
        }
        Ok(())
    }

    /// Fetches a page of `team`'s messages from the relay into the cache (not when the team was forgotten
    /// while the page was on its way). While the relay is unreachable nothing changes, and the answer is why.
    async fn cache_message_page(&self, team: TeamId, path: &str) -> Result<Option<ApiFailure>, NodeError> {
        let asked = self.asking();
        match self.authed::<(), MessagePage>(Method::GET, path, None).await {
            Ok(page) => {
                let Some(mut tx) = self.begin_answer_write(Some(team), asked).await? else {
                    return Ok(None);
                };
                let mut erased = false;
                for message in &page.messages {
                    erased |= cache_message(&mut tx, message).await?.erased();
                }
                tx.commit().await?;
                if erased {
                    self.log_emptier.request();
                }
                Ok(None)
            }
            Err(NodeError::Api(e)) if e.is_transient() => Ok(Some(e)),
            Err(e) => Err(e),
        }
    }
}

/// `reactions` as they will be once `queued` (this person's) is delivered.
fn lay_over(
    reactions: &mut Vec<teamflow_protocol::api::messages::Reaction>,
    queued: &QueuedReaction,
    me: teamflow_protocol::UserId,
) {
    let at = reactions.iter().position(|r| r.emoji == queued.emoji);
    match (at, queued.on) {
        (Some(at), true) if !reactions[at].user_ids.contains(&me) => reactions[at].user_ids.push(me),
        (None, true) => reactions
            .push(teamflow_protocol::api::messages::Reaction { emoji: queued.emoji.clone(), user_ids: vec![me] }),
        (Some(at), false) => {
            reactions[at].user_ids.retain(|user| *user != me);
            if reactions[at].user_ids.is_empty() {
                reactions.remove(at);
            }
        }
        (Some(_), true) | (None, false) => {}
    }
}
