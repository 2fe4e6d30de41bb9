//! The document registry: which team each Automerge document belongs to.
//!
//! The sync server's share policy consults this table, so an id is registered once, to one team, ever:
//! deleting a team purges its documents' content and leaves a tombstone for each id, which no team can
//! register again.

use sqlx::SqlitePool;
use teamflow_protocol::api::teams::{DocumentEntry, RegisterDocument};
use teamflow_protocol::{DocumentUrl, ProjectId, Role, TeamId, UserId};

use crate::access::Membership;
use crate::db::{self, from_ms, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::validate::{Lines, Validator};

#[derive(sqlx::FromRow)]
struct DocumentRow {
    #[sqlx(try_from = "String")]
    id: DocumentUrl,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    title: String,
    project_id: Option<String>,
    #[sqlx(try_from = "String")]
    created_by: UserId,
    created_at: i64,
}

impl DocumentRow {
    fn into_entry(self) -> Result<DocumentEntry, ApiError> {
        let project_id = match self.project_id {
            Some(p) => Some(p.parse().map_err(|e| ApiError::Internal(format!("project id in database: {e}")))?),
            None => None,
        };
        Ok(DocumentEntry {
            document_id: self.id,
            team_id: self.team_id,
            title: self.title,
            project_id,
            created_by: self.created_by,
            created_at: from_ms(self.created_at),
        })
    }
}

pub async fn list(db: &SqlitePool, member: &Membership) -> Result<Vec<DocumentEntry>, ApiError> {
    let rows: Vec<DocumentRow> = sqlx::query_as(
        "SELECT id, team_id, title, project_id, created_by, created_at FROM documents
         WHERE team_id = ? ORDER BY created_at, id",
    )
    .bind(member.team().to_string())
    .fetch_all(db)
    .await?;
    rows.into_iter().map(DocumentRow::into_entry).collect()
}

/// Registers a document to the team; once committed, the share policy learns of it through the event.
pub async fn register(
    db: &SqlitePool,
    events: &Events,
    member: &Membership,
    input: RegisterDocument,
) -> Result<DocumentEntry, ApiError> {
    member.require(Role::Member)?;
    let (team, user) = (member.team(), member.user());
    let mut v = Validator::new();
    let title = v.text("title", &input.title, 1, 200, Lines::Single);
    let url = match input.document_id.trim().parse::<DocumentUrl>() {
        Ok(url) => Some(url),
        Err(e) => {
            v.fail("document_id", e.to_string());
            None
        }
    };
    if let Some(project) = input.project_id {
        v.check("project_id", project_in_team(db, team, project).await?, "must be a project of this team");
    }
    v.finish()?;
    let url = url.ok_or_else(|| ApiError::field("document_id", "missing"))?;
    let now = now_ms();
    // The tombstone check and the insert are one statement, so a team's deletion cannot slip between them.
    let inserted = sqlx::query(
        "INSERT INTO documents (id, team_id, title, project_id, created_by, created_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM document_tombstones WHERE id = ?1)",
    )
    .bind(url.as_str())
    .bind(team.to_string())
    .bind(&title)
    .bind(input.project_id.map(|p| p.to_string()))
    .bind(user.to_string())
    .bind(now)
    .execute(db)
    .await
    .map_err(|e| {
        if db::is_unique_violation(&e) { ApiError::Conflict("this document is already registered") } else { e.into() }
    })?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::Conflict("this document belonged to a deleted team; its id cannot be used again"));
    }
    let entry = DocumentEntry {
        document_id: url,
        team_id: team,
        title,
        project_id: input.project_id,
        created_by: user,
        created_at: from_ms(now),
    };
    events.publish(Event::DocumentRegistered(entry.clone())).await;
    Ok(entry)
}

/// Inside a team's deletion: leaves a tombstone for each of the team's documents and deletes their stored
/// content, in the deleting transaction. The registry rows go with the team (`ON DELETE CASCADE`).
pub(crate) async fn bury_team(tx: &mut sqlx::SqliteConnection, team: TeamId) -> Result<(), ApiError> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM documents WHERE team_id = ?")
        .bind(team.to_string())
        .fetch_all(&mut *tx)
        .await?;
    let now = now_ms();
    for id in ids {
        sqlx::query("INSERT OR IGNORE INTO document_tombstones (id, deleted_at) VALUES (?, ?)")
            .bind(&id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        // samod's keys are `<document id>/...`: the range is every key of this document, on the primary key.
        let Some(bare) = id.strip_prefix(DocumentUrl::PREFIX) else { continue };
        sqlx::query("DELETE FROM sync_chunks WHERE key >= ? AND key < ?")
            .bind(format!("{bare}/"))
            .bind(format!("{bare}0"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn project_in_team(db: &SqlitePool, team: TeamId, project: ProjectId) -> Result<bool, ApiError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM projects WHERE id = ? AND team_id = ?")
        .bind(project.to_string())
        .bind(team.to_string())
        .fetch_optional(db)
        .await?;
    Ok(found.is_some())
}
