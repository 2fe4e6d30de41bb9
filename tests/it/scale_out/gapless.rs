//! `Db`, the handle the relay's domains move onto, on both databases: two handles on one database stand for
//! two relay instances, and chat messages posted through both at once are numbered 1, 2, 3, ... per team,
//! without a gap or a duplicate, as the relay's single SQLite writer numbers them today.

use futures::future::join_all;
use teamflow_relay::db::Db;
use teamflow_relay::db::backend::Backend;
use teamflow_tests::services::Postgres;

const POSTS: i64 = 40;
const TEAMS: [&str; 2] = ["t1", "t2"];

async fn seed(db: &Db) {
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, created_at)
         VALUES ('u1', 'u1@example.test', 'u1', 'h', 0)",
    )
    .execute(db.pool())
    .await
    .expect("user");
    for team in TEAMS {
        sqlx::query(
            "INSERT INTO teams (id, name, settings, created_by, created_at, updated_at) VALUES ($1, $1, '{}', 'u1', 0, 0)",
        )
        .bind(team)
        .execute(db.pool())
        .await
        .expect("team");
    }
}

/// One post as the relay will make it: lock the team, then insert with the next seq in the same statement.
async fn post(db: &Db, team: &'static str, n: i64) -> (&'static str, i64) {
    let mut tx = db.begin_write().await.expect("begin");
    assert!(db.lock_team(&mut tx, team).await.expect("lock"), "team {team} exists");
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO messages (id, team_id, seq, author_id, client_id, kind, content, created_at)
         SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, 'u1', $1, 'text', 'hi', 0 FROM messages WHERE team_id = $2
         RETURNING seq",
    )
    .bind(format!("{team}-{n}"))
    .bind(team)
    .fetch_one(&mut *tx)
    .await
    .unwrap_or_else(|e| panic!("post {n} to {team}: {e}"));
    tx.commit().await.expect("commit");
    (team, seq)
}

/// Posts `POSTS` messages to each team, alternating between the two handles, all at once; checks that each
/// team's seqs, as answered and as stored, are exactly 1..=POSTS.
async fn posts_through_both_are_gapless(a: &Db, b: &Db) {
    seed(a).await;
    let posts = (0..POSTS).flat_map(|n| {
        let db = if n % 2 == 0 { a } else { b };
        TEAMS.map(|team| post(db, team, n))
    });
    let answered = join_all(posts).await;
    let expected: Vec<i64> = (1..=POSTS).collect();
    for team in TEAMS {
        let mut seqs: Vec<i64> = answered.iter().filter(|(t, _)| *t == team).map(|(_, s)| *s).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, expected, "{team}: the seqs answered to the posters");
        let stored: Vec<i64> = sqlx::query_scalar("SELECT seq FROM messages WHERE team_id = $1 ORDER BY seq")
            .bind(team)
            .fetch_all(b.pool())
            .await
            .expect("stored seqs");
        assert_eq!(stored, expected, "{team}: the seqs stored");
    }
}

#[tokio::test]
async fn two_instances_on_postgres_number_each_teams_messages_without_gaps() {
    let pg = Postgres::start().await;
    let url = pg.create_database().await;
    let a = Db::postgres(&url).await.expect("instance A");
    let b = Db::postgres(&url).await.expect("instance B");
    assert_eq!((a.backend(), b.backend()), (Backend::Postgres, Backend::Postgres));
    a.migrate().await.expect("migrate");
    b.migrate().await.expect("a second instance finds the schema in place");
    posts_through_both_are_gapless(&a, &b).await;
}

#[tokio::test]
async fn two_handles_on_one_sqlite_file_number_each_teams_messages_without_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("relay.db");
    let a = Db::sqlite(&path).await.expect("handle A");
    a.migrate().await.expect("migrate");
    let b = Db::sqlite(&path).await.expect("handle B");
    assert_eq!(b.backend(), Backend::Sqlite);
    posts_through_both_are_gapless(&a, &b).await;
}
