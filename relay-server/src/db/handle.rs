//! `Db`, the one database handle the relay's domain code moves onto (ARCHITECTURE.md, "One body of domain
//! code"): sqlx's `Any` pool with portable SQL, plus the backend it runs on, for the few statements that
//! must differ. The same durability settings as [`super::connect`] on SQLite.

use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Transaction};

use super::backend::Backend;

/// What [`Db::serialise`] keeps from running on two instances at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serial {
    /// Making or rotating the signing keys: two instances starting on an empty database agree on one
    /// identity key.
    Keys,
    /// The first sign-up, which makes its account the relay's administrator: one account only.
    FirstAccount,
    /// Appending to the device revocation feed: its seqs then commit in order, so a device paging it by
    /// "seq above the last I saw" never skips one committed late.
    Revocations,
}

impl Serial {
    /// The advisory lock's key: "team" in ASCII, then the kind.
    fn key(self) -> i64 {
        0x7465_616d_0000
            + match self {
                Serial::Keys => 1,
                Serial::FirstAccount => 2,
                Serial::Revocations => 3,
            }
    }
}

/// How SQLite deletes outside [`Erasing`] transactions: a deleted row's bytes are overwritten where that
/// costs no extra write (within the pages the deletion rewrites anyway); freed pages are left as they were.
const USUAL_DELETION: &str = "PRAGMA secure_delete = FAST";
/// `BEGIN IMMEDIATE` in the usual deletion mode (`USUAL_DELETION`, spelled out: a `begin_with` statement is
/// a literal).
const BEGIN_WRITE: &str = "PRAGMA secure_delete = FAST; BEGIN IMMEDIATE";

/// A write transaction that erases what it deletes ([`Db::begin_erasing`]). Used as the transaction it
/// wraps; [`Erasing::commit`] puts the connection back in the usual deletion mode before committing.
#[derive(Debug)]
pub struct Erasing {
    tx: Transaction<'static, Any>,
    backend: Backend,
    pool: AnyPool,
}

impl Erasing {
    /// Commits; then, on SQLite, empties the write-ahead log, whose earlier frames still hold the pages as
    /// they were before this transaction zeroed them. The erasure stands whether or not the log could be
    /// emptied at once (a reader of an older snapshot in the way): it is never a failure of the commit.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            // The pages were zeroed as they were freed, by the statements above: the mode can go now.
            sqlx::query(USUAL_DELETION).execute(&mut *self.tx).await?;
        }
        self.tx.commit().await?;
        if self.backend == Backend::Sqlite {
            empty_log(&self.pool).await;
        }
        Ok(())
    }

    /// Ends a transaction that erased nothing after all (a periodic pass with nothing due): rolled back,
    /// the connection in the usual mode again, and the log left alone.
    pub async fn nothing_erased(mut self) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Sqlite {
            sqlx::query(USUAL_DELETION).execute(&mut *self.tx).await?;
        }
        self.tx.rollback().await
    }
}

/// How long emptying the log waits for readers of an older snapshot, in ms. Writers queue behind a
/// checkpoint that waits, so it waits briefly and gives up rather than hold every write for the usual 10 s.
const LOG_PATIENCE_MS: u64 = 100;

/// Copies the write-ahead log into the database and truncates it to nothing (`wal_checkpoint(TRUNCATE)`),
/// on a connection whose busy timeout is `LOG_PATIENCE_MS` meanwhile. Best effort: when a reader or another
/// checkpoint is in the way the log stays as it is until a later checkpoint writes over it; that is logged.
async fn empty_log(pool: &AnyPool) {
    let mut connection = match pool.acquire().await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::warn!(%error, "could not empty the write-ahead log after an erasure");
            return;
        }
    };
    let patience = format!("PRAGMA busy_timeout = {LOG_PATIENCE_MS}");
    let emptied = match sqlx::query(sqlx::AssertSqlSafe(patience)).execute(&mut *connection).await {
        Ok(_) => {
            sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *connection).await
        }
        Err(error) => Err(error),
    };
    let usual = format!("PRAGMA busy_timeout = {}", PATIENCE.as_millis());
    if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(usual)).execute(&mut *connection).await {
        // A connection that gives up on a busy database after 100 ms must not serve anyone else.
        tracing::warn!(%error, "could not restore a connection's busy timeout; closing it");
        connection.close_on_drop();
    }
    match emptied {
        Ok((0, _, _)) => {}
        Ok(_) => tracing::info!("the write-ahead log is in use; erased rows stay in it until a later checkpoint"),
        Err(error) => tracing::warn!(%error, "could not empty the write-ahead log after an erasure"),
    }
}

