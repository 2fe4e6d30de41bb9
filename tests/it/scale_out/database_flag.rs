//! `--database-url` / `TEAMFLOW_DATABASE_URL`: the relay runs on PostgreSQL, keeps nothing but its
//! libp2p key in the data directory, and never shows the URL's password, whether it serves or fails.

use reqwest::StatusCode;
use teamflow_tests::services::Postgres;
use teamflow_tests::{DataDir, TestDatabase, TestRelay, test_config};

const RELAY: &str = env!("CARGO_BIN_EXE_teamflow-relay-under-test");

/// How many rows `sql` (a `SELECT COUNT(*)`) counts in the database at `url`.
async fn count(url: &str, sql: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let count = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&pool).await.expect("count");
    pool.close().await;
    count
}

#[tokio::test]
async fn a_relay_given_a_database_url_keeps_its_data_and_keys_in_postgres_not_in_the_data_directory() {
    let pg = Postgres::start().await;
    let url = pg.create_database().await;
    let dir = DataDir::on(TestDatabase::Sqlite);
    let mut config = test_config(dir.path());
    config.database_url = Some(url.clone());
    let relay = TestRelay::start_with(dir, config).await;
    let ada = relay.user("ada").await;
    let team = ada.create_team("On PostgreSQL").await;
    let (status, body) = ada
        .post(
            &format!("/api/teams/{team}/messages"),
            &serde_json::json!({ "client_id": "m1", "content": "stored there" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    assert_eq!(count(&url, "SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(count(&url, "SELECT COUNT(*) FROM messages WHERE content = 'stored there'").await, 1);
    assert_eq!(count(&url, "SELECT COUNT(*) FROM relay_keys").await, 1, "the identity key, made by this instance");
    let data_dir = relay.data_dir();
    assert!(!data_dir.join("relay.db").exists(), "no SQLite database beside PostgreSQL");
    assert!(!data_dir.join("relay-signing-key.pem").exists(), "the signing key lives in the database");

    // A second instance on the same database signs with the same key: the first one's token works there.
    let second_dir = DataDir::on(TestDatabase::Sqlite);
    let mut config = test_config(second_dir.path());
    config.database_url = Some(url.clone());
    let second = TestRelay::start_with(second_dir, config).await;
    let on_second = teamflow_tests::Client { base: second.url(""), ..ada.clone() };
    let (status, body) = on_second.get(&format!("/api/teams/{team}/messages")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["messages"][0]["content"], "stored there", "{body}");
    assert_eq!(count(&url, "SELECT COUNT(*) FROM relay_keys").await, 1, "one key for both instances");
}

#[tokio::test]
async fn the_binary_never_shows_the_database_urls_password() {
    // Nothing listens on this port: the relay cannot connect, and says so without the password.
    let port = teamflow_tests::services::free_port();
    let with_password = format!("postgres://teamflow:s3cret-pw@127.0.0.1:{port}/teamflow");
    let dir = DataDir::new();
    let out = tokio::process::Command::new(RELAY)
        .args(["--bind", "127.0.0.1:0", "--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--data-dir"])
        .arg(dir.path())
        .env("TEAMFLOW_DATABASE_URL", &with_password)
        .env_remove("TEAMFLOW_NATS_URL")
        .output()
        .await
        .expect("run the relay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the relay must not serve: {stderr}");
    assert!(stderr.contains("database"), "the error says what failed: {stderr}");
    assert!(!stderr.contains("s3cret-pw"), "the password leaked: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret-pw"));
    assert!(!dir.path().join("relay.db").exists(), "no SQLite database instead");

    // A URL for another database engine is a configuration error, said before anything starts.
    let out = tokio::process::Command::new(RELAY)
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args(["--database-url", "mysql://relay:s3cret-pw@db/teamflow"])
        .output()
        .await
        .expect("run the relay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("--database-url must start with postgres://"), "{stderr}");
    assert!(!stderr.contains("s3cret-pw"), "{stderr}");
}
