//! Erasing what a person took back from the store's files: deletions that zero what they free, and the
//! write-ahead log emptied after them, which still holds the pages as they were.

use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::mpsc;

use crate::NodeError;

/// Runs `statements` zeroing everything they free, cells and whole pages (`secure_delete = ON`), then goes
/// back to the usual `FAST` (zeroed only within pages the deletion writes anyway): for words a person took
/// back (a message deleted or edited, an unsent one discarded). A long message spills into overflow pages,
/// which a deletion frees whole and `FAST` leaves as they were; document compactions free whole pages often
/// too, which is why this is not the store's mode. Not nested: the inner one would end the mode early.
pub(crate) async fn erasing<T>(
    tx: &mut sqlx::SqliteConnection,
    statements: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> Result<T, NodeError>,
) -> Result<T, NodeError> {
    sqlx::query("PRAGMA secure_delete = ON").execute(&mut *tx).await?;
    let done = statements(&mut *tx).await;
    sqlx::query("PRAGMA secure_delete = FAST").execute(&mut *tx).await?;
    done
}

/// How many times `empty_log` tries, waiting between tries with `teamflow_sync::Backoff` from
/// `EMPTY_LOG_FIRST_WAIT` up to `EMPTY_LOG_LONGEST_WAIT` (1.27 s in all, up to about 2.5 s with jitter).
const EMPTY_LOG_TRIES: u32 = 8;
const EMPTY_LOG_FIRST_WAIT: Duration = Duration::from_millis(10);
const EMPTY_LOG_LONGEST_WAIT: Duration = Duration::from_millis(640);

/// A refused checkpoint that came back sooner than this was refused at once (another was running), not
/// after waiting out the busy timeout for a reader or writer: only that one is worth trying again soon.
const REFUSED_AT_ONCE: Duration = Duration::from_secs(1);

/// Empties the write-ahead log, which keeps the bytes of rows deleted since the last checkpoint. Logged
/// rather than returned when it fails, for the same reason as `scrub`.
///
/// Readers and writers in the way are waited for (the busy timeout), but a checkpoint another connection is
/// running (a purge and a forgetting at once, say) makes this one give up at once, SQLite's busy handler
/// not asked; and that one may leave the log as it was, or not cover rows deleted meanwhile. So a
/// checkpoint refused at once is tried again, a few times, a little later each time: that covers another
/// checkpoint's short overlap (this store's own), not one kept waiting for seconds by a reader.
pub(crate) async fn empty_log(db: &SqlitePool) {
    let mut backoff = teamflow_sync::Backoff::new(EMPTY_LOG_FIRST_WAIT, EMPTY_LOG_LONGEST_WAIT);
    for attempt in 1..=EMPTY_LOG_TRIES {
        // A connection first: only the checkpoint itself is timed, not the wait for the pool.
        let mut connection = match db.acquire().await {
            Ok(connection) => connection,
            Err(e) => {
                tracing::warn!(error = %e, "could not empty the write-ahead log after deleting data");
                return;
            }
        };
        let started = std::time::Instant::now();
        let checkpoint =
            sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *connection).await;
        drop(connection);
        match checkpoint {
            Ok((0, _, _)) => return,
            Ok(_) if attempt < EMPTY_LOG_TRIES && started.elapsed() < REFUSED_AT_ONCE => backoff.wait().await,
            Ok(_) => {
                tracing::warn!("the write-ahead log is in use; deleted data may stay in it until the next checkpoint");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not empty the write-ahead log after deleting data");
                return;
            }
        }
    }
}

/// Empties the write-ahead log after an erasure, off the path of whoever erased: a checkpoint waits for
/// readers and writers (the busy timeout), and a burst of erasures (a page of deleted messages arriving)
/// needs one emptying after it, not one each. Cheap to clone; `close` lets the task end.
#[derive(Clone)]
pub(crate) struct LogEmptier {
    wake: std::sync::Arc<std::sync::Mutex<Option<mpsc::Sender<()>>>>,
}

impl LogEmptier {
    /// Starts the task that empties `db`'s log when asked, on `tasks` (whose owner waits for it after
    /// `close`).
    pub(crate) fn spawn(db: SqlitePool, tasks: &tokio_util::task::TaskTracker) -> LogEmptier {
        // One request waiting is enough: it is served after every erasure committed before it was taken.
        let (wake, mut asked) = mpsc::channel(1);
        tasks.spawn(async move {
            while asked.recv().await.is_some() {
                empty_log(&db).await;
            }
        });
        LogEmptier { wake: std::sync::Arc::new(std::sync::Mutex::new(Some(wake))) }
    }

