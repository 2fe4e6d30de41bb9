//! Online backups of a relay's data directory, and restores from them (`teamflow-relay backup` / `restore`).
//!
//! A backup is one SQLite file: a consistent copy of the relay's database made with `VACUUM INTO` on a
//! connection of its own (one read transaction, so under WAL the relay keeps committing while it runs),
//! plus two tables added to the copy only: `teamflow_backup` (format, when, by which version) and
//! `teamflow_backup_files` (every other file the relay keeps in its data directory: its signing key, its
//! libp2p key, and whatever else lives there, by relative path). `sqlite3 FILE` opens it as it is.
//!
//! Restore checks the file (`PRAGMA integrity_check`, a schema this binary knows), writes the kept files
//! back, and lays the database out as `relay.db` without the two backup tables. A relay started on that
//! directory migrates it forward if the backup came from an older version.
//!
//! Both work on the embedded SQLite database only. A relay on PostgreSQL (`--database-url`) keeps its data
//! there, and PostgreSQL's own tools (`pg_dump`, `pg_restore`, continuous archiving) back it up; `backup`
//! says so when the data directory holds a signing key but no SQLite database.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions as _, Connection as _, SqliteConnection};

use crate::db::{self, DATABASE_FILE};

/// The backup layout written by this version; restore refuses any other.
const FORMAT: i64 = 1;

/// The relay's Ed25519 signing key: a data directory without it is not one the relay has run on, and a
/// backup without it would sign everyone out.
const SIGNING_KEY_FILE: &str = "relay-signing-key.pem";

/// The `teamflow-relay` subcommands beside serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Copy the database and keys into one file, safely while the relay serves (run it from a timer).
    Backup {
        /// The relay's data directory.
        #[arg(long, env = "TEAMFLOW_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        /// The backup file to write (replaced atomically if it exists; readable only by you).
        #[arg(long)]
        to: PathBuf,
    },
    /// Lay out a new data directory from a backup file; start the relay on it afterwards.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The directory to create (or an empty one); a non-empty directory is refused.
        #[arg(long)]
        data_dir: PathBuf,
    },
}

impl Command {
    /// Runs the subcommand, writing what it did to `out`.
    pub async fn run(self, out: &mut impl Write) -> Result<(), BackupError> {
        let line = match self {
            Command::Backup { data_dir, to } => backup(&data_dir, &to).await?.to_string(),
            Command::Restore { from, data_dir } => restore(&from, &data_dir).await?.to_string(),
        };
        writeln!(out, "{line}").map_err(|source| BackupError::Io { path: "stdout".into(), source })
    }
}

/// Why a backup or restore failed. Every variant names the file or directory concerned.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the data directory {0} does not exist")]
    NoDataDir(PathBuf),
    #[error("{dir} is not a relay's data directory: it has no {missing}")]
    NotADataDir { dir: PathBuf, missing: &'static str },
    /// A data directory without the embedded database: the relay runs on PostgreSQL, or never started.
    #[error(
        "{dir} has no relay.db: backup copies a relay's embedded SQLite database only; a relay on \
         PostgreSQL (--database-url) is backed up with PostgreSQL's tools (pg_dump)"
    )]
    NoSqliteDatabase { dir: PathBuf },
    #[error("{path} is not a regular file or directory; a relay's data directory holds only those")]
    UnsupportedFile { path: PathBuf },
    #[error("the backup file {to} would be inside the data directory {dir} it copies; write it somewhere else")]
    InsideDataDir { to: PathBuf, dir: PathBuf },
    #[error("{0} is not valid UTF-8; use a UTF-8 path")]
    NonUtf8Path(PathBuf),
    #[error("database {path}: {source}")]
    Database { path: PathBuf, source: sqlx::Error },
    #[error("{path} is not a TeamFlow relay backup: {reason}")]
    NotABackup { path: PathBuf, reason: String },
    #[error("{path} is damaged (PRAGMA integrity_check): {problems}")]
    Corrupt { path: PathBuf, problems: String },
    #[error(
        "{path} holds schema version {found}, newer than this teamflow-relay knows (up to {known}); \
         restore it with the version that made it or a newer one"
    )]
    NewerSchema { path: PathBuf, found: i64, known: i64 },
    #[error("{path} has migration {version} applied, which this teamflow-relay does not know or knows differently")]
    UnknownMigration { path: PathBuf, version: i64 },
    #[error("{0} is not empty: restore only into a new or empty directory")]
    TargetNotEmpty(PathBuf),
}

