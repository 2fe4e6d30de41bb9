//! Read positions and unread counts: how far this user has read each team's chat, kept here for offline
//! use and sent to the relay through the outbox, so reading on one device clears the others.
//!
//! The relay's answer is the truth while it is reachable: it counts every message, where this device holds
//! only what it fetched or heard. Offline (or while a read of this device still waits in the outbox) the
//! counts come from the cached messages.

use reqwest::Method;
use teamflow_protocol::TeamId;
use teamflow_protocol::api::messages::ReadState;

use crate::{ApiFailure, Node, NodeError};

impl Node {
    /// Where this user stands in the team's chat: read position, unread messages and mentions.
    pub async fn read_state(&self, team: TeamId) -> Result<ReadState, NodeError> {
        let local = self.local_read_seq(team).await?;
        match self.authed::<(), ReadState>(Method::GET, &format!("/api/teams/{team}/read"), None).await {
            Ok(relay) => {
                self.remember_read(team, relay.read_seq).await?;
                if local > relay.read_seq {
                    // A read of this device is still on its way: count from here.
                    self.cached_read_state(team, local).await
                } else {
                    Ok(relay)
                }
            }
            Err(NodeError::Api(e)) if e.is_transient() => self.cached_read_state(team, local).await,
            Err(e) => Err(e),
        }
    }

    /// Where this user stands in every team they belong to.
    /// A team the relay no longer answers for (left a moment ago, say) is left out, not a failure of all.
    pub async fn read_states(&self) -> Result<Vec<ReadState>, NodeError> {
        let mut states = Vec::new();
        for team in self.teams().await? {
            match self.read_state(team.id).await {
                Ok(state) => states.push(state),
                Err(NodeError::Api(ApiFailure::Refused { status: 403 | 404, .. })) => {
                    tracing::info!(team = %team.id, "no read state for a team the relay no longer answers for");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(states)
    }

    /// Marks the team's chat read up to `seq`: kept here at once (a position behind the kept one changes
    /// nothing), then sent to the relay through the outbox (waiting there while offline). Answers the
    /// resulting state.
    pub async fn mark_read(&self, team: TeamId, seq: i64) -> Result<ReadState, NodeError> {
        if seq < 0 {
            return Err(NodeError::Invalid(format!("a read position is a message seq, not {seq}")));
        }
        let moved = self.remember_read(team, seq).await?;
        if moved {
            self.enqueue_read(team, seq).await?;
            match self.flush().await {
                Ok(_) | Err(NodeError::SignedOut) => {}
                Err(e) => tracing::info!(error = %e, "read position queued; delivery will be retried"),
            }
        }
        self.read_state(team).await
    }

    /// Moves the kept position forward to `seq`; true if it moved.
    pub(crate) async fn remember_read(&self, team: TeamId, seq: i64) -> Result<bool, NodeError> {
        let moved = sqlx::query(
            "INSERT INTO read_positions (team_id, seq) VALUES (?, ?)
             ON CONFLICT (team_id) DO UPDATE SET seq = excluded.seq WHERE excluded.seq > read_positions.seq",
        )
        .bind(team.to_string())
        .bind(seq.max(0))
        .execute(&self.db)
        .await?
        .rows_affected();
        Ok(moved == 1)
    }

    async fn local_read_seq(&self, team: TeamId) -> Result<i64, NodeError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM read_positions WHERE team_id = ?")
            .bind(team.to_string())
            .fetch_optional(&self.db)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    /// The counts as the cached messages give them (a deleted message is no longer unread, as on the relay).
    async fn cached_read_state(&self, team: TeamId, read_seq: i64) -> Result<ReadState, NodeError> {
        let me = self.user().await.ok_or(NodeError::SignedOut)?.id.to_string();
        let (latest, unread, mentions): (Option<i64>, i64, i64) = sqlx::query_as(
            "SELECT (SELECT MAX(seq) FROM cached_messages WHERE team_id = ?1),
                    (SELECT COUNT(*) FROM cached_messages
                      WHERE team_id = ?1 AND seq > ?2 AND json_extract(json, '$.author_id') != ?3
                        AND NOT COALESCE(json_extract(json, '$.deleted'), 0)),
                    (SELECT COUNT(*) FROM cached_messages
                      WHERE team_id = ?1 AND seq > ?2
                        AND EXISTS (SELECT 1 FROM json_each(cached_messages.json, '$.mentions') WHERE value = ?3))",
        )
        .bind(team.to_string())
        .bind(read_seq)
        .bind(me)
        .fetch_one(&self.db)
        .await?;
        Ok(ReadState { team_id: team, read_seq, latest_seq: latest.unwrap_or(0).max(read_seq), unread, mentions })
    }
}
