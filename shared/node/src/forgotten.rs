//! The documents of a team this user no longer reads: opening them is refused, and their content is purged
//! from the store as soon as samod no longer holds them in memory (purging a loaded document would be undone
//! by its next compaction, which writes what it holds back).

use std::collections::HashSet;

use sqlx::{SqliteConnection, SqlitePool};
use teamflow_protocol::{DocumentUrl, TeamId};
use teamflow_sync::Tracking;
use teamflow_sync::samod::DocumentId;
use tokio::sync::watch;

use crate::NodeError;

/// Marks the documents `team` holds here as forgotten (to purge), before their team entries go.
pub(crate) async fn forget_team(db: &mut SqliteConnection, team: TeamId) -> Result<(), NodeError> {
    sqlx::query(
        "INSERT INTO forgotten_documents (document_id) SELECT document_id FROM document_teams WHERE team_id = ?
         ON CONFLICT (document_id) DO UPDATE SET purged = 0",
    )
    .bind(team.to_string())
    .execute(db)
    .await?;
    Ok(())
}

/// The relay lists `documents` for a team of this user again (rejoined): those of them in `forgotten` (read
/// before asking the relay, so a team forgotten while the question was on its way stays forgotten) may be
/// opened and kept again.
pub(crate) async fn remember(
    db: &mut SqliteConnection,
    documents: &[String],
    forgotten: &HashSet<String>,
) -> Result<(), NodeError> {
    for document in documents.iter().filter(|d| forgotten.contains(*d)) {
        sqlx::query("DELETE FROM forgotten_documents WHERE document_id = ?").bind(document).execute(&mut *db).await?;
    }
    Ok(())
}

/// Every forgotten document, by URL.
pub(crate) async fn all(db: &SqlitePool) -> Result<HashSet<String>, NodeError> {
    Ok(sqlx::query_scalar("SELECT document_id FROM forgotten_documents").fetch_all(db).await?.into_iter().collect())
}

/// Whether `url` belongs to a team this user no longer reads.
pub(crate) async fn is_forgotten(db: &SqlitePool, url: &DocumentUrl) -> Result<bool, NodeError> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT 1 FROM forgotten_documents WHERE document_id = ?")
        .bind(url.as_str())
        .fetch_optional(db)
        .await?
        .is_some())
}

/// Deletes the stored content of every forgotten document not yet purged that is not in memory (`loaded`),
/// first letting go of it in `tracking` (whose task would otherwise keep it in memory for as long as the
/// relay lacks some of its changes: for good, once the relay no longer takes them). One in memory now is
/// purged after it unloads; one purged and then loaded again (a teammate's changes still on their way, say)
/// is purged again once it unloads.
pub(crate) async fn purge(
    db: &SqlitePool,
    loaded: &watch::Receiver<HashSet<DocumentId>>,
    tracking: Option<&Tracking>,
) -> Result<(), NodeError> {
    let forgotten: Vec<(String, i64)> =
        sqlx::query_as("SELECT document_id, purged FROM forgotten_documents").fetch_all(db).await?;
    let is_loaded = |id: &DocumentId| loaded.borrow().contains(id);
    let (mut deleted, mut done) = (0, Vec::new());
    for (url, purged) in forgotten {
        let Ok(parsed) = url.parse::<DocumentUrl>() else {
            // Not written by this code: nothing to purge by it, and no reason to read it again.
            tracing::warn!(url, "unreadable forgotten document; dropped");
            sqlx::query("DELETE FROM forgotten_documents WHERE document_id = ?").bind(&url).execute(db).await?;
            continue;
        };
        let Ok(id) = parsed.document_id().parse::<DocumentId>() else { continue };
        if is_loaded(&id) {
            if purged == 1 {
                sqlx::query("UPDATE forgotten_documents SET purged = 0 WHERE document_id = ?")
                    .bind(&url)
                    .execute(db)
                    .await?;
            }
        } else if purged == 1 {
            continue;
        }
        if let Some(tracking) = tracking {
            tracking.untrack(&parsed);
        }
        if is_loaded(&id) {
            continue;
        }
        deleted += delete_chunks(db, &url, &id).await?;
        done.push((url, id));
    }
    if deleted > 0 {
        // The freed pages go back to the file system, and the log that still holds the old pages is emptied.
        if let Err(e) = sqlx::query("PRAGMA incremental_vacuum").execute(db).await {
            tracing::warn!(error = %e, "releasing the purged documents' pages failed");
        }
        crate::store::empty_log(db).await;
    }
    for (url, id) in done {
        // Loaded while it was purged: samod may hold what it read and write it back; purged again once it
        // unloads.
        if !is_loaded(&id) {
            sqlx::query("UPDATE forgotten_documents SET purged = 1 WHERE document_id = ?")
                .bind(&url)
                .execute(db)
                .await?;
        }
    }
    Ok(())
}

/// Deletes the chunks of the forgotten document at `url`, keyed `<document id>/...` ('0' follows '/', so
/// the range is exactly them), overwriting the pages they free too (`secure_delete` fully, not only `FAST`
/// as the store has it): nothing of them is left readable in the store's free space. Answers how many
/// were deleted.
async fn delete_chunks(db: &SqlitePool, url: &str, id: &DocumentId) -> Result<u64, NodeError> {
    let mut db = db.acquire().await?;
    sqlx::query("PRAGMA secure_delete = ON").execute(&mut *db).await?;
    // Only while it is still forgotten: the relay may have listed it again (and someone opened it) since
    // the forgotten documents were read.
    let deleted = sqlx::query(
        "DELETE FROM sync_chunks WHERE key > ? AND key < ?
         AND EXISTS (SELECT 1 FROM forgotten_documents WHERE document_id = ?)",
    )
    .bind(format!("{id}/"))
    .bind(format!("{id}0"))
    .bind(url)
    .execute(&mut *db)
    .await;
    let restored = sqlx::query("PRAGMA secure_delete = FAST").execute(&mut *db).await;
    let deleted = deleted?.rows_affected();
    if let Err(e) = restored {
        // This connection would zero every deletion from now on: correct, only slower. Closed instead.
        tracing::warn!(error = %e, "could not set secure_delete back; closing the connection");
        db.detach();
    }
    Ok(deleted)
}

/// Purges the forgotten documents left in the store, then again whenever one may have become purgeable: a
/// document left memory (`loaded` changes) or a team was forgotten (`forgotten` changes); until the sync
/// client stops (`stop`).
pub(crate) async fn follow(
    db: SqlitePool,
    mut loaded: watch::Receiver<HashSet<DocumentId>>,
    tracking: Tracking,
    mut forgotten: watch::Receiver<u64>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        if let Err(e) = purge(&db, &loaded, Some(&tracking)).await {
            tracing::warn!(error = %e, "purging forgotten documents failed; tried again at the next change");
        }
        tokio::select! {
            () = stop.cancelled() => break,
            changed = loaded.changed() => if changed.is_err() { break },
            changed = forgotten.changed() => if changed.is_err() { break },
        }
    }
}
