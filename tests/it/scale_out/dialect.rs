//! The few statements that differ between the databases, as `Db` writes them (`utc_day`, `json_integer`,
//! `nocase`): the same answers on SQLite and on PostgreSQL.

use teamflow_relay::db::Db;
use teamflow_tests::services::Postgres;

/// What each fragment answers on `db`.
async fn answers(db: &Db) -> (Vec<String>, Vec<Option<i64>>, Vec<String>) {
    // 2026-12-02T23:59:59.999Z, the millisecond after, and the epoch.
    let mut days = Vec::new();
    for ms in [1_796_255_999_999_i64, 1_796_256_000_000, 0] {
        let day: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {}", db.utc_day("$1"))))
            .bind(ms)
            .fetch_one(db.pool())
            .await
            .expect("utc_day");
        days.push(day);
    }
    let mut numbers = Vec::new();
    for json in [r#"{"webhook_payload_retention_days": 7}"#, r#"{"other": 1}"#] {
        let n: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT {}",
            db.json_integer("$1", "webhook_payload_retention_days")
        )))
        .bind(json)
        .fetch_one(db.pool())
        .await
        .expect("json_integer");
        numbers.push(n);
    }
    let names: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT name FROM (SELECT 'beta' AS name UNION ALL SELECT 'Alpha' UNION ALL SELECT 'gamma'
         UNION ALL SELECT 'Delta') AS v ORDER BY {}",
        db.nocase("name")
    )))
    .fetch_all(db.pool())
    .await
    .expect("nocase");
    (days, numbers, names)
}

#[tokio::test]
async fn the_dialect_fragments_answer_alike_on_sqlite_and_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = Db::sqlite(&dir.path().join("relay.db")).await.expect("open SQLite");
    let pg = Postgres::start().await;
    let postgres = Db::postgres(&pg.create_database().await).await.expect("connect to PostgreSQL");

    let expected = (
        vec!["2026-12-02".to_owned(), "2026-12-03".to_owned(), "1970-01-01".to_owned()],
        vec![Some(7), None],
        vec!["Alpha".to_owned(), "beta".to_owned(), "Delta".to_owned(), "gamma".to_owned()],
    );
    assert_eq!(answers(&sqlite).await, expected, "SQLite");
    assert_eq!(answers(&postgres).await, expected, "PostgreSQL");
}
