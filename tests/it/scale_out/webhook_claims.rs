//! Webhook events shared by several instances' workers: each instance claims due events for a lease
//! (`teamflow_relay::webhooks::claim_due`), and instances claiming at the same moment take disjoint events,
//! so every event is worked on by exactly one of them. Two `Db` handles on one database stand for two
//! instances, claiming in small batches as fast as they can, on PostgreSQL and on SQLite.

use std::collections::HashSet;

use futures::future::join;
use teamflow_relay::db::Db;
use teamflow_relay::webhooks::claim_due;
use teamflow_tests::services::Postgres;

const EVENTS: usize = 200;
const BATCH: i64 = 7;

async fn seed(db: &Db) {
    for sql in [
        "INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES ('u1', 'u1@example.test', 'u1', 'h', 0)",
        "INSERT INTO teams (id, name, settings, created_by, created_at, updated_at) VALUES ('t1', 't1', '{}', 'u1', 0, 0)",
        "INSERT INTO integrations (id, team_id, service, secret, callback_url, created_by, created_at)
         VALUES ('i1', 't1', 'github', 's', 'https://relay.test/hook', 'u1', 0)",
    ] {
        sqlx::query(sql).execute(db.pool()).await.expect("seed");
    }
    for n in 0..EVENTS {
        sqlx::query(
            "INSERT INTO webhook_events (id, integration_id, team_id, service, event_type, delivery_key, received_at)
             VALUES ($1, 'i1', 't1', 'github', 'push', $1, 0)",
        )
        .bind(format!("e{n}"))
        .execute(db.pool())
        .await
        .expect("event");
    }
}

/// Claims and "processes" (marks processed) until nothing is due; answers every event this instance claimed.
async fn work(db: &Db, instance: &str) -> Vec<String> {
    let mut claimed = Vec::new();
    loop {
        let lease = claim_due(db, instance, BATCH).await.expect("claim");
        let mine: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM webhook_events WHERE claimed_by = $1 AND claimed_until = $2 AND processed_at IS NULL",
        )
        .bind(instance)
        .bind(lease)
        .fetch_all(db.pool())
        .await
        .expect("claimed");
        if mine.is_empty() {
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events WHERE processed_at IS NULL")
                .fetch_one(db.pool())
                .await
                .expect("count");
            if left == 0 {
                return claimed;
            }
            // The other instance holds the rest; it is about to mark them.
            tokio::task::yield_now().await;
            continue;
        }
        sqlx::query("UPDATE webhook_events SET processed_at = 1 WHERE claimed_by = $1 AND claimed_until = $2")
            .bind(instance)
            .bind(lease)
            .execute(db.pool())
            .await
            .expect("mark processed");
        claimed.extend(mine);
    }
}

async fn two_instances_take_disjoint_events(a: Db, b: Db) {
    let (on_a, on_b) = join(work(&a, "instance-a"), work(&b, "instance-b")).await;
    let a_set: HashSet<&String> = on_a.iter().collect();
    let b_set: HashSet<&String> = on_b.iter().collect();
    assert_eq!(a_set.len(), on_a.len(), "A claimed an event twice");
    assert_eq!(b_set.len(), on_b.len(), "B claimed an event twice");
    let both: Vec<_> = a_set.intersection(&b_set).collect();
    assert!(both.is_empty(), "events worked on by both instances: {both:?}");
    assert_eq!(a_set.len() + b_set.len(), EVENTS, "every event was claimed (A {}, B {})", on_a.len(), on_b.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_claim_disjoint_webhook_events_and_leave_none() {
    let postgres = Postgres::start().await;
    let url = postgres.create_database().await;
    let a = Db::postgres(&url).await.expect("connect A");
    a.migrate().await.expect("migrate");
    seed(&a).await;
    let b = Db::postgres(&url).await.expect("connect B");
    two_instances_take_disjoint_events(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_sqlite_file_claim_disjoint_webhook_events_and_leave_none() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("relay.db");
    let a = Db::sqlite(&path).await.expect("open A");
    a.migrate().await.expect("migrate");
    seed(&a).await;
    let b = Db::sqlite(&path).await.expect("open B");
    two_instances_take_disjoint_events(a, b).await;
}

#[tokio::test]
async fn a_claim_left_by_a_dead_instance_lapses_and_the_event_is_claimed_again() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Db::sqlite(&dir.path().join("relay.db")).await.expect("open");
    db.migrate().await.expect("migrate");
    seed(&db).await;
    claim_due(&db, "dead", EVENTS as i64).await.expect("claim everything");
    claim_due(&db, "alive", EVENTS as i64).await.expect("claim");
    let alive: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events WHERE claimed_by = 'alive'")
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(alive, 0, "a live claim is left alone");
    // The dead instance's lease runs out.
    sqlx::query("UPDATE webhook_events SET claimed_until = 1").execute(db.pool()).await.expect("lapse");
    claim_due(&db, "alive", EVENTS as i64).await.expect("claim");
    let alive: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events WHERE claimed_by = 'alive'")
        .fetch_one(db.pool())
        .await
        .expect("count");
    assert_eq!(alive, EVENTS as i64, "every lapsed claim is taken over");
}