impl std::ops::Deref for Erasing {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for Erasing {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// A pool on SQLite or PostgreSQL, and which one it is.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// How long a connection may be waited for, from the pool or (SQLite) for the write lock.
const PATIENCE: Duration = Duration::from_secs(10);

impl Db {
    /// Opens (creating if needed) the SQLite database at `path`: WAL with `synchronous=FULL`, foreign keys,
    /// a busy timeout, as [`super::connect`] does.
    pub async fn sqlite(path: &Path) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        // The path travels in a URL, which sqlx's SQLite driver percent-decodes and cuts at '?': escape what
        // it would misread, so a data directory may be named anything (UTF-8).
        let path = path.display().to_string().replace('%', "%25").replace('?', "%3F").replace('#', "%23");
        let url = format!("sqlite://{path}?mode=rwc");
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(PATIENCE)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                         PRAGMA busy_timeout = 10000; PRAGMA secure_delete = FAST;",
                    )
                    .execute(conn)
                    .await
                    .map(drop)
                })
            })
            .connect(&url)
            .await?;
        Ok(Db { pool, backend: Backend::Sqlite })
    }

    /// Connects to the PostgreSQL database at `url` (`postgres://...`).
    pub async fn postgres(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new().max_connections(16).acquire_timeout(PATIENCE).connect(url).await?;
        Ok(Db { pool, backend: Backend::Postgres })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Applies the backend's migrations (`migrations` or `migrations-postgres`).
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self.backend {
            Backend::Sqlite => super::MIGRATOR.run(&self.pool).await,
            Backend::Postgres => super::POSTGRES_MIGRATOR.run(&self.pool).await,
        }
    }

    /// Starts a transaction that reads and then writes. On SQLite it takes the database's write lock at once
    /// (`BEGIN IMMEDIATE`: writers queue instead of failing with SQLITE_BUSY). On PostgreSQL writers run
    /// side by side, so what such a transaction must see unchanged until it commits it locks explicitly
    /// (`lock_team`).
    ///
    /// On SQLite it also puts the connection back in the usual deletion mode, should an [`Erasing`]
    /// transaction on it have failed before it could (the mode is the connection's, not the transaction's).
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with(BEGIN_WRITE).await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Starts a write transaction ([`Db::begin_write`]) that erases what it deletes or overwrites: on
    /// SQLite, the space and pages its rows leave are zeroed in the same write (`secure_delete = ON`), so a
    /// deleted message or an edit's old words are not left readable in the file's free pages; its commit
    /// then empties the write-ahead log ([`Erasing::commit`]). That costs a write for each page freed, so
    /// only erasures a person asked for take it; document storage's compactions do not. On PostgreSQL
    /// nothing is zeroed: the old row versions stay in the table's pages until `VACUUM` and later writes
    /// reuse them (docs/security.md, "The relay's host and data").
    pub async fn begin_erasing(&self) -> Result<Erasing, sqlx::Error> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("PRAGMA secure_delete = ON; BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Erasing { tx, backend: self.backend, pool: self.pool.clone() })
    }

    /// SQL for the UTC calendar day (`YYYY-MM-DD` text) of `ms_column`, a column of Unix milliseconds.
    pub fn utc_day(&self, ms_column: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("date({ms_column} / 1000, 'unixepoch')"),
            Backend::Postgres => format!("to_char(to_timestamp({ms_column} / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        }
    }

    /// SQL reading the integer under the top-level `key` of `json_column`, a TEXT column holding a JSON
    /// object (NULL when the key is missing).
    pub fn json_integer(&self, json_column: &str, key: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("json_extract({json_column}, '$.{key}')"),
            Backend::Postgres => format!("(({json_column})::jsonb ->> '{key}')::bigint"),
        }
    }

    /// SQL ordering `text_column` without regard to ASCII case, as SQLite's `NOCASE` collation does.
    pub fn nocase(&self, text_column: &str) -> String {
        match self.backend {
            Backend::Sqlite => format!("{text_column} COLLATE NOCASE"),
            Backend::Postgres => format!("lower({text_column})"),
        }
    }

    /// Serialises, across every relay instance, the transactions of one kind that must not run side by side
    /// (see [`Serial`]): an advisory lock held until the transaction ends on PostgreSQL; `begin_write`
    /// already holds SQLite's whole database.
    pub async fn serialise(&self, tx: &mut Transaction<'static, Any>, what: Serial) -> Result<(), sqlx::Error> {
        serialise_in(tx, what).await
    }

    /// Locks the account's row until the transaction ends (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's
    /// `begin_write` holds the database already), so what is decided about the account (its devices, its
    /// deletion, a team it joins) is not decided twice at once. Answers whether the account exists and is not
    /// deleted. Take it before any team's lock: one order everywhere, so instances never wait in a cycle.
    pub async fn lock_user(&self, tx: &mut Transaction<'static, Any>, user: &str) -> Result<bool, sqlx::Error> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL",
            Backend::Postgres => "SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        };
        let found: Option<i32> = sqlx::query_scalar(sql).bind(user).fetch_optional(&mut **tx).await?;
        Ok(found.is_some())
    }

    /// Serialises, across every relay instance, the write transactions of one team that lock it (the next
    /// chat `seq` is chosen under it, so seqs stay gapless): `SELECT ... FOR UPDATE` of the team's row on
    /// PostgreSQL, held until the transaction ends. On SQLite, `begin_write` holds the whole database already.
    /// Answers whether the team exists.
    pub async fn lock_team(&self, tx: &mut Transaction<'static, Any>, team: &str) -> Result<bool, sqlx::Error> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT 1 FROM teams WHERE id = $1",
            Backend::Postgres => "SELECT 1 FROM teams WHERE id = $1 FOR UPDATE",
        };
        let found: Option<i32> = sqlx::query_scalar(sql).bind(team).fetch_optional(&mut **tx).await?;
        Ok(found.is_some())
    }
}

