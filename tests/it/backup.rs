//! `teamflow-relay backup` and `restore`: a backup taken while writes are acknowledged at full speed holds
//! every one acknowledged before it began, restores into a directory a relay starts on, and every refusal
//! says why.

use std::collections::HashSet;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{ConnectOptions as _, Connection as _};
use teamflow_relay::backup::{self, BackupError};
use teamflow_sync::read_text;
use teamflow_tests::socket::PATIENCE;
use teamflow_tests::{Client, DataDir, TestRelay, TwoMemberTeam, sync_client, test_config, text_when, within};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The relay's own `main`, built into this package so the test runs the real binary.
const RELAY: &str = env!("CARGO_BIN_EXE_teamflow-relay-under-test");

/// Posts chat messages as fast as the relay acknowledges them until `stop`, recording each acknowledged id
/// (in order) and counting them on `acked`.
fn spawn_writer(
    client: Client,
    team: String,
    name: &'static str,
    ids: Arc<Mutex<Vec<String>>>,
    acked: watch::Sender<usize>,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let path = format!("/api/teams/{team}/messages");
        let mut n = 0;
        while !stop.is_cancelled() {
            n += 1;
            let (status, body) = client
                .post(&path, &json!({ "client_id": format!("{name}-{n}"), "content": format!("{name} {n}") }))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            let id = body["id"].as_str().expect("message id").to_owned();
            ids.lock().expect("ids").push(id);
            acked.send_modify(|count| *count += 1);
        }
    })
}

