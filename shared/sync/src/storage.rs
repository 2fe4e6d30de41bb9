//! samod's `Storage` on a SQLite database (the relay's, or a device's local store). The table it uses is
//! created by [`SqliteStorage::MIGRATION`], which each owner includes in its own migrations.
//!
//! samod's trait cannot return errors, so a failing write is retried (with backoff, logged) until it
//! succeeds: its future never completes on a write that did not happen, so samod never takes an
//! unstored change as stored. Reads are retried the same way: answering "not found" for a document we
//! merely failed to read would be a lie.
//!
//! Writes go through one writer task that commits them in groups: every write queued while the previous
//! commit ran shares one transaction and one fsync, in the order they were issued. Typing makes one small
//! write per keystroke; committing each alone would make the fsync, not the edit, the cost of a
//! keystroke. A write's future completes only after its group is durable.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use samod::storage::{Storage, StorageKey};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot, watch};

use crate::Backoff;

#[derive(Clone, Debug)]
pub struct SqliteStorage {
    db: SqlitePool,
    writes: mpsc::Sender<Write>,
    /// Writes issued and not yet durable; a fast producer waits on it (see `backlog`).
    backlog: std::sync::Arc<watch::Sender<usize>>,
}

#[derive(Debug)]
struct Write {
    key: String,
    /// `None` deletes the key.
    data: Option<Vec<u8>>,
    done: oneshot::Sender<()>,
}

/// The most writes one transaction takes.
const MAX_GROUP: usize = 4096;

impl SqliteStorage {
    /// The schema this storage needs.
    pub const MIGRATION: &'static str =
        "CREATE TABLE IF NOT EXISTS sync_chunks (key TEXT PRIMARY KEY, data BLOB NOT NULL) STRICT;";

    /// Storage on `db`. Needs a Tokio runtime: it starts the writer task, which ends when the last clone
    /// of this storage is dropped, after committing what was queued.
    pub fn new(db: SqlitePool) -> Self {
        let (writes, queue) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(write_groups(db.clone(), queue));
        Self { db, writes, backlog: std::sync::Arc::new(watch::Sender::new(0)) }
    }

    /// The number of writes issued and not yet durable, as it changes.
    pub fn backlog(&self) -> watch::Receiver<usize> {
        self.backlog.subscribe()
    }

    async fn write(&self, key: &StorageKey, data: Option<Vec<u8>>) {
        self.backlog.send_modify(|n| *n += 1);
        // Decrements however this future ends (completed, or dropped by a stopping samod).
        let _issued = Issued(&self.backlog);
        let (done, committed) = oneshot::channel();
        let write = Write { key: key_string(key), data, done };
        if self.writes.send(write).await.is_err() || committed.await.is_err() {
            // Only when the runtime is shutting down; samod is stopping with it.
            tracing::error!("document storage writer is gone; write not confirmed");
        }
    }
}

struct Issued<'a>(&'a watch::Sender<usize>);

impl Drop for Issued<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

async fn write_groups(db: SqlitePool, mut queue: mpsc::Receiver<Write>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        retry_storage("write", || commit(&db, &group)).await;
        if group.iter().any(|write| write.data.is_none()) {
            release_free_pages(&db).await;
        }
        for write in group.drain(..) {
            // The requester may have gone away (samod stopping); the write is durable either way.
            write.done.send(()).ok();
        }
    }
}

/// Gives the pages that deletions freed (superseded chunks after a compaction) back to the file system,
/// when the database was made with `auto_vacuum = INCREMENTAL` (the node's is); a no-op otherwise. Without
/// it the file keeps the size of its largest moment: a burst of edits stored chunk by chunk, say.
async fn release_free_pages(db: &SqlitePool) {
    if let Err(e) = sqlx::query("PRAGMA incremental_vacuum").execute(db).await {
        // Only space is lost; the next deletion tries again.
        tracing::warn!(error = %e, "releasing free pages failed");
    }
}

async fn commit(db: &SqlitePool, group: &[Write]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for write in group {
        match &write.data {
            Some(data) => {
                sqlx::query("INSERT INTO sync_chunks (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data")
                    .bind(&write.key)
                    .bind(data)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM sync_chunks WHERE key = ?").bind(&write.key).execute(&mut *tx).await?;
            }
        }
    }
    tx.commit().await
}

fn key_string(key: &StorageKey) -> String {
    // StorageKey components never contain '/', so joining with it is unambiguous.
    key.to_string()
}

