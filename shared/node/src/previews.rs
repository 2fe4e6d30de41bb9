//! Document previews: the spans of a document's rich text as last seen on this device, so the window can
//! draw a large document at once while the document itself loads into the window's repo (seconds for a
//! document with a long history).

use sqlx::SqliteConnection;
use teamflow_protocol::TeamId;
use teamflow_sync::automerge::ChangeHash;

use crate::{Node, NodeError};

impl Node {
    /// Keeps the spans of a document read at `heads`; nothing for a document of no team this device reads.
    pub(crate) async fn keep_preview(
        &self,
        url: &str,
        spans: &serde_json::Value,
        heads: &[ChangeHash],
    ) -> Result<(), NodeError> {
        let heads: Vec<String> = heads.iter().map(ToString::to_string).collect();
        let at = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        let mut tx = crate::store::begin_write(&self.db).await?;
        sqlx::query(
            "INSERT INTO document_previews (document_id, team_id, spans, heads, at)
             SELECT document_id, team_id, ?, ?, ? FROM document_teams WHERE document_id = ? LIMIT 1
             ON CONFLICT (document_id) DO UPDATE SET spans = excluded.spans, heads = excluded.heads, at = excluded.at",
        )
        .bind(spans.to_string())
        .bind(serde_json::to_string(&heads).unwrap_or_default())
        .bind(at)
        .bind(url)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The last preview kept of a document (a JSON array of spans), if any; signed in only.
    pub async fn document_preview(&self, url: &str) -> Result<Option<String>, NodeError> {
        self.require_sign_in()?;
        Ok(sqlx::query_scalar("SELECT spans FROM document_previews WHERE document_id = ?")
            .bind(url)
            .fetch_optional(&self.db)
            .await?)
    }
}

/// Drops a document's preview (deleted, or no longer shared with this device).
pub(crate) async fn forget_document(db: &mut SqliteConnection, team: TeamId, url: &str) -> Result<(), NodeError> {
    sqlx::query("DELETE FROM document_previews WHERE document_id = ? AND team_id = ?")
        .bind(url)
        .bind(team.to_string())
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// Drops the previews of a team's documents (the user left it, or it was deleted).
pub(crate) async fn forget_team(db: &mut SqliteConnection, team: TeamId) -> Result<(), NodeError> {
    sqlx::query("DELETE FROM document_previews WHERE team_id = ?").bind(team.to_string()).execute(&mut *db).await?;
    Ok(())
}
