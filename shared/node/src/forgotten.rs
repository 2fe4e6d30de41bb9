//! The documents of a team this user no longer reads: opening them is refused, and their content is purged
//! from the store as soon as samod no longer holds them in memory (purging a loaded document would be undone
//! by its next compaction, which writes what it holds back).

use std::collections::HashSet;

use sqlx::{SqliteConnection, SqlitePool};
use teamflow_protocol::{DocumentUrl, TeamId};
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

/// The relay lists `documents` for a team of this user again (rejoined): they may be opened and kept.
pub(crate) async fn remember(db: &mut SqliteConnection, documents: &[String]) -> Result<(), NodeError> {
    for document in documents {
        sqlx::query("DELETE FROM forgotten_documents WHERE document_id = ?").bind(document).execute(&mut *db).await?;
    }
    Ok(())
}

/// Whether `url` belongs to a team this user no longer reads.
pub(crate) async fn is_forgotten(db: &SqlitePool, url: &DocumentUrl) -> Result<bool, NodeError> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT 1 FROM forgotten_documents WHERE document_id = ?")
        .bind(url.as_str())
        .fetch_optional(db)
        .await?
        .is_some())
}

/// Deletes the stored content of every forgotten document not yet purged that is not in memory (`loaded`);
/// one loaded now is purged after it unloads. Answers how many were purged.
pub(crate) async fn purge(db: &SqlitePool, loaded: &watch::Receiver<HashSet<DocumentId>>) -> Result<usize, NodeError> {
    let pending: Vec<String> =
        sqlx::query_scalar("SELECT document_id FROM forgotten_documents WHERE purged = 0").fetch_all(db).await?;
    let is_loaded = |id: &DocumentId| loaded.borrow().contains(id);
    let mut purged = 0;
    for url in pending {
        let Some(id) = url.parse::<DocumentUrl>().ok().and_then(|u| u.document_id().parse::<DocumentId>().ok()) else {
            tracing::error!(url, "unreadable forgotten document; left");
            continue;
        };
        if is_loaded(&id) {
            continue;
        }
        // Its chunks are keyed `<document id>/...`; '0' follows '/', so the range is exactly them. The pages
        // they free are overwritten too (`secure_delete` fully, not only `FAST` as the store has it), not
        // left readable in the store's free space.
        let mut db = db.acquire().await?;
        sqlx::query("PRAGMA secure_delete = ON").execute(&mut *db).await?;
        let deleted = sqlx::query("DELETE FROM sync_chunks WHERE key > ? AND key < ?")
            .bind(format!("{id}/"))
            .bind(format!("{id}0"))
            .execute(&mut *db)
            .await;
        sqlx::query("PRAGMA secure_delete = FAST").execute(&mut *db).await?;
        deleted?;
        // Loaded while it was purged: samod may hold what it read and write it back; purged again once it
        // unloads.
        if !is_loaded(&id) {
            sqlx::query("UPDATE forgotten_documents SET purged = 1 WHERE document_id = ?")
                .bind(&url)
                .execute(&mut *db)
                .await?;
            purged += 1;
        }
    }
    if purged > 0 {
        // The freed pages go back to the file system, and the log that still holds the old pages is emptied.
        if let Err(e) = sqlx::query("PRAGMA incremental_vacuum").execute(db).await {
            tracing::warn!(error = %e, "releasing the purged documents' pages failed");
        }
        crate::store::empty_log(db).await;
    }
    Ok(purged)
}

/// Purges the forgotten documents left in the store, then each as it leaves memory (`loaded` changes),
/// until the sync client stops (`stop`).
pub(crate) async fn follow(
    db: SqlitePool,
    mut loaded: watch::Receiver<HashSet<DocumentId>>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        if let Err(e) = purge(&db, &loaded).await {
            tracing::warn!(error = %e, "purging forgotten documents failed; tried again at the next change");
        }
        tokio::select! {
            () = stop.cancelled() => break,
            changed = loaded.changed() => if changed.is_err() { break },
        }
    }
}