/// What `backup` wrote.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub file: PathBuf,
    /// Size of the backup file.
    pub bytes: u64,
    /// The newest migration applied to the copied database.
    pub schema_version: i64,
    /// The other files copied, by path relative to the data directory.
    pub kept_files: Vec<String>,
}

impl fmt::Display for BackupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {} ({} bytes): the database at schema version {} and {}",
            self.file.display(),
            self.bytes,
            self.schema_version,
            self.kept_files.join(", ")
        )
    }
}

/// What `restore` laid out.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub data_dir: PathBuf,
    /// Size of the restored `relay.db`.
    pub database_bytes: u64,
    pub schema_version: i64,
    pub kept_files: Vec<String>,
}

impl fmt::Display for RestoreReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "restored into {}: {} ({} bytes, schema version {}) and {}; start the relay with --data-dir {}",
            self.data_dir.display(),
            DATABASE_FILE,
            self.database_bytes,
            self.schema_version,
            self.kept_files.join(", "),
            self.data_dir.display()
        )
    }
}

/// A file from the data directory, other than the database.
struct KeptFile {
    /// Relative to the data directory, `/`-separated.
    path: String,
    contents: Vec<u8>,
}

/// Copies the database of the relay in `data_dir` (running or not) and its other files into the one file
/// `to`, written under a temporary name and renamed into place, readable only by this user.
pub async fn backup(data_dir: &Path, to: &Path) -> Result<BackupReport, BackupError> {
    if !data_dir.is_dir() {
        return Err(BackupError::NoDataDir(data_dir.to_owned()));
    }
    let database = data_dir.join(DATABASE_FILE);
    if !data_dir.join(SIGNING_KEY_FILE).is_file() {
        return Err(BackupError::NotADataDir { dir: data_dir.to_owned(), missing: SIGNING_KEY_FILE });
    }
    if !database.is_file() {
        return Err(BackupError::NoSqliteDatabase { dir: data_dir.to_owned() });
    }
    let name = to.file_name().ok_or_else(|| BackupError::Io {
        path: to.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
    })?;
    let parent = match to.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    // A backup kept in the data directory would be copied into the next one, and so on.
    let canonical = |p: &Path| fs::canonicalize(p).map_err(|source| BackupError::Io { path: p.to_owned(), source });
    if canonical(&parent)?.starts_with(canonical(data_dir)?) {
        return Err(BackupError::InsideDataDir { to: to.to_owned(), dir: data_dir.to_owned() });
    }

    let partial = parent.join(format!(".{}.partial", name.to_string_lossy()));
    match fs::remove_file(&partial) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(BackupError::Io { path: partial, source }),
    }
    create_private(&partial)?;
    let written = write_backup(data_dir, &database, &partial).await;
    let (schema_version, kept_files) = match written {
        Ok(done) => done,
        Err(e) => {
            if let Err(cleanup) = fs::remove_file(&partial) {
                tracing::warn!(path = %partial.display(), error = %cleanup, "could not remove a partial backup");
            }
            return Err(e);
        }
    };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(io(&partial))?;
    fs::rename(&partial, to).map_err(io(to))?;
    sync_dir(&parent)?;
    let bytes = fs::metadata(to).map_err(io(to))?.len();
    Ok(BackupReport { file: to.to_owned(), bytes, schema_version, kept_files })
}

