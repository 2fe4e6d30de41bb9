//! The node's local store: the SQLite database (WAL, `synchronous=FULL`) and the offline cache of what the
//! relay last answered, so reads work without it.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use teamflow_protocol::TeamId;
use teamflow_protocol::api::messages::Message;

use crate::forgotten::{Asked, Forgets};
use crate::{Node, NodeError};

mod claim;
mod erasure;

pub(crate) use claim::{DataClaim, claim};
pub(crate) use erasure::{LogEmptier, empty_log, erasing};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Every table holding the signed-in user's data, emptied on sign-out.
const USER_TABLES: [&str; 14] = [
    "account",
    "cached_teams",
    "cached_messages",
    "cached_views",
    "outbox",
    "sync_chunks",
    "document_teams",
    "search_items",
    "search_index",
    "read_positions",
    "muted_teams",
    "notification_settings",
    "document_previews",
    "forgotten_documents",
];

/// The store's file name in the data directory.
pub(crate) const DATABASE_FILE: &str = "node.db";

/// `PRAGMA auto_vacuum`'s answer for `INCREMENTAL`.
const INCREMENTAL_AUTO_VACUUM: i64 = 2;

/// Opens (creating and migrating if needed) the store in `data_dir`.
pub(crate) async fn open(data_dir: &Path) -> Result<SqlitePool, NodeError> {
    let db = SqlitePoolOptions::new().max_connections(4).connect_with(options(data_dir)).await?;
    // A store made before incremental auto-vacuum was set: the setting applies only through one VACUUM.
    let auto_vacuum: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(&db).await?;
    if auto_vacuum != INCREMENTAL_AUTO_VACUUM {
        sqlx::query("VACUUM").execute(&db).await?;
    }
    MIGRATOR.run(&db).await?;
    rework(&db).await?;
    // A migration that rebuilds a table leaves the old one's pages free; give them back.
    sqlx::query("PRAGMA incremental_vacuum").execute(&db).await?;
    Ok(db)
}