/// [`Db::serialise`] for code that holds only the transaction's connection: the backend is the connection's.
pub async fn serialise_in(conn: &mut sqlx::AnyConnection, what: Serial) -> Result<(), sqlx::Error> {
    if conn.backend_name() == "PostgreSQL" {
        // Selected through a subquery: the lock function returns `void`, which the `Any` driver cannot decode.
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS held").bind(what.key()).execute(conn).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_handle_has_the_durable_settings_and_the_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::sqlite(&dir.path().join("relay.db")).await.expect("open");
        assert_eq!(db.backend(), Backend::Sqlite);
        db.migrate().await.expect("migrate");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(db.pool()).await.expect("pragma");
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(db.pool()).await.expect("pragma");
        assert_eq!(sync, 2, "synchronous=FULL");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(db.pool()).await.expect("pragma");
        assert_eq!(fk, 1);
        let mode: i64 = sqlx::query_scalar("PRAGMA secure_delete").fetch_one(db.pool()).await.expect("pragma");
        assert_eq!(mode, 2, "secure_delete=FAST");
        let mut tx = db.begin_write().await.expect("begin");
        assert!(!db.lock_team(&mut tx, "no-such-team").await.expect("lock"), "an unknown team is said so");
        tx.rollback().await.expect("rollback");
    }

    /// `PRAGMA secure_delete`'s answers.
    const ON: i64 = 1;
    const FAST: i64 = 2;

    async fn deletion_mode(conn: &mut sqlx::AnyConnection) -> i64 {
        sqlx::query_scalar("PRAGMA secure_delete").fetch_one(conn).await.expect("pragma")
    }

    #[tokio::test]
    async fn erasing_transactions_run_with_secure_delete_on_and_leave_it_fast() {
        let dir = tempfile::tempdir().expect("tempdir");
        // One connection, so every transaction below runs on the connection the one before left.
        let db = Db::sqlite(&dir.path().join("relay.db")).await.expect("open");
        let one = sqlx::any::AnyPoolOptions::new().max_connections(1);
        let db = Db { pool: one.connect_with(db.pool.connect_options().as_ref().clone()).await.expect("pool"), ..db };
        let mut tx = db.begin_erasing().await.expect("begin");
        assert_eq!(deletion_mode(&mut tx).await, ON);
        tx.commit().await.expect("commit");
        let mut tx = db.begin_write().await.expect("begin");
        assert_eq!(deletion_mode(&mut tx).await, FAST, "the erasing transaction put the usual mode back");
        tx.rollback().await.expect("rollback");
        // One that ends without committing (refused half-way) leaves its mode; the next write puts it back.
        let erasing = db.begin_erasing().await.expect("begin");
        erasing.nothing_erased().await.expect("rollback");
        let mut connection = db.pool.acquire().await.expect("the one connection");
        assert_eq!(deletion_mode(&mut connection).await, FAST, "a pass that erased nothing put it back too");
        drop(connection);
        let mut tx = db.begin_erasing().await.expect("begin");
        assert_eq!(deletion_mode(&mut tx).await, ON);
        drop(tx);
        let mut tx = db.begin_write().await.expect("begin");
        assert_eq!(deletion_mode(&mut tx).await, FAST);
        tx.rollback().await.expect("rollback");
    }
}