async fn write_backup(data_dir: &Path, database: &Path, partial: &Path) -> Result<(i64, Vec<String>), BackupError> {
    let target = utf8(partial)?;
    let db_error = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Database { path, source }
    };
    // Not the relay's own settings: this connection must not create a database, nor change the journal mode.
    let mut source = SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .map_err(db_error(database))?;
    sqlx::query("VACUUM INTO ?").bind(target).execute(&mut source).await.map_err(db_error(database))?;
    source.close().await.map_err(db_error(database))?;

    let mut copy = open_copy(partial).await?;
    check_integrity(&mut copy, partial).await?;
    let schema_version = check_schema(&mut copy, partial).await?;
    let kept = kept_files(data_dir)?;
    let mut tx = copy.begin().await.map_err(db_error(partial))?;
    sqlx::query(
        "CREATE TABLE teamflow_backup (format INTEGER NOT NULL, created_ms INTEGER NOT NULL, relay_version TEXT NOT NULL) STRICT",
    )
    .execute(&mut *tx)
    .await
    .map_err(db_error(partial))?;
    sqlx::query("INSERT INTO teamflow_backup (format, created_ms, relay_version) VALUES (?, ?, ?)")
        .bind(FORMAT)
        .bind(db::now_ms())
        .bind(env!("CARGO_PKG_VERSION"))
        .execute(&mut *tx)
        .await
        .map_err(db_error(partial))?;
    sqlx::query("CREATE TABLE teamflow_backup_files (path TEXT PRIMARY KEY, contents BLOB NOT NULL) STRICT")
        .execute(&mut *tx)
        .await
        .map_err(db_error(partial))?;
    for file in &kept {
        sqlx::query("INSERT INTO teamflow_backup_files (path, contents) VALUES (?, ?)")
            .bind(&file.path)
            .bind(&file.contents)
            .execute(&mut *tx)
            .await
            .map_err(db_error(partial))?;
    }
    tx.commit().await.map_err(db_error(partial))?;
    copy.close().await.map_err(db_error(partial))?;
    Ok((schema_version, kept.into_iter().map(|f| f.path).collect()))
}

/// Lays out `data_dir` (new, or empty) from the backup file `from`, after checking it. On failure the
/// directory is left as it was found.
pub async fn restore(from: &Path, data_dir: &Path) -> Result<RestoreReport, BackupError> {
    let created = match fs::read_dir(data_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(BackupError::TargetNotEmpty(data_dir.to_owned()));
            }
            false
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(source) => return Err(BackupError::Io { path: data_dir.to_owned(), source }),
    };
    if !from.is_file() {
        return Err(BackupError::Io {
            path: from.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such backup file"),
        });
    }
    let (schema_version, files) = read_backup(from).await?;
    if created {
        create_private_dir(data_dir)?;
    }
    match lay_out(from, data_dir, &files).await {
        Ok(database_bytes) => Ok(RestoreReport {
            data_dir: data_dir.to_owned(),
            database_bytes,
            schema_version,
            kept_files: files.into_iter().map(|f| f.path).collect(),
        }),
        Err(e) => {
            if let Err(cleanup) = empty_again(data_dir, created) {
                tracing::warn!(dir = %data_dir.display(), error = %cleanup, "could not undo a failed restore");
            }
            Err(e)
        }
    }
}