/// Does what migrations left to Rust (`pending_rework`), each in one transaction with its row's deletion.
async fn rework(db: &SqlitePool) -> Result<(), NodeError> {
    let pending: Vec<String> = sqlx::query_scalar("SELECT what FROM pending_rework").fetch_all(db).await?;
    for what in pending {
        let mut tx = begin_write(db).await?;
        if what == "messages" {
            // Every cached message indexed again, as `cache_message` now indexes it.
            let kept: Vec<String> = sqlx::query_scalar("SELECT json FROM cached_messages").fetch_all(&mut *tx).await?;
            for json in kept {
                // A row that does not read as a message is not shown either: no reason to keep the store shut.
                match serde_json::from_str::<Message>(&json) {
                    Ok(message) => crate::search::index_message(&mut tx, &message).await?,
                    Err(error) => tracing::warn!(%error, "a cached message that does not read was not indexed again"),
                }
            }
        }
        sqlx::query("DELETE FROM pending_rework WHERE what = ?").bind(&what).execute(&mut *tx).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// How every connection to the store in `data_dir` is made.
fn options(data_dir: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(data_dir.join(DATABASE_FILE))
        .create_if_missing(true)
        // Document chunks superseded by a compaction are deleted in bulk; incremental auto-vacuum (run by the
        // document storage after deletions) returns their pages, so the file follows what is stored.
        .auto_vacuum(SqliteAutoVacuum::Incremental)
        .journal_mode(SqliteJournalMode::Wal)
        // A burst of writes grows the write-ahead log; cut it back after each checkpoint.
        .pragma("journal_size_limit", (4 << 20).to_string())
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        // A deleted row's bytes are overwritten where that costs no extra write (within the pages the
        // deletion rewrites anyway): what a forgotten team or document left is not readable in free space.
        .pragma("secure_delete", "FAST")
        .busy_timeout(Duration::from_secs(10))
}

/// A transaction that writes: it takes the write lock at once (`BEGIN IMMEDIATE`), so one that reads before it
/// writes waits its turn (busy timeout) instead of failing when another connection wrote meanwhile.
///
/// It also puts the connection back in the usual deletion mode, should a transaction that was `erasing` on it
/// have failed before it could (the mode is the connection's, not the transaction's).
pub(crate) async fn begin_write(db: &SqlitePool) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, NodeError> {
    Ok(db.begin_with("PRAGMA secure_delete = FAST; BEGIN IMMEDIATE").await?)
}

/// Forgets everything the signed-in user left here, in one transaction; then leaves none of it in the
/// files either.
pub(crate) async fn clear_user_data(db: &SqlitePool, forgets: &std::sync::Mutex<Forgets>) -> Result<(), NodeError> {
    let mut tx = begin_write(db).await?;
    // Under the write lock, as `forget_team` marks its team: an answer on its way (asked before) is not
    // kept after this (`begin_answer_write`), or is kept before it and deleted here.
    forgets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).forget_everything();
    for table in USER_TABLES {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    scrub(db).await;
    Ok(())
}

/// Deleted rows keep their bytes in the store's free pages and in its write-ahead log until something
/// overwrites them: the store is rewritten (small once emptied) and the log emptied. Nothing is lost if
/// this fails (the rows are gone already), so a failure is logged rather than returned.
async fn scrub(db: &SqlitePool) {
    if let Err(e) = sqlx::query("VACUUM").execute(db).await {
        tracing::warn!(error = %e, "could not rewrite the store after clearing it; deleted data may stay in free pages");
    }
    empty_log(db).await;
}

impl Node {
    /// Whether `team` was forgotten after a question asked at `asked`; `begin_answer_write` is the check
    /// that also holds the write lock.
    pub(crate) fn forgotten_since(&self, team: TeamId, asked: Asked) -> bool {
        self.forgets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).forgotten_since(team, asked)
    }

    /// Taken before asking the relay something about a team, for `begin_answer_write`.
    pub(crate) fn asking(&self) -> Asked {
        self.forgets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).asking()
    }

    /// Marks `team` forgotten from now on, for `begin_answer_write`. Called by `forget_team` while its
    /// transaction holds the write lock.
    pub(crate) fn mark_forgotten(&self, team: TeamId) {
        self.forgets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).forget(team);
    }

    /// A write transaction for keeping what the relay answered about `team` (none: not about one team) to a
    /// question asked at `asked`; none when the team, or everything (`clear_user_data`), was forgotten since,
    /// so the answer is not kept. Checked once this transaction holds the write lock, which `forget_team` and
    /// `clear_user_data` hold while they mark: a forgetting either comes after this write (and deletes what
    /// it kept) or is seen by it.
    pub(crate) async fn begin_answer_write(
        &self,
        team: Option<TeamId>,
        asked: Asked,
    ) -> Result<Option<sqlx::Transaction<'static, sqlx::Sqlite>>, NodeError> {
        let tx = begin_write(&self.db).await?;
        let forgotten =
            self.forgets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).answer_forgotten(team, asked);
        // Dropping the transaction rolls it back.
        Ok(if forgotten { None } else { Some(tx) })
    }

    /// Reads `path` from the relay, keeping the answer; while the relay is unreachable, the last answer.
    /// `NodeError::NotCached` when there is none.
    pub(crate) async fn read_through<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, NodeError> {
        Ok(self.read_through_telling(path).await?.0)
    }

    /// `read_through`, saying whether the answer is the relay's own now (true) or the last one kept.
    pub(crate) async fn read_through_telling<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(T, bool), NodeError> {
        let asked = self.asking();
        match self.authed::<(), T>(Method::GET, path, None).await {
            Ok(value) => {
                self.keep_view(path, &value, asked).await?;
                Ok((value, true))
            }
            Err(NodeError::Api(e)) if e.is_transient() => {
                Ok((self.kept_view(path).await?.ok_or(NodeError::NotCached(e))?, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Keeps `value`, the relay's answer to a question asked at `asked`, under `key` (its path) in the offline
    /// cache; not when the key is a team's and that team was forgotten since.
    pub(crate) async fn keep_view<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        asked: Asked,
    ) -> Result<(), NodeError> {
        let json = serde_json::to_string(value).map_err(NodeError::corrupt)?;
        let Some(mut tx) = self.begin_answer_write(team_of_view(key), asked).await? else {
            return Ok(());
        };
        put_view(&mut tx, key, &json).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `keep_view` for an answer from which things were deleted: the copy it replaces is erased, and so
    /// is what `forget` deletes of them in the same transaction; then the log is emptied.
    pub(crate) async fn keep_view_erasing<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
        asked: Asked,
        forget: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> Result<(), NodeError>,
    ) -> Result<(), NodeError> {
        let json = serde_json::to_string(value).map_err(NodeError::corrupt)?;
        let Some(mut tx) = self.begin_answer_write(team_of_view(key), asked).await? else {
            return Ok(());
        };
        erasing(&mut tx, async |tx| {
            put_view(&mut *tx, key, &json).await?;
            forget(tx).await
        })
        .await?;
        tx.commit().await?;
        self.log_emptier.request();
        Ok(())
    }

    /// What `keep_view` kept under `key`, if anything.
    pub(crate) async fn kept_view<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, NodeError> {
        let json: Option<String> = sqlx::query_scalar("SELECT json FROM cached_views WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.db)
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(NodeError::corrupt)).transpose()
    }
}

async fn put_view(tx: &mut sqlx::SqliteConnection, key: &str, json: &str) -> Result<(), NodeError> {
    sqlx::query(
        "INSERT INTO cached_views (key, json) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET json = excluded.json",
    )
    .bind(key)
    .bind(json)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Deletes every kept view whose key starts with `path`, in the caller's transaction.
pub(crate) async fn forget_views_under(tx: &mut sqlx::SqliteConnection, path: &str) -> Result<(), NodeError> {
    // A prefix compared as text: no LIKE, whose `_` and `%` a path could hold.
    sqlx::query("DELETE FROM cached_views WHERE substr(key, 1, length(?1)) = ?1").bind(path).execute(&mut *tx).await?;
    Ok(())
}

/// The team a kept view is about: its key is then the relay's path `/api/teams/{team}/...`.
fn team_of_view(key: &str) -> Option<TeamId> {
    key.strip_prefix("/api/teams/")?.split(['/', '?']).next()?.parse().ok()
}

/// Caches a message for reading offline and indexes it for search, in the caller's transaction.
/// A copy never replaces a newer one already kept (a page asked for before an edit or a deletion can answer
/// after it): a deleted message stays deleted, and a copy with a lower change number does not replace
/// one with a higher (the relay's order of changes, not its clock).
/// Answers whether this copy was kept, and whether it took back words this device kept.
pub(crate) async fn cache_message(tx: &mut sqlx::SqliteConnection, message: &Message) -> Result<Cached, NodeError> {
    if takes_back(tx, message).await? {
        // The copy it replaces is erased; once that commits the log is to be emptied (`LogEmptier`).
        let kept = erasing(tx, async |tx| keep_message(tx, message).await).await?;
        Ok(if kept { Cached::Erased } else { Cached::Not })
    } else {
        Ok(if keep_message(tx, message).await? { Cached::Kept } else { Cached::Not })
    }
}

/// What `cache_message` did with a copy of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cached {
    /// Not kept: an older copy than the one kept (or, `recache_message`, a message not kept here).
    Not,
    Kept,
    /// Kept, replacing a copy whose words it took back (deleted, or edited to other words), erased.
    Erased,
}

impl Cached {
    pub(crate) fn kept(self) -> bool {
        self != Cached::Not
    }

    pub(crate) fn erased(self) -> bool {
        self == Cached::Erased
    }
}

/// Whether keeping `message` takes back words of the copy kept here: it is deleted, or its words differ.
/// Not for a change of its reactions alone, which would pay for erasing and emptying the log for nothing.
async fn takes_back(tx: &mut sqlx::SqliteConnection, message: &Message) -> Result<bool, NodeError> {
    if !message.deleted && message.edited_at.is_none() {
        return Ok(false);
    }
    let kept: Option<(Option<String>, Option<bool>)> = sqlx::query_as(
        "SELECT json_extract(json, '$.content'), json_extract(json, '$.deleted') FROM cached_messages
         WHERE team_id = ? AND seq = ?",
    )
    .bind(message.team_id.to_string())
    .bind(message.seq)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match kept {
        Some((content, deleted)) => {
            (message.deleted && !deleted.unwrap_or(false)) || content.as_deref() != Some(message.content.as_str())
        }
        None => false,
    })
}

async fn keep_message(tx: &mut sqlx::SqliteConnection, message: &Message) -> Result<bool, NodeError> {
    let json = serde_json::to_string(message).map_err(NodeError::corrupt)?;
    let kept = sqlx::query(
        "INSERT INTO cached_messages (team_id, seq, json) VALUES (?, ?, ?)
         ON CONFLICT (team_id, seq) DO UPDATE SET json = excluded.json
         WHERE NOT COALESCE(json_extract(cached_messages.json, '$.deleted'), 0)
           AND COALESCE(json_extract(excluded.json, '$.change_seq'), 0)
               >= COALESCE(json_extract(cached_messages.json, '$.change_seq'), 0)",
    )
    .bind(message.team_id.to_string())
    .bind(message.seq)
    .bind(json)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if kept == 0 {
        return Ok(false);
    }
    crate::search::index_message(tx, message).await?;
    Ok(true)
}

/// `cache_message` for a message this device already keeps, and nothing for one it does not (kept
/// messages stay the runs of the chat it read, so reading back offline shows no stray one).
pub(crate) async fn recache_message(tx: &mut sqlx::SqliteConnection, message: &Message) -> Result<Cached, NodeError> {
    let kept: Option<i64> = sqlx::query_scalar("SELECT 1 FROM cached_messages WHERE team_id = ? AND seq = ?")
        .bind(message.team_id.to_string())
        .bind(message.seq)
        .fetch_optional(&mut *tx)
        .await?;
    if kept.is_none() {
        return Ok(Cached::Not);
    }
    cache_message(tx, message).await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn auto_vacuum(db: &SqlitePool) -> i64 {
        sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(db).await.expect("pragma")
    }

    #[tokio::test]
    async fn a_store_made_without_incremental_auto_vacuum_is_converted_on_open_keeping_its_rows() {
        let dir = tempfile::tempdir().expect("dir");
        let plain = SqliteConnectOptions::new()
            .filename(dir.path().join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let old = SqlitePoolOptions::new().connect_with(plain).await.expect("create");
        sqlx::query("CREATE TABLE kept (x INTEGER)").execute(&old).await.expect("table");
        sqlx::query("INSERT INTO kept VALUES (42)").execute(&old).await.expect("row");
        assert_eq!(auto_vacuum(&old).await, 0, "made the old way");
        old.close().await;

        let db = open(dir.path()).await.expect("open");
        assert_eq!(auto_vacuum(&db).await, INCREMENTAL_AUTO_VACUUM);
        let kept: i64 = sqlx::query_scalar("SELECT x FROM kept").fetch_one(&db).await.expect("row kept");
        assert_eq!(kept, 42);
        db.close().await;

        let db = open(dir.path()).await.expect("open again");
        assert_eq!(auto_vacuum(&db).await, INCREMENTAL_AUTO_VACUUM, "converted once, stays converted");
        db.close().await;
    }

    /// The tables migration 10 rebuilt without a rowid, and a row for each (its columns, then its values).
    const KEYED_TABLES: [(&str, &str, &str); 6] = [
        ("cached_teams", "id, json", "'t1', '{}'"),
        ("cached_messages", "team_id, seq, json", "'t1', 7, '{\"content\":\"hi\"}'"),
        ("cached_views", "key, json", "'/api/teams/t1/members', '[]'"),
        ("document_teams", "document_id, team_id", "'automerge:abc', 't1'"),
        ("read_positions", "team_id, seq", "'t1', 7"),
        ("muted_teams", "team_id", "'t1'"),
    ];

    #[tokio::test]
    async fn messages_kept_before_mentions_were_indexed_by_name_are_indexed_again_once() {
        let dir = tempfile::tempdir().expect("dir");
        let old = SqlitePoolOptions::new().connect_with(options(dir.path())).await.expect("create");
        MIGRATOR.run_to(10, &old).await.expect("the store as migration 10 left it");
        let ada = teamflow_protocol::UserId::new();
        let message = serde_json::json!({
            "id": uuid::Uuid::now_v7(), "team_id": uuid::Uuid::now_v7(), "seq": 7, "author_id": ada,
            "author_name": "Bob", "client_id": "c7", "kind": "text",
            "content": format!("{} can you look?", teamflow_protocol::mentions::mention(ada, "Ada")),
            "created_at": "2026-12-01T10:00:00Z",
        });
        sqlx::query("INSERT INTO cached_messages (team_id, seq, json) VALUES (?, 7, ?)")
            .bind(message["team_id"].as_str().expect("team"))
            .bind(message.to_string())
            .execute(&old)
            .await
            .expect("row");
        old.close().await;

        let db = open(dir.path()).await.expect("open");
        let body: String = sqlx::query_scalar("SELECT body FROM search_index").fetch_one(&db).await.expect("indexed");
        assert_eq!(body, "@Ada can you look?");
        let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM pending_rework").fetch_one(&db).await.expect("n");
        assert_eq!(pending, 0, "done once");
        db.close().await;
    }

    /// Only a copy that takes back words this device kept (deleted, or edited to other words) is written
    /// erasing and asks for the log to be emptied; a change of an edited message's reactions is not one.
    #[tokio::test]
    async fn only_a_copy_taking_words_back_is_erased() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(dir.path()).await.expect("open");
        let posted: Message = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::now_v7(), "team_id": uuid::Uuid::now_v7(), "seq": 1, "author_id": uuid::Uuid::now_v7(),
            "author_name": "Bob", "client_id": "c1", "kind": "text", "content": "the plan",
            "created_at": "2026-12-01T10:00:00Z",
        }))
        .expect("message");
        let cached = async |message: &Message| {
            let mut tx = begin_write(&db).await.expect("tx");
            let cached = cache_message(&mut tx, message).await.expect("cache");
            tx.commit().await.expect("commit");
            cached
        };
        let edited = Message {
            content: "the new plan".into(),
            edited_at: Some(time::OffsetDateTime::now_utc()),
            change_seq: Some(1),
            ..posted.clone()
        };
        let reacted = Message {
            change_seq: Some(2),
            reactions: vec![teamflow_protocol::api::messages::Reaction { emoji: "👍".into(), user_ids: Vec::new() }],
            ..edited.clone()
        };
        let deleted = Message { content: String::new(), deleted: true, change_seq: Some(3), ..reacted.clone() };
        assert_eq!(cached(&posted).await, Cached::Kept);
        assert_eq!(cached(&edited).await, Cached::Erased, "other words");
        assert_eq!(cached(&edited).await, Cached::Kept, "the same words again");
        assert_eq!(cached(&reacted).await, Cached::Kept, "a reaction on an edited message");
        assert_eq!(cached(&edited).await, Cached::Not, "an older copy");
        assert_eq!(cached(&deleted).await, Cached::Erased);
        assert_eq!(cached(&deleted).await, Cached::Not, "deleted already");
        db.close().await;
    }

    #[tokio::test]
    async fn a_late_copy_of_a_message_never_undoes_its_deletion_or_a_later_edit() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(dir.path()).await.expect("open");
        let at = |text: &str| time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok();
        let posted: Message = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::now_v7(), "team_id": uuid::Uuid::now_v7(), "seq": 3, "author_id": uuid::Uuid::now_v7(),
            "author_name": "Bob", "client_id": "c3", "kind": "text", "content": "the plan",
            "created_at": "2026-12-01T10:00:00Z",
        }))
        .expect("message");
        let edit = |content: &str, change: i64| Message {
            content: content.into(),
            edited_at: at("2026-12-01T10:05:00Z"),
            change_seq: Some(change),
            ..posted.clone()
        };
        let kept = async |message: &Message| {
            let mut tx = begin_write(&db).await.expect("tx");
            cache_message(&mut tx, message).await.expect("cache");
            tx.commit().await.expect("commit");
            let json: String =
                sqlx::query_scalar("SELECT json FROM cached_messages").fetch_one(&db).await.expect("row");
            let hits: i64 = sqlx::query_scalar("SELECT count(*) FROM search_index WHERE search_index MATCH 'plan'")
                .fetch_one(&db)
                .await
                .expect("search");
            (serde_json::from_str::<Message>(&json).expect("json"), hits)
        };

        assert_eq!(kept(&posted).await.0.content, "the plan");
        assert_eq!(kept(&edit("the plan, later", 2)).await.0.content, "the plan, later");
        // A page read before that edit answers after it: the later edit stays.
        assert_eq!(kept(&edit("the plan, sooner", 1)).await.0.content, "the plan, later");
        assert_eq!(kept(&posted).await.0.content, "the plan, later");
        let deleted = Message { content: String::new(), deleted: true, change_seq: Some(3), ..posted.clone() };
        let (message, hits) = kept(&deleted).await;
        assert!(message.deleted && message.content.is_empty());
        assert_eq!(hits, 0, "out of the index");
        // And no copy from before the deletion brings its words back, to the cache or to search.
        for late in [posted.clone(), edit("the plan, later", 2), edit("a later edit can't follow one", 4)] {
            let (message, hits) = kept(&late).await;
            assert!(message.deleted && message.content.is_empty(), "{message:?}");
            assert_eq!(hits, 0);
        }
        db.close().await;
    }

    #[tokio::test]
    async fn a_store_from_before_the_keyed_tables_lost_their_rowid_keeps_its_rows_and_no_free_pages() {
        let dir = tempfile::tempdir().expect("dir");
        let old = SqlitePoolOptions::new().connect_with(options(dir.path())).await.expect("create");
        MIGRATOR.run_to(9, &old).await.expect("the store as migration 9 left it");
        for (table, columns, values) in KEYED_TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO {table} ({columns}) VALUES ({values})")))
                .execute(&old)
                .await
                .expect("row");
        }
        old.close().await;

        let db = open(dir.path()).await.expect("open");
        for (table, columns, values) in KEYED_TABLES {
            let kept: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT 1 FROM {table} WHERE ({columns}) = ({values})"
            )))
            .fetch_optional(&db)
            .await
            .expect("select");
            assert_eq!(kept, Some(1), "{table} kept its row");
            let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?")
                .bind(table)
                .fetch_one(&db)
                .await
                .expect("schema");
            assert!(sql.contains("WITHOUT ROWID"), "{table}: {sql}");
            let indexes: i64 =
                sqlx::query_scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?")
                    .bind(table)
                    .fetch_one(&db)
                    .await
                    .expect("indexes");
            assert_eq!(indexes, 0, "{table} is one b-tree");
        }
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count").fetch_one(&db).await.expect("pragma");
        assert_eq!(free, 0, "the rebuilt tables' old pages were given back");
        db.close().await;
    }
}
