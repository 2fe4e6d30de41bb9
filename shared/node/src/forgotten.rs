//! The documents of a team this user no longer reads: opening them is refused, and their content is purged
//! from the store as soon as samod no longer holds them in memory (purging a loaded document would be undone
//! by its next compaction, which writes what it holds back). A document deleted in its team goes the same
//! way once the relay can no longer restore it (`purge_after`); until then it is kept as it was.

use std::collections::{HashMap, HashSet};

use sqlx::{SqliteConnection, SqlitePool};
use teamflow_protocol::{DocumentUrl, TeamId};
use teamflow_sync::Tracking;
use teamflow_sync::samod::DocumentId;
use tokio::sync::watch;

use crate::NodeError;

/// A point in the sequence of teams being forgotten, taken before asking the relay about a team: an answer
/// to a question asked before its team was forgotten, or before all of the user's data was, is not kept,
/// since keeping it would bring back some of what forgetting deleted (documents' titles, messages, members).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asked(u64);

/// When each team was last forgotten, in the sequence `Asked` reads, and when everything was (the user's
/// data cleared: signing out, or another account signing in). In memory: a question does not outlive the
/// process that asked it.
#[derive(Debug, Default)]
pub(crate) struct Forgets {
    latest: u64,
    teams: HashMap<TeamId, u64>,
    everything: u64,
}

impl Forgets {
    pub(crate) fn asking(&self) -> Asked {
        Asked(self.latest)
    }

    pub(crate) fn forget(&mut self, team: TeamId) {
        self.latest += 1;
        self.teams.insert(team, self.latest);
    }

    /// Everything forgotten from now on: what was asked before belongs to data that is gone.
    pub(crate) fn forget_everything(&mut self) {
        self.latest += 1;
        self.everything = self.latest;
    }

    /// Whether `team` was forgotten after a question asked at `asked`.
    pub(crate) fn forgotten_since(&self, team: TeamId, asked: Asked) -> bool {
        self.answer_forgotten(Some(team), asked)
    }

    /// Whether an answer about `team` (none: about no one team) to a question asked at `asked` is no longer
    /// to be kept: its team, or everything, was forgotten since.
    pub(crate) fn answer_forgotten(&self, team: Option<TeamId>, asked: Asked) -> bool {
        self.everything > asked.0 || team.and_then(|team| self.teams.get(&team)).is_some_and(|&at| at > asked.0)
    }
}