/// Checks the backup file and reads its kept files, without changing it.
async fn read_backup(from: &Path) -> Result<(i64, Vec<KeptFile>), BackupError> {
    let db_error = |source| BackupError::Database { path: from.to_owned(), source };
    let mut conn = SqliteConnectOptions::new()
        .filename(from)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| not_a_backup_or(from, e))?;
    check_integrity(&mut conn, from).await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('teamflow_backup', 'teamflow_backup_files')",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| not_a_backup_or(from, e))?;
    if tables.len() != 2 {
        return Err(BackupError::NotABackup {
            path: from.to_owned(),
            reason: "it has no teamflow_backup tables (a relay's own relay.db is not a backup: make one with \
                     `teamflow-relay backup`)"
                .into(),
        });
    }
    let format: i64 =
        sqlx::query_scalar("SELECT format FROM teamflow_backup").fetch_one(&mut conn).await.map_err(db_error)?;
    if format != FORMAT {
        return Err(BackupError::NotABackup {
            path: from.to_owned(),
            reason: format!("its format is {format}, this teamflow-relay reads format {FORMAT}"),
        });
    }
    let schema_version = check_schema(&mut conn, from).await?;
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT path, contents FROM teamflow_backup_files ORDER BY path")
        .fetch_all(&mut conn)
        .await
        .map_err(db_error)?;
    conn.close().await.map_err(db_error)?;
    let mut files = Vec::with_capacity(rows.len());
    for (path, contents) in rows {
        let safe = !path.is_empty()
            && !path.contains('\\')
            && Path::new(&path).components().all(|c| matches!(c, Component::Normal(_)))
            && !is_database_file(&path);
        if !safe {
            return Err(BackupError::NotABackup {
                path: from.to_owned(),
                reason: format!("it holds a file at {path:?}"),
            });
        }
        files.push(KeptFile { path, contents });
    }
    if !files.iter().any(|f| f.path == SIGNING_KEY_FILE) {
        return Err(BackupError::NotABackup {
            path: from.to_owned(),
            reason: format!("it holds no {SIGNING_KEY_FILE}"),
        });
    }
    Ok((schema_version, files))
}

/// Writes the kept files, then the database (under a temporary name, renamed last). Answers the
/// database's size.
async fn lay_out(from: &Path, data_dir: &Path, files: &[KeptFile]) -> Result<u64, BackupError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    for file in files {
        let path = data_dir.join(&file.path);
        if let Some(parent) = path.parent()
            && !parent.is_dir()
        {
            create_private_dir(parent)?;
        }
        create_private(&path)?;
        let mut out = fs::OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
        out.write_all(&file.contents).map_err(io(&path))?;
        out.sync_all().map_err(io(&path))?;
    }

    let database = data_dir.join(DATABASE_FILE);
    let staged = data_dir.join(format!("{DATABASE_FILE}.restore.tmp"));
    create_private(&staged)?;
    fs::copy(from, &staged).map_err(io(&staged))?;
    // `fs::copy` carries the source's permission bits over; the database stays private whatever they were.
    #[cfg(unix)]
    fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(io(&staged))?;
    let mut conn = open_copy(&staged).await?;
    let db_error = |source| BackupError::Database { path: staged.clone(), source };
    sqlx::query("DROP TABLE teamflow_backup_files").execute(&mut conn).await.map_err(db_error)?;
    sqlx::query("DROP TABLE teamflow_backup").execute(&mut conn).await.map_err(db_error)?;
    // The keys' bytes would otherwise stay in the database's free pages.
    sqlx::query("VACUUM").execute(&mut conn).await.map_err(db_error)?;
    conn.close().await.map_err(db_error)?;
    fs::File::open(&staged).and_then(|f| f.sync_all()).map_err(io(&staged))?;
    fs::rename(&staged, &database).map_err(io(&database))?;
    sync_dir(data_dir)?;
    Ok(fs::metadata(&database).map_err(io(&database))?.len())
}

/// Opens a copy of the database for writing, in rollback-journal mode so it stays one file.
async fn open_copy(path: &Path) -> Result<SqliteConnection, BackupError> {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .journal_mode(SqliteJournalMode::Delete)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await
        .map_err(|source| BackupError::Database { path: path.to_owned(), source })
}

async fn check_integrity(conn: &mut SqliteConnection, path: &Path) -> Result<(), BackupError> {
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| not_a_backup_or(path, e))?;
    if problems != ["ok"] {
        return Err(BackupError::Corrupt { path: path.to_owned(), problems: problems.join("; ") });
    }
    Ok(())
}