    /// Asks for the log to be emptied; call it once the erasing transaction committed (an emptying that
    /// ran before the commit would not cover it).
    pub(crate) fn request(&self) {
        let wake = self.wake.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match wake.as_ref().map(|wake| wake.try_send(())) {
            // Full: a request is waiting, and will be served after this commit.
            Some(Ok(()) | Err(mpsc::error::TrySendError::Full(()))) => {}
            Some(Err(mpsc::error::TrySendError::Closed(()))) | None => {
                tracing::warn!("the store is closing; erased data may stay in its log until it closes");
            }
        }
    }

    /// Lets the task end once it has served the request waiting, if any.
    pub(crate) fn close(&self) {
        self.wake.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DATABASE_FILE, open, options};

    fn log_bytes(dir: &std::path::Path) -> u64 {
        std::fs::metadata(dir.join(format!("{DATABASE_FILE}-wal"))).map(|m| m.len()).unwrap_or(0)
    }

    /// Asked for while the store is open, and once more as it closes: each request is served before the
    /// task ends, so nothing erased stays in the log of a store still open.
    #[tokio::test]
    async fn every_request_empties_the_log_before_the_task_ends() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(dir.path()).await.expect("open");
        let tasks = tokio_util::task::TaskTracker::new();
        let emptier = LogEmptier::spawn(db.clone(), &tasks);
        for round in 0..3 {
            sqlx::query("INSERT INTO cached_views (key, json) VALUES (?, '1')")
                .bind(format!("row{round}"))
                .execute(&db)
                .await
                .expect("row");
            assert!(log_bytes(dir.path()) > 0, "the row is in the log");
            emptier.request();
            emptier.request();
            if round == 2 {
                emptier.close();
                emptier.request();
                tasks.close();
                tasks.wait().await;
            } else {
                // Served in the background: waited for here, as nothing reports it.
                let deadline = std::time::Instant::now() + Duration::from_secs(30);
                while log_bytes(dir.path()) > 0 {
                    assert!(std::time::Instant::now() < deadline, "the log was never emptied");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        assert_eq!(log_bytes(dir.path()), 0, "the last request was served before the task ended");
        db.close().await;
    }

    /// A checkpoint another connection is running makes `empty_log`'s refused at once; that one gives up
    /// too (a reader in its way past its busy timeout), so `empty_log` must try again for the log to be
    /// emptied of what was deleted.
    #[tokio::test]
    async fn the_log_is_emptied_even_when_another_checkpoint_was_running() {
        let dir = tempfile::tempdir().expect("dir");
        let db = open(dir.path()).await.expect("open");
        sqlx::query("INSERT INTO cached_views (key, json) VALUES ('secret', '\"Wxyzzyplugh\"')")
            .execute(&db)
            .await
            .expect("row");
        let wal = dir.path().join(format!("{DATABASE_FILE}-wal"));
        let wal_bytes = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert!(wal_bytes() > 0, "the row is in the log");

        let connect = |busy: Duration| {
            let options = options(dir.path()).busy_timeout(busy);
            async move { <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options).await.expect("connection") }
        };
        let mut probe = connect(Duration::ZERO).await;
        // A reader keeps the other connection's checkpoint waiting, and that holds the checkpoint lock until
        // it gives up (its busy timeout).
        let mut reader = db.acquire().await.expect("reader");
        sqlx::query("BEGIN").execute(&mut *reader).await.expect("begin");
        sqlx::query("SELECT count(*) FROM cached_views").execute(&mut *reader).await.expect("read");
        // Written after the reader's snapshot: a checkpoint cannot finish while the reader is there.
        sqlx::query("INSERT INTO cached_views (key, json) VALUES ('later', '1')").execute(&db).await.expect("row");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let checkpoint = 'under_way: loop {
            assert!(std::time::Instant::now() < deadline, "the other checkpoint was never seen holding its lock");
            let mut other = connect(Duration::from_millis(500)).await;
            let checkpoint = tokio::spawn(async move {
                sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(&mut other)
                    .await
                    .expect("checkpoint")
            });
            // A checkpoint waiting for readers keeps writers out: the probe (no busy timeout) cannot begin a
            // write while the other checkpoint is under way. One that gave up before the probe saw it (a
            // busy machine) is started again.
            loop {
                if sqlx::query("BEGIN IMMEDIATE").execute(&mut probe).await.is_err() {
                    break 'under_way checkpoint;
                }
                sqlx::query("ROLLBACK").execute(&mut probe).await.expect("rollback");
                if checkpoint.is_finished() {
                    break;
                }
                tokio::task::yield_now().await;
            }
        };

        let emptying = tokio::spawn({
            let db = db.clone();
            async move { empty_log(&db).await }
        });
        assert_eq!(checkpoint.await.expect("checkpoint").0, 1, "the other checkpoint gave up");
        sqlx::query("COMMIT").execute(&mut *reader).await.expect("end the read");
        drop(reader);
        emptying.await.expect("emptied");
        assert_eq!(wal_bytes(), 0, "the log still holds what was written");
        db.close().await;
    }
}
