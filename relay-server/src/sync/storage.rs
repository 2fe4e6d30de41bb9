//! samod's `Storage` on [`Db`]: the relay's document storage on either database, PostgreSQL included, so
//! every relay instance reads and writes one `sync_chunks` table. It keeps the promises of the device-side
//! `teamflow_sync::SqliteStorage` (which stays the node's): a write's future completes only once its
//! transaction has committed, writes issued together commit together (one fsync for a burst of keystrokes),
//! and a failing read or write is retried with backoff rather than answered falsely, since samod's trait
//! has no errors.
//!
//! Keys are samod's `StorageKey` components joined with '/'. Incremental changes are stored under their
//! hashes and snapshots under their heads, so instances writing one document never overwrite each other's
//! chunks; the tombstone triggers drop writes of a purged document on both databases.

use std::collections::HashMap;

use samod::storage::{Storage, StorageKey};
use tokio::sync::{mpsc, oneshot};

use crate::db::Db;

/// The most writes one transaction takes.
const MAX_GROUP: usize = 4096;

/// A commit slower than this is logged: every acknowledgement of the group waited on it.
const SLOW_COMMIT: std::time::Duration = std::time::Duration::from_millis(50);

#[derive(Clone, Debug)]
pub struct DbStorage {
    db: Db,
    writes: mpsc::Sender<Write>,
}

#[derive(Debug)]
struct Write {
    key: String,
    /// `None` deletes the key.
    data: Option<Vec<u8>>,
    done: oneshot::Sender<()>,
}

impl DbStorage {
    /// Storage on `db` (migrated). Starts the writer task, which ends when the last clone is dropped,
    /// after committing what was queued.
    pub fn new(db: Db) -> Self {
        let (writes, queue) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(write_groups(db.clone(), queue));
        Self { db, writes }
    }

    async fn write(&self, key: &StorageKey, data: Option<Vec<u8>>) {
        let (done, committed) = oneshot::channel();
        let write = Write { key: key.to_string(), data, done };
        if self.writes.send(write).await.is_err() || committed.await.is_err() {
            // Only when the runtime is shutting down; samod is stopping with it.
            tracing::error!("document storage writer is gone; write not confirmed");
        }
    }
}

async fn write_groups(db: Db, mut queue: mpsc::Receiver<Write>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let started = std::time::Instant::now();
        teamflow_sync::retry_storage("write", || commit(&db, &group)).await;
        let took = started.elapsed();
        if took > SLOW_COMMIT {
            tracing::warn!(ms = took.as_millis(), writes = group.len(), "slow document commit");
        }
        for write in group.drain(..) {
            // The requester may have gone away (samod stopping); the write is durable either way.
            write.done.send(()).ok();
        }
    }
}

async fn commit(db: &Db, group: &[Write]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    for write in group {
        match &write.data {
            Some(data) => {
                sqlx::query(
                    "INSERT INTO sync_chunks (key, data) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET data = excluded.data",
                )
                .bind(&write.key)
                .bind(data)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM sync_chunks WHERE key = $1").bind(&write.key).execute(&mut *tx).await?;
            }
        }
    }
    tx.commit().await
}

impl Storage for DbStorage {
    async fn load(&self, key: StorageKey) -> Option<Vec<u8>> {
        let key = key.to_string();
        teamflow_sync::retry_storage("load", || {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT data FROM sync_chunks WHERE key = $1")
                .bind(&key)
                .fetch_optional(self.db.pool())
        })
        .await
    }

    async fn load_range(&self, prefix: StorageKey) -> HashMap<StorageKey, Vec<u8>> {
        let prefix = prefix.to_string();
        let rows: Vec<(String, Vec<u8>)> = teamflow_sync::retry_storage("load_range", || {
            // Exactly the prefix, or it followed by '/': "a/b" covers "a/b/c" but not "a/bc". The empty
            // prefix covers everything. substr and length mean the same on both databases.
            sqlx::query_as(
                "SELECT key, data FROM sync_chunks
                 WHERE $1 = '' OR key = $1 OR substr(key, 1, length($1) + 1) = $1 || '/'",
            )
            .bind(&prefix)
            .fetch_all(self.db.pool())
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
