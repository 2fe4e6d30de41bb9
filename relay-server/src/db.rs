//! The relay's database: SQLite's connection settings, the embedded migrations for SQLite and PostgreSQL,
//! and time conversions. Which database a relay runs on is [`backend`]'s business.

pub mod backend;
pub mod handle;

pub use handle::{Db, Erasing, Serial, serialise_in};

use std::path::Path;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use time::OffsetDateTime;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The same schema on PostgreSQL (`--database-url`); kept equal to [`MIGRATOR`]'s, which the scale-out tests
/// check column by column on real databases.
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations-postgres");

/// The database's file name in the data directory.
pub const DATABASE_FILE: &str = "relay.db";

/// Opens (creating if needed) the SQLite database with the durability settings every write relies on:
/// WAL with `synchronous=FULL`, so a committed transaction survives power loss. The relay itself runs on
/// [`Db`] (the same settings); this native pool is for SQLite-only tools and tests that inspect a relay's file.
pub async fn connect(path: &Path) -> Result<SqlitePool, sqlx::Error> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .pragma("secure_delete", "FAST")
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(10)).connect_with(options).await
}

/// Whether every embedded migration of the database's backend has been applied successfully.
pub async fn migrations_applied(db: &Db) -> Result<bool, sqlx::Error> {
    // `WHERE success`: a BOOLEAN on PostgreSQL, 0/1 on SQLite; both read it as a condition.
    let applied: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success").fetch_one(db.pool()).await?;
    let expected = match db.backend() {
        backend::Backend::Sqlite => MIGRATOR.iter().count(),
        backend::Backend::Postgres => POSTGRES_MIGRATOR.iter().count(),
    };
    Ok(usize::try_from(applied).is_ok_and(|n| n >= expected))
}

/// Starts a transaction that reads and then writes ([`Db::begin_write`]).
pub async fn begin_write(db: &Db) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
    db.begin_write().await
}

/// Whether an error is the database refusing a duplicate in a UNIQUE or PRIMARY KEY column.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Newest-first keyset paging by a `seq` column: page sizes are clamped to 1..=100 (default 50), and a query
/// fetches one row more than it returns ([`Page::fetch`]) to learn whether an older page exists.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
}

impl Page {
    pub fn new(limit: Option<i64>) -> Self {
        Self { limit: limit.unwrap_or(50).clamp(1, 100) }
    }

    /// How many rows the query should ask for.
    pub fn fetch(self) -> i64 {
        self.limit + 1
    }

    /// Keeps the page's rows and answers the `before` cursor of the next (older) page, if any.
    pub fn split<T>(self, mut rows: Vec<T>, seq: impl Fn(&T) -> i64) -> (Vec<T>, Option<i64>) {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_before = if more { rows.last().map(seq) } else { None };
        (rows, next_before)
    }
}

/// Timestamps are stored as Unix milliseconds: compact, and range queries stay simple.
pub fn now_ms() -> i64 {
    to_ms(OffsetDateTime::now_utc())
}

pub fn to_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_clamp_and_find_the_next_cursor() {
        assert_eq!(Page::new(None).limit, 50);
        assert_eq!(Page::new(Some(0)).limit, 1);
        assert_eq!(Page::new(Some(1_000)).limit, 100);
        let page = Page::new(Some(2));
        assert_eq!(page.fetch(), 3);
        assert_eq!(page.split(vec![9, 8, 7], |s| *s), (vec![9, 8], Some(8)));
        assert_eq!(page.split(vec![9, 8], |s| *s), (vec![9, 8], None));
    }

    #[test]
    fn milliseconds_round_trip() {
        let now = now_ms();
        assert_eq!(to_ms(from_ms(now)), now);
    }

    #[tokio::test]
    async fn a_fresh_database_is_migrated_with_durable_settings() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.db");
        let handle = Db::sqlite(&path).await.expect("open");
        assert!(!migrations_applied(&handle).await.unwrap_or(false));
        handle.migrate().await.expect("migrate");
        assert!(migrations_applied(&handle).await.expect("query"));
        handle.close().await;
        let db = connect(&path).await.expect("connect");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&db).await.expect("pragma");
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&db).await.expect("pragma");
        assert_eq!(sync, 2, "synchronous=FULL");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys").fetch_one(&db).await.expect("pragma");
        assert_eq!(fk, 1);
    }
}