/// Marks the documents `team` holds here as forgotten (to purge), before their team entries go.
pub(crate) async fn forget_team(db: &mut SqliteConnection, team: TeamId) -> Result<(), NodeError> {
    sqlx::query(
        "INSERT INTO forgotten_documents (document_id) SELECT document_id FROM document_teams WHERE team_id = ?
         ON CONFLICT (document_id) DO UPDATE SET purged = 0, purge_after = 0",
    )
    .bind(team.to_string())
    .execute(&mut *db)
    .await?;
    // Its documents deleted lately, kept here while they could be restored: no longer this user's to keep.
    sqlx::query("UPDATE forgotten_documents SET purge_after = 0, purged = 0 WHERE team_id = ? AND purge_after > 0")
        .bind(team.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Restored (a team's room told of it as a live document again): a deleted document kept here is the team's
/// again, not to be purged when its time to be restored would have run out.
pub(crate) async fn restored(db: &mut SqliteConnection, documents: &[String]) -> Result<(), NodeError> {
    for document in documents {
        sqlx::query("DELETE FROM forgotten_documents WHERE document_id = ? AND purge_after > 0")
            .bind(document)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

/// Marks a document deleted in `team` as forgotten, its content kept until `purge_after` (milliseconds
/// since the epoch: when the relay no longer restores it). One forgotten already keeps its time.
pub(crate) async fn forget_deleted(
    db: &mut SqliteConnection,
    team: TeamId,
    url: &DocumentUrl,
    purge_after: i64,
) -> Result<(), NodeError> {
    sqlx::query(
        "INSERT INTO forgotten_documents (document_id, purge_after, team_id) VALUES (?, ?, ?)
         ON CONFLICT (document_id) DO NOTHING",
    )
    .bind(url.as_str())
    .bind(purge_after)
    .bind(team.to_string())
    .execute(db)
    .await?;
    Ok(())
}

/// Now, in milliseconds since the epoch, as `purge_after` counts.
pub(crate) fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
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

/// Every forgotten document, by URL, deleted ones still kept included (listed again, they are kept for good).
pub(crate) async fn all(db: &SqlitePool) -> Result<HashSet<String>, NodeError> {
    Ok(sqlx::query_scalar("SELECT document_id FROM forgotten_documents").fetch_all(db).await?.into_iter().collect())
}

/// Whether `url` belongs to a team this user no longer reads, or was deleted and can no longer be restored.
/// A deleted one the relay can still restore is not: nothing changes for it here until its time is out
/// (the relay refuses its sync meanwhile), so a restore finds it as it was.
pub(crate) async fn is_forgotten(db: &SqlitePool, url: &str) -> Result<bool, NodeError> {
    Ok(sqlx::query_scalar::<_, i64>("SELECT 1 FROM forgotten_documents WHERE document_id = ? AND purge_after <= ?")
        .bind(url)
        .bind(now_ms())
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
    // A deleted document waits out the time it can be restored in.
    let forgotten: Vec<(String, i64)> =
        sqlx::query_as("SELECT document_id, purged FROM forgotten_documents WHERE purge_after <= ?")
            .bind(now_ms())
            .fetch_all(db)
            .await?;
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

/// The longest `follow` sleeps before reading the next due purge again (the clock may have been changed).
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(3_600);

/// Purges the forgotten documents left in the store, then again whenever one may have become purgeable: a
/// document left memory (`loaded` changes), a team was forgotten or a document deleted (`forgotten`
/// changes), or a deleted document's time to be restored ran out; until the sync client stops (`stop`).
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
        let wait = match next_due(&db).await {
            Ok(Some(due)) => {
                std::time::Duration::from_millis(u64::try_from(due - now_ms()).unwrap_or(0)).min(LONGEST_WAIT)
            }
            Ok(None) => LONGEST_WAIT,
            Err(e) => {
                tracing::warn!(error = %e, "reading when deleted documents are due to be purged failed");
                LONGEST_WAIT
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            changed = loaded.changed() => if changed.is_err() { break },
            changed = forgotten.changed() => if changed.is_err() { break },
            () = tokio::time::sleep(wait) => {}
        }
    }
}

/// When the next deleted document kept here can no longer be restored, if one is waiting.
async fn next_due(db: &SqlitePool) -> Result<Option<i64>, NodeError> {
    Ok(sqlx::query_scalar("SELECT MIN(purge_after) FROM forgotten_documents WHERE purged = 0 AND purge_after > ?")
        .bind(now_ms())
        .fetch_one(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use teamflow_protocol::api::teams::DocumentEntry;
    use teamflow_protocol::{DocumentUrl, TeamId, UserId};

    use crate::Node;

    async fn document_teams(node: &Node) -> Vec<String> {
        sqlx::query_scalar("SELECT team_id FROM document_teams").fetch_all(&node.db).await.expect("read")
    }

    async fn indexed_documents(node: &Node) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM search_items WHERE kind = 'document'")
            .fetch_one(&node.db)
            .await
            .expect("read")
    }

    /// A deleted document kept while it can be restored: heard of as restored (a room's `document_updated`),
    /// it is the team's again and never purged for that deletion; its team forgotten meanwhile, it is
    /// purged with the team's others at once, not 30 days on.
    #[tokio::test]
    async fn a_deleted_document_kept_here_follows_a_restore_and_its_teams_forgetting() {
        let dir = tempfile::tempdir().expect("dir");
        let node = Node::open(dir.path(), "https://127.0.0.1:9").await.expect("open");
        let (ops, other) = (TeamId::new(), TeamId::new());
        let (runbook, draft) = (DocumentUrl::from_bytes([1; 16]), DocumentUrl::from_bytes([2; 16]));
        node.remember_document_teams(ops, &[runbook.to_string()]).await.expect("known");
        node.remember_document_teams(other, &[draft.to_string()]).await.expect("known");
        let waiting = async |url: &DocumentUrl| -> Option<i64> {
            sqlx::query_scalar("SELECT purge_after FROM forgotten_documents WHERE document_id = ?")
                .bind(url.as_str())
                .fetch_optional(&node.db)
                .await
                .expect("read")
        };

        node.forget_document(ops, &runbook).await.expect("deleted");
        node.forget_document(other, &draft).await.expect("deleted");
        assert!(waiting(&runbook).await.is_some_and(|at| at > super::now_ms()), "kept while it can be restored");
        assert!(!node.is_forgotten(&runbook).await.expect("read"), "and still opens meanwhile");

        node.remember_document_teams(ops, &[runbook.to_string()]).await.expect("restored");
        assert_eq!(waiting(&runbook).await, None, "restored: no purge waits for it");
        assert_eq!(document_teams(&node).await, [ops.to_string()]);

        node.forget_team(other).await.expect("forget");
        assert_eq!(waiting(&draft).await, Some(0), "its team forgotten: purged at once");
        assert!(node.is_forgotten(&draft).await.expect("read"));
        node.close().await;
    }

    /// An answer the relay gave before the team was forgotten (a list of documents, members, a page of
    /// messages on its way while the room said "removed") brings back none of what forgetting deleted;
    /// answers about other teams, about no team, and questions asked after are kept.
    #[tokio::test]
    async fn an_answer_asked_before_its_team_was_forgotten_is_not_kept() {
        let dir = tempfile::tempdir().expect("dir");
        // Nothing here asks the relay: the answers are handed in.
        let node = Node::open(dir.path(), "https://127.0.0.1:9").await.expect("open");
        let (ops, other) = (TeamId::new(), TeamId::new());
        let members = |team: TeamId| format!("/api/teams/{team}/members?x=1");
        let entry = |team: TeamId, byte: u8| DocumentEntry {
            document_id: DocumentUrl::from_bytes([byte; 16]),
            team_id: team,
            title: format!("Runbook {byte}"),
            project_id: None,
            created_by: UserId::new(),
            created_at: time::OffsetDateTime::now_utc(),
        };

        // Known here before (so forgetting the team forgets it).
        node.keep_document_list(ops, &[entry(ops, 1)], node.asking(), None).await.expect("keep");
        let runbook = DocumentUrl::from_bytes([1; 16]);

        let asked = node.asking();
        let forgotten_then = super::all(&node.db).await.expect("read");
        node.forget_team(ops).await.expect("forget");
        assert!(node.is_forgotten(&runbook).await.expect("read"));

        node.keep_view(&members(ops), &["ada"], asked).await.expect("keep");
        // Even as the relay's own list, naming a document forgotten before it was asked.
        let forgotten_before = super::all(&node.db).await.expect("read");
        assert!(forgotten_then.is_empty() && forgotten_before.contains(runbook.as_str()));
        node.keep_document_list(ops, &[entry(ops, 1)], asked, Some(&forgotten_before)).await.expect("keep");
        assert_eq!(node.kept_view::<Vec<String>>(&members(ops)).await.expect("read"), None);
        assert!(document_teams(&node).await.is_empty());
        assert_eq!(indexed_documents(&node).await, 0);
        assert!(node.is_forgotten(&runbook).await.expect("read"), "a stale list made it readable again");

        node.keep_view(&members(other), &["ada"], asked).await.expect("keep");
        node.keep_view("/api/devices/relay", &["key"], asked).await.expect("keep");
        node.keep_document_list(other, &[entry(other, 2)], asked, None).await.expect("keep");
        assert!(node.kept_view::<Vec<String>>(&members(other)).await.expect("read").is_some());
        assert!(node.kept_view::<Vec<String>>("/api/devices/relay").await.expect("read").is_some());
        assert_eq!(document_teams(&node).await, [other.to_string()]);
        assert_eq!(indexed_documents(&node).await, 1);

        // Rejoined: what is asked from now on is the team's again.
        let after = node.asking();
        node.keep_view(&members(ops), &["ada"], after).await.expect("keep");
        node.keep_document_list(ops, &[entry(ops, 1)], after, Some(&forgotten_before)).await.expect("keep");
        assert!(node.kept_view::<Vec<String>>(&members(ops)).await.expect("read").is_some());
        assert!(!node.is_forgotten(&runbook).await.expect("read"));
        assert_eq!(document_teams(&node).await.len(), 2);
        node.close().await;
    }

    /// An answer on its way while this user's data is cleared (signing out) is not kept after it, whether
    /// about a team or about none; one asked after is. (The store's last rows after a sign-out were
    /// sometimes such an answer: `previews::signing_out_leaves_no_preview_and_no_other_user_data_in_the_store`.)
    #[tokio::test]
    async fn an_answer_asked_before_the_user_data_was_cleared_is_not_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let node = Node::open(dir.path(), "https://127.0.0.1:9").await.expect("open");
        let members = format!("/api/teams/{}/members", TeamId::new());
        let asked = node.asking();
        node.sign_out().await.expect("sign out");
        node.keep_view(&members, &["ada"], asked).await.expect("keep");
        node.keep_view("/api/devices/relay", &["key"], asked).await.expect("keep");
        assert_eq!(node.kept_view::<Vec<String>>(&members).await.expect("read"), None);
        assert_eq!(node.kept_view::<Vec<String>>("/api/devices/relay").await.expect("read"), None);

        let after = node.asking();
        node.keep_view("/api/devices/relay", &["key"], after).await.expect("keep");
        assert!(node.kept_view::<Vec<String>>("/api/devices/relay").await.expect("read").is_some());
        node.close().await;
    }
}
