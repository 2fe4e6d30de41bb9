//! Both migration sets, on real databases: SQLite's (`relay-server/migrations`) and PostgreSQL's
//! (`relay-server/migrations-postgres`) build the same tables, columns and indexes, and the same portable SQL
//! run through sqlx's `Any` driver behaves the same on both (the interface ARCHITECTURE.md chose).

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyPool, PgPool};
use teamflow_relay::db;
use teamflow_tests::services::Postgres;

/// A column as both databases can describe it: name, type as PostgreSQL spells it, and whether NULL is refused.
type Columns = BTreeMap<String, (String, bool)>;

async fn sqlite_schema(db: &sqlx::SqlitePool) -> (BTreeMap<String, Columns>, BTreeSet<String>) {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(db)
    .await
    .expect("tables");
    let mut schema = BTreeMap::new();
    for table in tables {
        let rows: Vec<(String, String, i64, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info(?)")
                .bind(&table)
                .fetch_all(db)
                .await
                .expect("columns");
        let columns = rows
            .into_iter()
            .map(|(name, ty, not_null, pk)| {
                let ty = match ty.as_str() {
                    "TEXT" => "text",
                    "INTEGER" => "bigint",
                    "BLOB" => "bytea",
                    other => panic!("{table}.{name}: SQLite type {other} has no PostgreSQL counterpart here"),
                };
                // A PostgreSQL primary key refuses NULL; SQLite's (other than INTEGER) does not say so.
                (name, (ty.to_owned(), not_null == 1 || pk > 0))
            })
            .collect();
        schema.insert(table, columns);
    }
    let indexes: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
            .fetch_all(db)
            .await
            .expect("indexes");
    (schema, indexes.into_iter().collect())
}

async fn postgres_schema(db: &PgPool) -> (BTreeMap<String, Columns>, BTreeSet<String>) {
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(db)
    .await
    .expect("columns");
    let mut schema: BTreeMap<String, Columns> = BTreeMap::new();
    for (table, column, ty, nullable) in rows {
        schema.entry(table).or_default().insert(column, (ty, nullable == "NO"));
    }
    let indexes: Vec<String> = sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'")
        .fetch_all(db)
        .await
        .expect("indexes");
    (schema, indexes.into_iter().collect())
}

/// A migrated SQLite database (as the relay opens it) and a migrated PostgreSQL one.
async fn migrated(pg: &Postgres, dir: &tempfile::TempDir) -> (sqlx::SqlitePool, PgPool, String, String) {
    let sqlite_path = dir.path().join("relay.db");
    let sqlite = db::connect(&sqlite_path).await.expect("open SQLite");
    db::MIGRATOR.run(&sqlite).await.expect("SQLite migrations");
    let pg_url = pg.create_database().await;
    let postgres = PgPool::connect(&pg_url).await.expect("connect to PostgreSQL");
    db::POSTGRES_MIGRATOR.run(&postgres).await.expect("PostgreSQL migrations");
    (sqlite, postgres, format!("sqlite://{}", sqlite_path.display()), pg_url)
}

#[tokio::test]
async fn both_migration_sets_build_the_same_tables_columns_and_indexes() {
    let pg = Postgres::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (sqlite, postgres, _, _) = migrated(&pg, &dir).await;

    let (sqlite_tables, sqlite_indexes) = sqlite_schema(&sqlite).await;
    let (pg_tables, pg_indexes) = postgres_schema(&postgres).await;
    assert!(sqlite_tables.contains_key("users") && sqlite_tables.contains_key("sync_chunks"), "{sqlite_tables:?}");
    assert_eq!(
        sqlite_tables.keys().collect::<Vec<_>>(),
        pg_tables.keys().collect::<Vec<_>>(),
        "the same tables on both"
    );
    for (table, columns) in &sqlite_tables {
        assert_eq!(Some(columns), pg_tables.get(table), "table {table}: the same columns, types and NOT NULLs");
    }
    let missing: Vec<_> = sqlite_indexes.difference(&pg_indexes).collect();
    assert!(missing.is_empty(), "SQLite indexes without a PostgreSQL counterpart: {missing:?}");

    // Applying again finds nothing to do, on both.
    db::POSTGRES_MIGRATOR.run(&postgres).await.expect("PostgreSQL migrations again");
    db::MIGRATOR.run(&sqlite).await.expect("SQLite migrations again");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&postgres)
        .await
        .expect("applied");
    assert_eq!(usize::try_from(applied).ok(), Some(db::POSTGRES_MIGRATOR.iter().count()));
}

