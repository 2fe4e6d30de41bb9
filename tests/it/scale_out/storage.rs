//! The relay's document storage on `Db` (`teamflow_relay::sync::storage::DbStorage`): the same behaviour on
//! SQLite and PostgreSQL, shared by instances on one PostgreSQL, and a document one instance's samod repo
//! wrote opening whole in another's (which never held it in memory).

use teamflow_relay::db::Db;
use teamflow_relay::sync::storage::DbStorage;
use teamflow_sync::automerge::transaction::Transactable as _;
use teamflow_sync::automerge::{Automerge, ROOT, ReadDoc as _};
use teamflow_sync::samod;
use teamflow_sync::samod::storage::{Storage as _, StorageKey};
use teamflow_tests::services::Postgres;

fn key(parts: &[&str]) -> StorageKey {
    StorageKey::from_parts(parts.iter().copied()).expect("key")
}

/// Two storages standing for two instances on one database.
async fn exercise(a: &DbStorage, b: &DbStorage, db: &Db) {
    assert_eq!(b.load(key(&["doc", "snapshot"])).await, None);
    a.put(key(&["doc", "snapshot"]), vec![1, 2]).await;
    assert_eq!(b.load(key(&["doc", "snapshot"])).await, Some(vec![1, 2]), "a committed write is seen by the other");
    b.put(key(&["doc", "snapshot"]), vec![3]).await;
    assert_eq!(a.load(key(&["doc", "snapshot"])).await, Some(vec![3]), "overwritten");
    a.delete(key(&["doc", "snapshot"])).await;
    assert_eq!(b.load(key(&["doc", "snapshot"])).await, None, "deleted");

    for (parts, data) in [(&["a", "b"][..], 1), (&["a", "b", "c"][..], 2), (&["a", "bc"][..], 3), (&["z"][..], 4)] {
        a.put(key(parts), vec![data]).await;
    }
    let found = b.load_range(key(&["a", "b"])).await;
    let mut keys: Vec<String> = found.keys().map(ToString::to_string).collect();
    keys.sort();
    assert_eq!(keys, ["a/b", "a/b/c"], "a range covers whole components only");
    let everything = b.load_range(StorageKey::from_parts(Vec::<String>::new()).expect("empty key")).await;
    assert_eq!(everything.len(), 4);

    // A purged document's chunks are dropped, whichever instance still writes them.
    sqlx::query("INSERT INTO document_tombstones (id, deleted_at) VALUES ($1, 0)")
        .bind("automerge:purged")
        .execute(db.pool())
        .await
        .expect("tombstone");
    b.put(key(&["purged", "incremental", "h1"]), vec![9]).await;
    assert_eq!(a.load(key(&["purged", "incremental", "h1"])).await, None);
}

#[tokio::test]
async fn document_storage_behaves_alike_on_sqlite_and_on_postgres_shared_by_two_instances() {
    let pg = Postgres::start().await;
    let url = pg.create_database().await;
    let (pa, pb) = (Db::postgres(&url).await.expect("A"), Db::postgres(&url).await.expect("B"));
    pa.migrate().await.expect("migrate");
    exercise(&DbStorage::new(pa.clone()), &DbStorage::new(pb), &pa).await;

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("relay.db");
    let (sa, sb) = (Db::sqlite(&path).await.expect("A"), Db::sqlite(&path).await.expect("B"));
    sa.migrate().await.expect("migrate");
    exercise(&DbStorage::new(sa.clone()), &DbStorage::new(sb), &sa).await;
}

#[tokio::test]
async fn a_document_one_instance_stored_opens_whole_on_another_that_never_held_it() {
    let pg = Postgres::start().await;
    let url = pg.create_database().await;
    let (a, b) = (Db::postgres(&url).await.expect("A"), Db::postgres(&url).await.expect("B"));
    a.migrate().await.expect("migrate");

    let repo_a = samod::Repo::build_tokio().with_storage(DbStorage::new(a)).load().await;
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    tx.put(ROOT, "title", "written through A").expect("edit");
    tx.commit();
    // `create` answers once the document is in storage.
    let created = repo_a.create(doc).await.expect("create on A");
    let id = created.document_id().clone();
    repo_a.stop().await;

    let repo_b = samod::Repo::build_tokio().with_storage(DbStorage::new(b)).load().await;
    let found = repo_b.find(id).await.expect("B runs").expect("B finds the document in PostgreSQL");
    let title = found.with_document(|doc| {
        doc.get(ROOT, "title").expect("read").and_then(|(value, _)| value.as_str().map(str::to_owned))
    });
    assert_eq!(title.as_deref(), Some("written through A"));
    repo_b.stop().await;
}