/// Runs a storage operation until it succeeds, logging each failure and backing off: samod's storage
/// interface has no way to report an error. Shared by every samod storage we have (this one, the relay's).
pub async fn retry_storage<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(5));
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(e) => {
                let delay = backoff.next_delay();
                tracing::error!(error = %e, what, retry_in_ms = delay.as_millis(), "document storage failed; retrying");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

impl Storage for SqliteStorage {
    async fn load(&self, key: StorageKey) -> Option<Vec<u8>> {
        let key = key_string(&key);
        retry_storage("load", || {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT data FROM sync_chunks WHERE key = ?")
                .bind(&key)
                .fetch_optional(&self.db)
        })
        .await
    }

    async fn load_range(&self, prefix: StorageKey) -> HashMap<StorageKey, Vec<u8>> {
        let prefix = key_string(&prefix);
        let rows: Vec<(String, Vec<u8>)> = retry_storage("load_range", || {
            // Exactly the prefix, or it followed by '/': "a/b" covers "a/b/c" but not "a/bc". The empty
            // prefix covers everything.
            sqlx::query_as(
                "SELECT key, data FROM sync_chunks
                 WHERE ?1 = '' OR key = ?1 OR substr(key, 1, length(?1) + 1) = ?1 || '/'",
            )
            .bind(&prefix)
            .fetch_all(&self.db)
        })
        .await;
        rows.into_iter()
            .filter_map(|(key, data)| {
                let parsed = StorageKey::from_parts(key.split('/'));
                if parsed.is_err() {
                    tracing::error!(key, "unreadable storage key in sync_chunks; skipped");
                }
                parsed.ok().map(|k| (k, data))
            })
            .collect()
    }

    async fn put(&self, key: StorageKey, data: Vec<u8>) {
        self.write(&key, Some(data)).await;
    }

    async fn delete(&self, key: StorageKey) {
        self.write(&key, None).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn storage() -> SqliteStorage {
        // One connection: each connection to `:memory:` would be a database of its own.
        let db = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .expect("connect");
        sqlx::query(SqliteStorage::MIGRATION).execute(&db).await.expect("migrate");
        SqliteStorage::new(db)
    }

    fn key(parts: &[&str]) -> StorageKey {
        StorageKey::from_parts(parts.iter().copied()).expect("key")
    }

    #[tokio::test]
    async fn put_load_overwrite_and_delete() {
        let s = storage().await;
        assert_eq!(s.load(key(&["doc", "snapshot"])).await, None);
        s.put(key(&["doc", "snapshot"]), vec![1, 2]).await;
        s.put(key(&["doc", "snapshot"]), vec![3]).await;
        assert_eq!(s.load(key(&["doc", "snapshot"])).await, Some(vec![3]));
        s.delete(key(&["doc", "snapshot"])).await;
        assert_eq!(s.load(key(&["doc", "snapshot"])).await, None);
        assert_eq!(*s.backlog().borrow(), 0, "every write was counted out once durable");
    }

    #[tokio::test]
    async fn deleting_chunks_gives_their_pages_back_when_the_database_vacuums_incrementally() {
        let options = "sqlite::memory:"
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .expect("options")
            .auto_vacuum(sqlx::sqlite::SqliteAutoVacuum::Incremental);
        let db =
            sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("connect");
        sqlx::query(SqliteStorage::MIGRATION).execute(&db).await.expect("migrate");
        let s = SqliteStorage::new(db.clone());
        let pages = || sqlx::query_scalar::<_, i64>("PRAGMA page_count").fetch_one(&db);
        let empty = pages().await.expect("pages");
        for i in 0..100 {
            s.put(key(&["doc", "incremental", &i.to_string()]), vec![7; 8192]).await;
        }
        let full = pages().await.expect("pages");
        assert!(full > empty + 100, "{empty} -> {full} pages");
        for i in 0..100 {
            s.delete(key(&["doc", "incremental", &i.to_string()])).await;
        }
        let after = pages().await.expect("pages");
        assert!(after <= empty + 2, "the deleted chunks' pages were given back: {full} -> {after} (empty: {empty})");
    }

    #[tokio::test]
    async fn ranges_match_whole_components_only() {
        let s = storage().await;
        s.put(key(&["a", "b"]), vec![1]).await;
        s.put(key(&["a", "b", "c"]), vec![2]).await;
        s.put(key(&["a", "bc"]), vec![3]).await;
        s.put(key(&["z"]), vec![4]).await;
        let found = s.load_range(key(&["a", "b"])).await;
        let mut keys: Vec<String> = found.keys().map(ToString::to_string).collect();
        keys.sort();
        assert_eq!(keys, ["a/b", "a/b/c"]);
        let everything = s.load_range(StorageKey::from_parts(Vec::<String>::new()).expect("empty key")).await;
        assert_eq!(everything.len(), 4);
    }
}
