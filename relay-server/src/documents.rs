//! The document registry: which team each Automerge document belongs to.
//!
//! The sync server's share policy consults this table, so an id is registered once, to one team, ever:
//! deleting a team purges its documents' content and leaves a tombstone for each id, which no team can
//! register again. Deleting one document is soft: it leaves the lists and sync at once, can be restored for
//! `KEPT_AFTER_DELETE`, and is then purged the same way.

use teamflow_protocol::api::teams::{DeletedDocument, DocumentEntry, RegisterDocument, RenameDocument};
use teamflow_protocol::{DocumentUrl, ProjectId, Role, TeamId, UserId};

use crate::access::Membership;
use crate::db::{self, Db, from_ms, now_ms};
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

/// `duration` in milliseconds, as the tables keep times (saturating: no window outlasts `i64`).
fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// How long a deleted document can be restored before the purge buries it for good (the devices keep it as
/// long: the constant is the protocol's).
pub const KEPT_AFTER_DELETE: std::time::Duration = teamflow_protocol::api::teams::DELETED_DOCUMENT_KEPT;

pub async fn list(db: &Db, member: &Membership) -> Result<Vec<DocumentEntry>, ApiError> {
    let rows: Vec<DocumentRow> = sqlx::query_as(
        "SELECT id, team_id, title, project_id, created_by, created_at FROM documents
         WHERE team_id = $1 AND deleted_at IS NULL ORDER BY created_at, id",
    )
    .bind(member.team().to_string())
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(DocumentRow::into_entry).collect()
}

/// The team's deleted documents that `member` may restore (all of them for admins and owners, their own for
/// members, none for viewers), most recently deleted first, each with when it will be purged.
pub async fn deleted(db: &Db, member: &Membership) -> Result<Vec<DeletedDocument>, ApiError> {
    #[derive(sqlx::FromRow)]
    struct Deleted {
        #[sqlx(flatten)]
        row: DocumentRow,
        deleted_at: i64,
        deleted_by: Option<String>,
    }
    let kept = millis(KEPT_AFTER_DELETE);
    // Past the window and waiting for the hourly purge: no longer offered.
    let rows: Vec<Deleted> = sqlx::query_as(
        "SELECT id, team_id, title, project_id, created_by, created_at, deleted_at, deleted_by FROM documents
         WHERE team_id = $1 AND deleted_at IS NOT NULL AND deleted_at > $2 ORDER BY deleted_at DESC, id",
    )
    .bind(member.team().to_string())
    .bind(now_ms().saturating_sub(kept))
    .fetch_all(db.pool())
    .await?;
    rows.into_iter()
        .filter(|d| may_delete(member, &d.row).is_ok())
        .map(|d| {
            Ok(DeletedDocument {
                document: d.row.into_entry()?,
                deleted_at: from_ms(d.deleted_at),
                deleted_by: d.deleted_by.and_then(|id| id.parse().ok()),
                restorable_until: from_ms(d.deleted_at.saturating_add(kept)),
            })
        })
        .collect()
}

/// Registers a document to the team; once committed, the share policy learns of it through the event.
pub async fn register(
    db: &Db,
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
    // The tombstone check and the insert are one statement, so a team's deletion cannot slip between them on
    // SQLite. On PostgreSQL that statement's snapshot may predate a deletion committing while the insert
    // waited on the same id: the check is made again after it, in the same transaction.
    let mut tx = db.pool().begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO documents (id, team_id, title, project_id, created_by, created_at)
         SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM document_tombstones WHERE id = $1)",
    )
    .bind(url.as_str())
    .bind(team.to_string())
    .bind(&title)
    .bind(input.project_id.map(|p| p.to_string()))
    .bind(user.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if db::is_unique_violation(&e) { ApiError::Conflict("this document is already registered") } else { e.into() }
    })?;
    let buried: Option<i64> = sqlx::query_scalar("SELECT 1 FROM document_tombstones WHERE id = $1")
        .bind(url.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    if inserted.rows_affected() == 0 || buried.is_some() {
        return Err(ApiError::Conflict("this document belonged to a deleted team; its id cannot be used again"));
    }
    tx.commit().await?;
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

/// A document of the team, deleted or not; `not_found` when the team has no such document.
async fn find(db: &Db, team: TeamId, url: &DocumentUrl) -> Result<(DocumentRow, Option<i64>), ApiError> {
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        row: DocumentRow,
        deleted_at: Option<i64>,
    }
    let found: Option<Found> = sqlx::query_as(
        "SELECT id, team_id, title, project_id, created_by, created_at, deleted_at FROM documents
         WHERE id = $1 AND team_id = $2",
    )
    .bind(url.as_str())
    .bind(team.to_string())
    .fetch_optional(db.pool())
    .await?;
    found.map(|f| (f.row, f.deleted_at)).ok_or(ApiError::NotFound(DOCUMENT_NOT_FOUND))
}

const DOCUMENT_NOT_FOUND: &str = "no such document in this team";
const DOCUMENT_DELETED: &str = "this document was deleted; restore it first";

