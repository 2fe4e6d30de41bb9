//! The test services themselves: a throwaway PostgreSQL cluster and a NATS server with JetStream really run,
//! serve, and are gone (process and files) once dropped.

use std::path::Path;
use std::time::Duration;

use sqlx::Connection as _;
use teamflow_tests::services::{Nats, Postgres};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

/// The user id a process runs as, from `/proc/<pid>/status`.
fn process_uid(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let line = status.lines().find(|l| l.starts_with("Uid:")).expect("Uid line");
    line.split_whitespace().nth(1).and_then(|u| u.parse().ok()).expect("real uid")
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn a_postgres_cluster_serves_separate_databases_unprivileged_and_is_gone_after_drop() {
    let pg = Postgres::start().await;
    let pid = pg.pid().expect("running");
    assert_ne!(process_uid(pid), 0, "PostgreSQL must not run as root");

    let (a, b) = (pg.create_database().await, pg.create_database().await);
    assert_ne!(a, b);
    let mut first = sqlx::PgConnection::connect(&a).await.expect("connect to the first database");
    let version: String = sqlx::query_scalar("SELECT version()").fetch_one(&mut first).await.expect("version");
    assert!(version.starts_with("PostgreSQL"), "{version}");
    sqlx::query("CREATE TABLE t (id BIGINT PRIMARY KEY, note TEXT NOT NULL)")
        .execute(&mut first)
        .await
        .expect("create");
    sqlx::query("INSERT INTO t VALUES ($1, $2)").bind(7_i64).bind("seven").execute(&mut first).await.expect("insert");
    let note: String =
        sqlx::query_scalar("SELECT note FROM t WHERE id = $1").bind(7_i64).fetch_one(&mut first).await.expect("select");
    assert_eq!(note, "seven");
    // Databases of one cluster do not see each other's tables.
    let mut second = sqlx::PgConnection::connect(&b).await.expect("connect to the second database");
    let missing = sqlx::query("SELECT note FROM t").execute(&mut second).await.expect_err("no such table here");
    assert!(missing.to_string().contains("does not exist"), "{missing}");

    // Stopping ends open sessions rather than waiting for them.
    let dir = pg.dir().to_owned();
    drop(pg);
    assert!(!process_exists(pid), "postgres {pid} still runs after drop");
    assert!(!dir.exists(), "{} remains after drop", dir.display());
    assert!(sqlx::query("SELECT 1").execute(&mut first).await.is_err(), "the session outlived the server");
}

/// Reads one protocol line (without its CRLF).
async fn line(reader: &mut (impl tokio::io::AsyncBufRead + Unpin)) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .expect("nats answers")
        .expect("read");
    line.trim_end().to_owned()
}

#[tokio::test]
async fn a_nats_server_has_jetstream_delivers_messages_and_is_gone_after_drop() {
    let nats = Nats::start().await;
    let pid = nats.pid().expect("running");
    assert!(nats.url().starts_with("nats://127.0.0.1:"));

    // NATS's own text protocol, so the check does not depend on the client the relay will use.
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", nats.port())).await.expect("connect");
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    let info = line(&mut read).await;
    let info: serde_json::Value =
        serde_json::from_str(info.strip_prefix("INFO ").expect("the server greets with INFO")).expect("INFO JSON");
    assert_eq!(info["jetstream"], true, "JetStream is on: {info}");

    write.write_all(b"CONNECT {\"verbose\":false}\r\nSUB rooms.t1 1\r\nPING\r\n").await.expect("write");
    assert_eq!(line(&mut read).await, "PONG", "the subscription is in place");
    write
        .write_all(b"PUB rooms.t1 5\r\nhello\r\nPUB rooms.t2 5\r\nother\r\nPUB rooms.t1 3\r\nbye\r\n")
        .await
        .expect("publish");
    assert_eq!(line(&mut read).await, "MSG rooms.t1 1 5");
    assert_eq!(line(&mut read).await, "hello");
    assert_eq!(line(&mut read).await, "MSG rooms.t1 1 3", "a subject not subscribed to is not delivered");
    assert_eq!(line(&mut read).await, "bye");

    let dir = nats.dir().to_owned();
    assert!(dir.join("jetstream").exists(), "JetStream stores in the test's directory");
    drop(nats);
    assert!(!process_exists(pid), "nats-server {pid} still runs after drop");
    assert!(!dir.exists(), "{} remains after drop", dir.display());
}
