//! Chat history on the node: the latest messages and older pages, fetched from the relay when it answers
//! and kept in the cache, so history reads offline too. (Sending goes through the outbox.)

use reqwest::Method;
use teamflow_protocol::TeamId;
use teamflow_protocol::api::messages::{Message, MessagePage};

use crate::store::cache_message;
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
        rows.iter().map(|j| serde_json::from_str(j).map_err(NodeError::corrupt)).collect()
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
        rows.iter().map(|j| serde_json::from_str(j).map_err(NodeError::corrupt)).collect()
    }

    /// Keeps messages (a page from the relay, an import) for reading offline and for search, in one
    /// transaction: all of them or none.
    pub async fn keep_messages(&self, messages: &[Message]) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        for message in messages {
            cache_message(&mut tx, message).await?;
        }
        tx.commit().await?;
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
                for message in &page.messages {
                    cache_message(&mut tx, message).await?;
                }
                tx.commit().await?;
                Ok(None)
            }
            Err(NodeError::Api(e)) if e.is_transient() => Ok(Some(e)),
            Err(e) => Err(e),
        }
    }
}