/// Renames a document (not viewers, like editing a project). Teammates see it through the room.
pub async fn rename(
    db: &Db,
    events: &Events,
    member: &Membership,
    url: &DocumentUrl,
    input: RenameDocument,
) -> Result<DocumentEntry, ApiError> {
    member.require(Role::Member)?;
    let mut v = Validator::new();
    let title = v.text("title", &input.title, 1, 200, Lines::Single);
    v.finish()?;
    let (_, deleted_at) = find(db, member.team(), url).await?;
    if deleted_at.is_some() {
        return Err(ApiError::Gone(DOCUMENT_DELETED));
    }
    // The deletion check is in the statement too, so a deletion between the two cannot be renamed over.
    let renamed = sqlx::query("UPDATE documents SET title = $1 WHERE id = $2 AND team_id = $3 AND deleted_at IS NULL")
        .bind(&title)
        .bind(url.as_str())
        .bind(member.team().to_string())
        .execute(db.pool())
        .await?;
    if renamed.rows_affected() == 0 {
        return Err(ApiError::Gone(DOCUMENT_DELETED));
    }
    let entry = find(db, member.team(), url).await?.0.into_entry()?;
    events.publish(Event::DocumentUpdated(entry.clone())).await;
    Ok(entry)
}

/// Who may delete or restore a document: admins and owners (as for projects), and its own creator.
fn may_delete(member: &Membership, row: &DocumentRow) -> Result<(), ApiError> {
    if member.role().at_least(Role::Admin) || (member.role().at_least(Role::Member) && row.created_by == member.user())
    {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only admins, owners and the document's creator may delete or restore it"))
    }
}

/// Deletes a document softly: it leaves the team's lists and sync at once and can be restored for
/// `KEPT_AFTER_DELETE`. Deleting it again changes nothing.
pub async fn delete(db: &Db, events: &Events, member: &Membership, url: &DocumentUrl) -> Result<(), ApiError> {
    let (row, deleted_at) = find(db, member.team(), url).await?;
    may_delete(member, &row)?;
    if deleted_at.is_some() {
        return Ok(());
    }
    let deleted = sqlx::query(
        "UPDATE documents SET deleted_at = $1, deleted_by = $2 WHERE id = $3 AND team_id = $4 AND deleted_at IS NULL",
    )
    .bind(now_ms())
    .bind(member.user().to_string())
    .bind(url.as_str())
    .bind(member.team().to_string())
    .execute(db.pool())
    .await?;
    if deleted.rows_affected() > 0 {
        events.publish(Event::DocumentDeleted { team: member.team(), document: url.clone() }).await;
    }
    Ok(())
}

/// Brings a deleted document back (same people as `delete`); restoring one that is not deleted changes
/// nothing. Once purged it is `not_found`.
pub async fn restore(
    db: &Db,
    events: &Events,
    member: &Membership,
    url: &DocumentUrl,
) -> Result<DocumentEntry, ApiError> {
    let (row, deleted_at) = find(db, member.team(), url).await?;
    may_delete(member, &row)?;
    let entry = row.into_entry()?;
    if deleted_at.is_none() {
        return Ok(entry);
    }
    let restored = sqlx::query(
        "UPDATE documents SET deleted_at = NULL, deleted_by = NULL
         WHERE id = $1 AND team_id = $2 AND deleted_at IS NOT NULL",
    )
    .bind(url.as_str())
    .bind(member.team().to_string())
    .execute(db.pool())
    .await?;
    if restored.rows_affected() > 0 {
        events.publish(Event::DocumentUpdated(entry.clone())).await;
    }
    Ok(entry)
}

/// Buries the documents deleted longer ago than `kept` (content purged, tombstones left, registry rows
/// gone); answers how many. Runs periodically (see `spawn_purge`).
pub async fn purge_deleted(db: &Db, kept: std::time::Duration) -> Result<u64, ApiError> {
    let cutoff = now_ms() - millis(kept);
    let mut tx = db.begin_erasing().await?;
    // Deleted first, and only what is still deleted at that statement: a document restored meanwhile (on
    // PostgreSQL, after a plain SELECT here would have listed it) is left alone, content and all.
    let ids: Vec<String> =
        sqlx::query_scalar("DELETE FROM documents WHERE deleted_at IS NOT NULL AND deleted_at <= $1 RETURNING id")
            .bind(cutoff)
            .fetch_all(&mut **tx)
            .await?;
    if ids.is_empty() {
        tx.nothing_erased().await?;
        return Ok(0);
    }
    bury(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// Purges deleted documents past `KEPT_AFTER_DELETE`, hourly, until aborted.
pub fn spawn_purge(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            match purge_deleted(&db, KEPT_AFTER_DELETE).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "purged documents deleted long ago"),
                Err(e) => tracing::error!(error = %e, "purging deleted documents failed; will retry"),
            }
        }
    })
}

/// Inside a team's deletion: leaves a tombstone for each of the team's documents and deletes their stored
/// content, in the deleting transaction. The registry rows go with the team (`ON DELETE CASCADE`).
pub(crate) async fn bury_team(tx: &mut sqlx::AnyConnection, team: TeamId) -> Result<(), ApiError> {
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM documents WHERE team_id = $1")
        .bind(team.to_string())
        .fetch_all(&mut *tx)
        .await?;
    bury(tx, &ids).await
}

/// Leaves a tombstone for each document and deletes its stored content.
async fn bury(tx: &mut sqlx::AnyConnection, ids: &[String]) -> Result<(), ApiError> {
    let now = now_ms();
    for id in ids {
        sqlx::query("INSERT INTO document_tombstones (id, deleted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        // samod's keys are `<document id>/...`: the range is every key of this document, on the primary key.
        let Some(bare) = id.strip_prefix(DocumentUrl::PREFIX) else { continue };
        sqlx::query("DELETE FROM sync_chunks WHERE key >= $1 AND key < $2")
            .bind(format!("{bare}/"))
            .bind(format!("{bare}0"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

async fn project_in_team(db: &Db, team: TeamId, project: ProjectId) -> Result<bool, ApiError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM projects WHERE id = $1 AND team_id = $2")
        .bind(project.to_string())
        .bind(team.to_string())
        .fetch_optional(db.pool())
        .await?;
    Ok(found.is_some())
}
