//! A throwaway PostgreSQL cluster: `initdb` on a temporary directory and `postgres` on a free loopback port,
//! from Debian's `postgresql` package (`./x setup`), stopped and removed on drop. PostgreSQL refuses to run as
//! root, so under root (CI) both run as the package's unprivileged `postgres` user.

use std::path::{Path, PathBuf};

use tokio::process::{Child, Command};

use super::free_port;
use super::process::{self, Log, StartError};

/// The superuser `initdb` makes; tests connect as it (trust authentication, loopback only).
pub const SUPERUSER: &str = "teamflow";

/// How many ports a start tries: another process can take a free port between its choice and the bind.
const PORT_ATTEMPTS: usize = 5;

/// A running cluster. Dropping it stops the server (a fast shutdown) and then removes its files.
#[derive(Debug)]
pub struct Postgres {
    child: Option<Child>,
    port: u16,
    log: Log,
    /// Removed after the server has stopped (`Drop` stops it before the fields drop).
    dir: tempfile::TempDir,
}

/// Where PostgreSQL's server programs are: `pg_config --bindir`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else `PATH`. Debian keeps them off `PATH`.
fn bindir() -> PathBuf {
    let from_pg_config = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|dir| dir.join("initdb").is_file()) {
        return dir;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return dir;
    }
    let on_path = super::require("initdb", "postgresql");
    on_path.parent().expect("a program has a directory").to_owned()
}

/// The user and group the server runs as: this process's own, unless it is root, then `postgres`.
fn server_identity() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("postgres").ok().flatten().unwrap_or_else(|| {
        panic!("running as root needs the `postgres` user: run `./x setup` (Debian package `postgresql`)")
    });
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

fn as_server(command: &mut Command, identity: Option<(u32, u32)>, dir: &Path) {
    if let Some((uid, gid)) = identity {
        // Set in the child before exec (no `su` in between), so the process the test holds is the server
        // itself and stopping it stops the server.
        command.uid(uid).gid(gid);
    }
    // The server's own messages in English whatever the machine's locale, and no home directory needed.
    command.current_dir(dir).env("LC_ALL", "C").env("HOME", dir);
}

impl Postgres {
    /// Creates a cluster in a fresh temporary directory and starts it on a free loopback port; answers once
    /// the server says it accepts connections. Commits are not flushed to disk: tests run faster.
    pub async fn start() -> Postgres {
        Postgres::start_with(false).await
    }

    /// `start`, with commits flushed to disk as in production (`fsync`, `synchronous_commit`): what a
    /// benchmark compares with the relay's SQLite (`synchronous=FULL`).
    pub async fn start_durable() -> Postgres {
        Postgres::start_with(true).await
    }

    async fn start_with(durable: bool) -> Postgres {
        let bin = bindir();
        let identity = server_identity();
        let dir = tempfile::Builder::new().prefix("teamflow-pg").tempdir().expect("temporary directory");
        if let Some((uid, gid)) = identity {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("hand the directory to postgres");
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.arg("-D").arg(&data).args(["-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync"]);
        as_server(&mut initdb, identity, dir.path());
        let out = initdb.output().await.expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let mut server = Command::new(bin.join("postgres"));
            server
                .arg("-D")
                .arg(&data)
                .arg("-p")
                .arg(port.to_string())
                // The Unix socket goes in the test's directory, not /var/run/postgresql.
                .arg("-k")
                .arg(dir.path())
                .args(["-c", "listen_addresses=127.0.0.1"])
                .args(["-c", "max_connections=200"]);
            if !durable {
                // A throwaway cluster: nothing needs to survive a machine crash, and tests run faster.
                server.args(["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off"]);
            }
            as_server(&mut server, identity, dir.path());
            match process::start(&mut server, "postgres", "ready to accept connections").await {
                Ok((child, log)) => return Postgres { child: Some(child), port, log, dir },
                Err(StartError::Exited(log)) if log.contains("could not bind") || log.contains("in use") => {
                    last_log = log;
                }
                Err(e) => panic!("postgres did not start: {}", e.log()),
            }
        }
        panic!("postgres found no free port in {PORT_ATTEMPTS} attempts: {last_log}")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// The cluster's directory (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.text()
    }

    /// The URL of `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a new, empty database and answers its URL: tests sharing a cluster each get their own.
    pub async fn create_database(&self) -> String {
        use sqlx::Connection as _;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap_or_else(|e| panic!("connect to postgres on port {}: {e}\n{}", self.port, self.log()));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create database");
        admin.close().await.ok();
        self.url(&name)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT is PostgreSQL's fast shutdown: sessions are ended, the shared memory released.
            process::stop(&mut child, nix::sys::signal::Signal::SIGINT);
        }
    }
}