/// The schema version (newest applied migration), after checking that every applied migration is one this
/// binary embeds, with the same checksum: the relay refuses to start on anything else.
async fn check_schema(conn: &mut SqliteConnection, path: &Path) -> Result<i64, BackupError> {
    let has_table: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|source| BackupError::Database { path: path.to_owned(), source })?;
    if !has_table {
        return Err(BackupError::NotABackup { path: path.to_owned(), reason: "it has no schema version".into() });
    }
    let applied: Vec<(i64, bool, Vec<u8>)> =
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(|source| BackupError::Database { path: path.to_owned(), source })?;
    let known: Vec<_> = db::MIGRATOR.iter().filter(|m| !m.migration_type.is_down_migration()).collect();
    let newest_known = known.iter().map(|m| m.version).max().unwrap_or(0);
    let newest = applied.iter().map(|(v, _, _)| *v).max().unwrap_or(0);
    if newest > newest_known {
        return Err(BackupError::NewerSchema { path: path.to_owned(), found: newest, known: newest_known });
    }
    for (version, success, checksum) in &applied {
        let matches = known.iter().any(|m| m.version == *version && *m.checksum == **checksum);
        if !success || !matches {
            return Err(BackupError::UnknownMigration { path: path.to_owned(), version: *version });
        }
    }
    if applied.is_empty() {
        return Err(BackupError::NotABackup { path: path.to_owned(), reason: "no migration was ever applied".into() });
    }
    Ok(newest)
}

/// SQLite's "not a database" and "malformed" answers mean the file is not a usable backup; say so plainly.
fn not_a_backup_or(path: &Path, source: sqlx::Error) -> BackupError {
    match &source {
        sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("26")) => {
            BackupError::NotABackup { path: path.to_owned(), reason: "it is not a SQLite database".into() }
        }
        sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("11")) => {
            BackupError::Corrupt { path: path.to_owned(), problems: e.message().to_owned() }
        }
        _ => BackupError::Database { path: path.to_owned(), source },
    }
}

/// Every file in the data directory but the database, its journals and temporary files.
fn kept_files(data_dir: &Path) -> Result<Vec<KeptFile>, BackupError> {
    let mut files = Vec::new();
    collect(data_dir, "", &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn collect(dir: &Path, prefix: &str, files: &mut Vec<KeptFile>) -> Result<(), BackupError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let name = entry.file_name().into_string().map_err(|_| BackupError::NonUtf8Path(path.clone()))?;
        if (prefix.is_empty() && is_database_file(&name)) || name.ends_with(".tmp") || name.ends_with(".partial") {
            continue;
        }
        let relative = format!("{prefix}{name}");
        // Follows symbolic links: a key linked into the directory is kept by its contents.
        let meta = fs::metadata(&path).map_err(io(&path))?;
        if meta.is_dir() {
            collect(&path, &format!("{relative}/"), files)?;
        } else if meta.is_file() {
            files.push(KeptFile { path: relative, contents: fs::read(&path).map_err(io(&path))? });
        } else {
            return Err(BackupError::UnsupportedFile { path });
        }
    }
    Ok(())
}

fn is_database_file(name: &str) -> bool {
    name.strip_prefix(DATABASE_FILE).is_some_and(|rest| ["", "-wal", "-shm", "-journal"].contains(&rest))
}

fn utf8(path: &Path) -> Result<&str, BackupError> {
    path.to_str().ok_or_else(|| BackupError::NonUtf8Path(path.to_owned()))
}

/// Creates an empty file only this user can read, failing if it exists.
fn create_private(path: &Path) -> Result<(), BackupError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop).map_err(|source| BackupError::Io { path: path.to_owned(), source })
}

fn create_private_dir(path: &Path) -> Result<(), BackupError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(|source| BackupError::Io { path: path.to_owned(), source })
}

/// Makes a rename durable: the directory entry itself must reach the disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|source| BackupError::Io { path: dir.to_owned(), source })
}

/// Elsewhere a directory cannot be opened as a file; the rename is as durable as the platform makes it.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), BackupError> {
    Ok(())
}

/// Undoes a failed restore: the directory was empty (or absent) before, so it is again.
fn empty_again(data_dir: &Path, created: bool) -> std::io::Result<()> {
    if created {
        return fs::remove_dir_all(data_dir);
    }
    for entry in fs::read_dir(data_dir)? {
        let path = entry?.path();
        if path.is_dir() { fs::remove_dir_all(&path)? } else { fs::remove_file(&path)? }
    }
    Ok(())
}