/// Every message of the team, oldest first, paging back from the newest.
async fn all_messages(client: &Client, team: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let query = before.map_or_else(String::new, |b| format!("&before={b}"));
        let (status, page) = client.get(&format!("/api/teams/{team}/messages?limit=100{query}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        messages.extend(page["messages"].as_array().expect("messages").iter().cloned());
        match page["next_before"].as_i64() {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    messages.reverse();
    messages
}

async fn integrity_check(db: &Path) -> Vec<String> {
    let pool = teamflow_relay::db::connect(db).await.expect("open the restored database");
    let answer = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&pool).await.expect("integrity_check");
    pool.close().await;
    answer
}

#[tokio::test]
async fn a_backup_taken_under_steady_writes_restores_every_write_acknowledged_before_it_began() {
    let t = TwoMemberTeam::on(TestRelay::start_sqlite().await).await;
    let (status, project) = t.alice.post(&format!("/api/teams/{}/projects", t.id), &json!({ "name": "Launch" })).await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    // A document with content: its registry row and its Automerge changes, both in the database.
    let mut sync = sync_client(&t.relay, &t.alice, "laptop").await;
    let (url, handle) = sync.create_text("kept across a restore").await.expect("create");
    let (status, body) =
        t.alice.post(&format!("/api/teams/{}/documents", t.id), &json!({ "document_id": url, "title": "Notes" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    sync.reconnect().await.expect("reconnect");
    assert!(
        within("the relay to acknowledge the document", sync.synced_with_relay(&handle)).await,
        "the relay has the document"
    );
    sync.stop().await;

    let ids = Arc::new(Mutex::new(Vec::new()));
    let (acked, mut progress) = watch::channel(0_usize);
    let stop = CancellationToken::new();
    let writers: Vec<_> = [("alice-a", &t.alice), ("alice-b", &t.alice), ("bob-a", &t.bob), ("bob-b", &t.bob)]
        .into_iter()
        .map(|(name, client)| {
            spawn_writer(client.clone(), t.id.clone(), name, ids.clone(), acked.clone(), stop.clone())
        })
        .collect();
    tokio::time::timeout(PATIENCE, progress.wait_for(|n| *n >= 200)).await.expect("writes flow").expect("writers");

    let acknowledged_before: Vec<String> = ids.lock().expect("ids").clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("relay.backup");
    let report = backup::backup(t.relay.data_dir(), &file).await.expect("backup while writes flow");
    // The relay kept acknowledging writes after the backup, so it ran beside them, not instead of them.
    let after = *progress.borrow();
    tokio::time::timeout(PATIENCE, progress.wait_for(|n| *n >= after + 50))
        .await
        .expect("writes go on")
        .expect("writers");
    stop.cancel();
    for writer in writers {
        writer.await.expect("writer");
    }
    let all_acknowledged: HashSet<String> = ids.lock().expect("ids").iter().cloned().collect();

    assert_eq!(report.file, file);
    assert_eq!(report.bytes, std::fs::metadata(&file).expect("backup file").len());
    assert_eq!(report.kept_files, ["relay-p2p-key.pem", "relay-signing-key.pem"], "every file the relay keeps");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the backup holds the keys: {mode:o}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(leftovers, ["relay.backup"], "no temporary file is left beside the backup");

    let restored = DataDir::sqlite();
    let done = backup::restore(&file, restored.path()).await.expect("restore");
    assert_eq!(done.schema_version, report.schema_version);
    assert_eq!(integrity_check(&restored.path().join("relay.db")).await, ["ok"]);
    #[cfg(unix)]
    for file in ["relay.db", "relay-signing-key.pem", "relay-p2p-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(restored.path().join(file)).expect("stat").permissions().mode();
        assert_eq!(mode & 0o077, 0, "{file} is private: {mode:o}");
    }
    for key in ["relay-signing-key.pem", "relay-p2p-key.pem"] {
        assert_eq!(
            std::fs::read(restored.path().join(key)).expect("restored key"),
            std::fs::read(t.relay.data_dir().join(key)).expect("original key"),
            "{key} restored byte for byte"
        );
    }

    let config = test_config(restored.path());
    let relay = TestRelay::start_with(restored, config).await;
    // The signing key came back, so tokens issued by the original relay still verify.
    let alice = Client { base: relay.url(""), ..t.alice.clone() };
    let bob = Client { base: relay.url(""), ..t.bob.clone() };
    assert_eq!(alice.get("/api/me").await.1, t.alice.get("/api/me").await.1);
    assert_eq!(bob.get("/api/teams").await.1, t.bob.get("/api/teams").await.1);
    assert_eq!(alice.get(&format!("/api/teams/{}/members", t.id)).await.1.as_array().map(Vec::len), Some(2));
    assert_eq!(alice.get(&format!("/api/teams/{}/projects", t.id)).await.1[0]["id"], project["id"]);
    assert_eq!(alice.get(&format!("/api/teams/{}/documents", t.id)).await.1[0]["document_id"], json!(url));
    let (status, _) = relay
        .client()
        .post("/api/auth/login", &json!({ "email": "bob@example.test", "password": "correct horse battery" }))
        .await;
    assert_eq!(status, StatusCode::OK, "accounts and their passwords came back");

    let messages = all_messages(&alice, &t.id).await;
    let restored_ids: HashSet<String> = messages.iter().map(|m| m["id"].as_str().expect("id").to_owned()).collect();
    let missing: Vec<_> = acknowledged_before.iter().filter(|id| !restored_ids.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes lost: {missing:?}",
        missing.len(),
        acknowledged_before.len()
    );
    assert!(restored_ids.is_subset(&all_acknowledged), "the backup holds nothing that was not acknowledged");
    let seqs: Vec<i64> = messages.iter().map(|m| m["seq"].as_i64().expect("seq")).collect();
    let gapless: Vec<i64> = (1..=i64::try_from(seqs.len()).expect("count")).collect();
    assert_eq!(seqs, gapless, "a consistent snapshot: the team's sequence numbers have no gap");

    let reader = sync_client(&relay, &bob, "desktop").await;
    let doc = reader.open(&url).await.expect("open").expect("the restored relay has the document");
    assert_eq!(text_when(&doc, |t| t == "kept across a restore").await, read_text(&doc));
    relay.stop().await;
}

fn relay_binary(args: &[&str]) -> Output {
    std::process::Command::new(RELAY).args(args).output().expect("run teamflow-relay")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn the_binary_says_what_it_wrote_and_fails_loudly() {
    let relay = TestRelay::start_sqlite().await;
    relay.user("alice").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("nightly.backup");
    let data = relay.data_dir().to_str().expect("utf-8").to_owned();
    let to = file.to_str().expect("utf-8").to_owned();

    let out = relay_binary(&["backup", "--data-dir", &data, "--to", &to]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let size = std::fs::metadata(&file).expect("backup file").len();
    assert_eq!(
        text(&out.stdout),
        format!(
            "wrote {to} ({size} bytes): the database at schema version {} and relay-p2p-key.pem, relay-signing-key.pem\n",
            teamflow_relay::db::MIGRATOR.iter().map(|m| m.version).max().expect("migrations")
        )
    );

    let target = dir.path().join("restored");
    let target_arg = target.to_str().expect("utf-8").to_owned();
    let out = relay_binary(&["restore", "--from", &to, "--data-dir", &target_arg]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with(&format!("restored into {target_arg}: relay.db (")), "{}", text(&out.stdout));

    let out = relay_binary(&["restore", "--from", &to, "--data-dir", &target_arg]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!("teamflow-relay: {target_arg} is not empty: restore only into a new or empty directory\n")
    );

    let missing = dir.path().join("no-such-dir");
    let missing_arg = missing.to_str().expect("utf-8").to_owned();
    let out = relay_binary(&["backup", "--data-dir", &missing_arg, "--to", &to]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), format!("teamflow-relay: the data directory {missing_arg} does not exist\n"));
    assert!(!missing.exists(), "a backup never creates the directory it was asked to copy");
    assert_eq!(
        std::fs::metadata(&file).expect("earlier backup").len(),
        size,
        "a failed backup leaves the last one alone"
    );
}

/// A fresh, valid backup of a relay with one account, for the refusals below.
async fn a_backup(dir: &Path) -> std::path::PathBuf {
    let relay = TestRelay::start_sqlite().await;
    relay.user("alice").await;
    let file = dir.join("relay.backup");
    backup::backup(relay.data_dir(), &file).await.expect("backup");
    relay.stop().await;
    file
}

#[tokio::test]
async fn restore_refuses_damaged_foreign_and_newer_files_and_leaves_the_target_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = a_backup(dir.path()).await;
    let target = dir.path().join("target");

    // Every page after the first overwritten: the schema still reads, the tables do not.
    let damaged = dir.path().join("damaged.backup");
    let mut bytes = std::fs::read(&good).expect("read");
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = u8::try_from(i % 251).expect("byte");
    }
    std::fs::write(&damaged, &bytes).expect("write");
    let refused = backup::restore(&damaged, &target).await.expect_err("a damaged file is refused");
    assert!(matches!(refused, BackupError::Corrupt { .. }), "{refused}");
    assert!(refused.to_string().starts_with(&format!("{} is damaged", damaged.display())), "{refused}");
    assert!(!target.exists(), "nothing is laid out from a refused file");

    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "not a database at all, just words long enough to fill a header").expect("write");
    let refused = backup::restore(&text_file, &target).await.expect_err("not SQLite");
    assert_eq!(
        refused.to_string(),
        format!("{} is not a TeamFlow relay backup: it is not a SQLite database", text_file.display())
    );

    // A relay's live database is not a backup (it lacks the keys).
    let relay = TestRelay::start_sqlite().await;
    let live = relay.data_dir().join("relay.db");
    let refused = backup::restore(&live, &target).await.expect_err("a plain database");
    assert!(matches!(refused, BackupError::NotABackup { .. }), "{refused}");
    let data_dir = relay.stop().await;

    // A backup from a newer relay, whose schema this binary does not know.
    let newer = dir.path().join("newer.backup");
    std::fs::copy(&good, &newer).expect("copy");
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new().filename(&newer).connect().await.expect("open");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .expect("a future migration");
    conn.close().await.expect("close");
    let refused = backup::restore(&newer, &target).await.expect_err("a newer schema");
    assert!(matches!(refused, BackupError::NewerSchema { found: 9999, .. }), "{refused}");

    // An occupied directory, even for a good file: a restore never mixes with what is there.
    let refused = backup::restore(&good, data_dir.path()).await.expect_err("non-empty target");
    assert!(matches!(refused, BackupError::TargetNotEmpty(_)), "{refused}");
    assert!(!target.exists());

    // And a backup refuses to write inside the directory it copies.
    let refused = backup::backup(data_dir.path(), &data_dir.path().join("b.backup")).await.expect_err("inside");
    assert!(matches!(refused, BackupError::InsideDataDir { .. }), "{refused}");
}

#[tokio::test]
async fn a_data_directory_without_the_sqlite_database_is_refused_pointing_at_pg_dump() {
    // A relay on PostgreSQL keeps only its keys in the data directory: its data is not this command's.
    let data = tempfile::tempdir().expect("data dir");
    teamflow_relay::auth::SigningKeys::load_or_create(data.path()).expect("signing key");
    let out = tempfile::tempdir().expect("backup dir");
    let to = out.path().join("relay.backup");
    let error = backup::backup(data.path(), &to).await.expect_err("no relay.db to copy");
    assert!(matches!(&error, BackupError::NoSqliteDatabase { dir } if dir == data.path()), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("SQLite") && message.contains("pg_dump"), "{message}");
    assert!(!to.exists(), "nothing was written");
    assert!(!data.path().join("relay.db").exists(), "no database was made in the data directory");
}
