//! samod's `Storage` on a SQLite database (the relay's, or a device's local store). The table it uses is
//! created by [`SqliteStorage::MIGRATION`], which each owner includes in its own migrations.
//!
//! samod's trait cannot return errors, so a failing write is retried (with backoff, logged) until it
//! succeeds: its future never completes on a write that did not happen, so samod never takes an
//! unstored change as stored. Reads are retried the same way: answering "not found" for a document we
//! merely failed to read would be a lie.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use samod::storage::{Storage, StorageKey};
use sqlx::SqlitePool;

#[derive(Clone, Debug)]
pub struct SqliteStorage {
    db: SqlitePool,
}

impl SqliteStorage {
    /// The schema this storage needs.
    pub const MIGRATION: &'static str =
        "CREATE TABLE IF NOT EXISTS sync_chunks (key TEXT PRIMARY KEY, data BLOB NOT NULL) STRICT;";

    pub fn new(db: SqlitePool) -> Self {
        Self { db }
    }
}

fn key_string(key: &StorageKey) -> String {
    // StorageKey components never contain '/', so joining with it is unambiguous.
    key.to_string()
}

async fn retrying<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut delay = Duration::from_millis(10);
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(e) => {
                tracing::error!(error = %e, what, retry_in_ms = delay.as_millis(), "document storage failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

impl Storage for SqliteStorage {
    async fn load(&self, key: StorageKey) -> Option<Vec<u8>> {
        let key = key_string(&key);
        retrying("load", || {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT data FROM sync_chunks WHERE key = ?")
                .bind(&key)
                .fetch_optional(&self.db)
        })
        .await
    }

    async fn load_range(&self, prefix: StorageKey) -> HashMap<StorageKey, Vec<u8>> {
        let prefix = key_string(&prefix);
        let rows: Vec<(String, Vec<u8>)> = retrying("load_range", || {
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
        let key = key_string(&key);
        retrying("put", || {
            sqlx::query("INSERT INTO sync_chunks (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data")
                .bind(&key)
                .bind(&data)
                .execute(&self.db)
        })
        .await;
    }

    async fn delete(&self, key: StorageKey) {
        let key = key_string(&key);
        retrying("delete", || sqlx::query("DELETE FROM sync_chunks WHERE key = ?").bind(&key).execute(&self.db)).await;
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
