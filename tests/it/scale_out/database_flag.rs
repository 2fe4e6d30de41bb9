//! `--database-url` / `TEAMFLOW_DATABASE_URL` while the relay's domains are still moving to PostgreSQL: the
//! relay refuses, names what does not run there yet, and touches neither database.

use teamflow_relay::RelayError;
use teamflow_relay::db::backend::NOT_YET_ON_POSTGRES;
use teamflow_tests::services::Postgres;
use teamflow_tests::{DataDir, test_config};

const RELAY: &str = env!("CARGO_BIN_EXE_teamflow-relay-under-test");

/// The tables in the database at `url`'s public schema.
async fn tables(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
        .fetch_one(&pool)
        .await
        .expect("count tables");
    pool.close().await;
    count
}

#[tokio::test]
async fn a_relay_given_a_database_url_refuses_naming_what_is_missing_and_writes_nothing() {
    let pg = Postgres::start().await;
    let url = pg.create_database().await;
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.database_url = Some(url.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let outcome = teamflow_relay::run(listener, config, std::future::pending()).await;
    match outcome {
        Err(RelayError::PostgresNotReady { missing }) => {
            assert!(!missing.is_empty());
            assert_eq!(missing, NOT_YET_ON_POSTGRES);
        }
        other => panic!("expected a refusal naming what is missing, got {other:?}"),
    }
    assert!(!dir.path().join("relay.db").exists(), "no SQLite database was made beside the refusal");
    assert_eq!(tables(&url).await, 0, "nothing was written to PostgreSQL");
}

#[tokio::test]
async fn the_binary_refuses_teamflow_database_url_without_showing_its_password() {
    let pg = Postgres::start().await;
    let url = pg.create_database().await;
    // Trust authentication ignores the password; it is there to check it is never printed.
    let with_password = url.replacen("teamflow@", "teamflow:s3cret-pw@", 1);
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
    assert!(stderr.contains("cannot run on PostgreSQL yet"), "{stderr}");
    for part in NOT_YET_ON_POSTGRES {
        assert!(stderr.contains(part), "{part:?} missing from: {stderr}");
    }
    assert!(!stderr.contains("s3cret-pw"), "the password leaked: {stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret-pw"));
    assert!(!dir.path().join("relay.db").exists());

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