/// Runs the same statements on `pool` and answers what the schema did with them.
async fn exercise(pool: &AnyPool) -> Vec<String> {
    let mut seen = Vec::new();
    for (i, user) in ["u1", "u2"].into_iter().enumerate() {
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user)
        .bind(format!("{user}@example.test"))
        .bind(user)
        .bind("hash")
        .bind(i64::try_from(i).expect("small"))
        .execute(pool)
        .await
        .expect("insert user");
    }
    sqlx::query(
        "INSERT INTO teams (id, name, settings, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind("t1")
    .bind("Team")
    .bind("{}")
    .bind("u1")
    .bind(1_i64)
    .execute(pool)
    .await
    .expect("insert team");
    let member = "INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)";
    sqlx::query(member).bind("t1").bind("u1").bind("owner").bind(1_i64).execute(pool).await.expect("owner");
    let bad_role = sqlx::query(member).bind("t1").bind("u2").bind("boss").bind(1_i64).execute(pool).await;
    seen.push(format!(
        "role boss refused: {}",
        matches!(bad_role, Err(sqlx::Error::Database(e)) if e.is_check_violation())
    ));
    // Bound in a different order than they appear: numbered placeholders mean the same on both.
    let unknown_user =
        sqlx::query("INSERT INTO team_members (joined_at, role, user_id, team_id) VALUES ($4, $3, $2, $1)")
            .bind("t1")
            .bind("nobody")
            .bind("member")
            .bind(1_i64)
            .execute(pool)
            .await;
    seen.push(format!(
        "unknown user refused: {}",
        matches!(unknown_user, Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation())
    ));

    let message = "INSERT INTO messages (id, team_id, seq, author_id, client_id, kind, content, created_at)
                   VALUES ($1, 't1', $2, 'u1', $1, 'text', 'hi', 1)";
    sqlx::query(message).bind("m1").bind(1_i64).execute(pool).await.expect("first message");
    let same_seq = sqlx::query(message).bind("m2").bind(1_i64).execute(pool).await;
    seen.push(format!("duplicate seq refused: {}", same_seq.as_ref().is_err_and(db::is_unique_violation)));

    // Feeds number themselves: AUTOINCREMENT on SQLite, an identity on PostgreSQL.
    for family in ["f1", "f2"] {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO account_changes (user_id, family_id, reason, created_at) VALUES ('u1', $1, 'sign_out', 1)
             RETURNING seq",
        )
        .bind(family)
        .fetch_one(pool)
        .await
        .expect("feed row");
        seen.push(format!("{family} seq {seq}"));
    }
    // 0/1 flags are integers on both, read as i64 (sqlx's Any reads no bool from an integer column).
    let admin: i64 =
        sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1").bind("u1").fetch_one(pool).await.expect("flag");
    seen.push(format!("is_admin {admin}"));

    // A purged document's chunks are never written again; other documents' are.
    sqlx::query("INSERT INTO document_tombstones (id, deleted_at) VALUES ($1, 1)")
        .bind("automerge:gone")
        .execute(pool)
        .await
        .expect("tombstone");
    let chunk =
        "INSERT INTO sync_chunks (key, data) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET data = excluded.data";
    for key in ["gone/snapshot/1", "kept/snapshot/1", "kept/snapshot/1"] {
        sqlx::query(chunk).bind(key).bind(vec![1_u8, 2, 3]).execute(pool).await.expect("chunk write");
    }
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT key FROM sync_chunks ORDER BY key").fetch_all(pool).await.expect("chunks");
    seen.push(format!("chunks {keys:?}"));
    let data: Vec<u8> = sqlx::query_scalar("SELECT data FROM sync_chunks WHERE key = $1")
        .bind("kept/snapshot/1")
        .fetch_one(pool)
        .await
        .expect("data");
    seen.push(format!("data {data:?}"));

    // Deleting a team takes its members and messages with it.
    sqlx::query("DELETE FROM teams WHERE id = $1").bind("t1").execute(pool).await.expect("delete team");
    let left: i64 = sqlx::query_scalar("SELECT (SELECT COUNT(*) FROM team_members) + (SELECT COUNT(*) FROM messages)")
        .fetch_one(pool)
        .await
        .expect("count");
    seen.push(format!("rows left after team deletion {left}"));
    seen
}

#[tokio::test]
async fn the_same_portable_sql_behaves_the_same_on_sqlite_and_postgres() {
    sqlx::any::install_default_drivers();
    let pg = Postgres::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (sqlite, postgres, sqlite_url, pg_url) = migrated(&pg, &dir).await;
    sqlite.close().await;
    postgres.close().await;

    let on_sqlite = exercise(&AnyPool::connect(&sqlite_url).await.expect("Any on SQLite")).await;
    let on_postgres = exercise(&AnyPool::connect(&pg_url).await.expect("Any on PostgreSQL")).await;
    let expected = [
        "role boss refused: true",
        "unknown user refused: true",
        "duplicate seq refused: true",
        "f1 seq 1",
        "f2 seq 2",
        "is_admin 0",
        "chunks [\"kept/snapshot/1\"]",
        "data [1, 2, 3]",
        "rows left after team deletion 0",
    ];
    assert_eq!(on_sqlite, expected, "SQLite");
    assert_eq!(on_postgres, expected, "PostgreSQL");
}
