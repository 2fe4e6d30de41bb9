//! A document's local store under a burst of edits: stored as it is typed, compacted to one snapshot once the
//! node closes, the file shrinking with it, and every change there when the node opens again.

use sqlx::sqlite::SqliteConnectOptions;
use teamflow_node::Node;
use teamflow_sync::Splice;
use teamflow_tests::{DataDir, TestRelay};

/// The store's files (database and write-ahead log) in bytes.
fn store_bytes(dir: &DataDir) -> u64 {
    ["node.db", "node.db-wal"].iter().filter_map(|f| std::fs::metadata(dir.path().join(f)).ok()).map(|m| m.len()).sum()
}

/// The document chunks in the store: (snapshots, incremental chunks), and the bytes of its free pages.
async fn chunks(dir: &DataDir) -> ((i64, i64), i64) {
    let options = SqliteConnectOptions::new().filename(dir.path().join("node.db")).read_only(true);
    let mut db = sqlx::ConnectOptions::connect(&options).await.expect("read the store");
    let free: i64 =
        sqlx::query_scalar("SELECT freelist_count * page_size FROM pragma_freelist_count, pragma_page_size")
            .fetch_one(&mut db)
            .await
            .expect("free pages");
    let counts = sqlx::query_as(
        "SELECT
            coalesce(sum(key LIKE '%/snapshot/%'), 0),
            coalesce(sum(key LIKE '%/incremental/%'), 0)
         FROM sync_chunks",
    )
    .fetch_one(&mut db)
    .await
    .expect("count chunks");
    sqlx::Connection::close(db).await.expect("close");
    (counts, free)
}

#[tokio::test]
async fn a_burst_of_edits_is_compacted_to_one_snapshot_the_store_shrinks_and_nothing_is_lost() {
    const KEYSTROKES: usize = 5_000;
    let relay = TestRelay::start().await;
    let dir = DataDir::new();
    let node = Node::open(dir.path(), &relay.url("")).await.expect("open");
    node.sign_up("typist@example.test", "correct horse", "Typist").await.expect("sign up");
    let team = node.create_team("Burst").await.expect("team").id;
    let (url, doc) = node.create_document(team, "Burst", "").await.expect("create");

    // 5,000 keystrokes (typing, and deleting now and then), each its own change, as fast as they queue: enough
    // for several compactions (one is due once the chunks hold more changes than the snapshot, at least 256).
    let writer = node.text_writer(&doc).await.expect("writer");
    let mut text = String::new();
    for i in 0..KEYSTROKES {
        let edit = if i % 7 == 6 && !text.is_empty() {
            text.pop();
            Splice { position: text.len(), delete: 1, insert: String::new() }
        } else {
            let ch = char::from(b'a' + (i % 26) as u8).to_string();
            text.push_str(&ch);
            Splice { position: text.len() - 1, delete: 0, insert: ch }
        };
        writer.splice(edit).await.expect("queue");
    }
    writer.flush().await.expect("applied");
    drop(writer);
    assert_eq!(teamflow_sync::read_text(&doc), text);
    let heads = teamflow_sync::heads(&doc);
    let changes = doc.with_document(|d| d.get_changes(&[]).len());
    let saved = doc.with_document(|d| d.save().len()) as u64;
    assert!(changes > KEYSTROKES, "one change per keystroke: {changes}");

    // While open, the burst's latest changes sit in incremental chunks, one per pass rather than per change
    // (none when a compaction happened to follow the last pass: how many depends on timing).
    let ((snapshots, incrementals), _) = chunks(&dir).await;
    assert!(snapshots >= 1, "({snapshots}, {incrementals})");
    assert!(incrementals < 1_000, "{incrementals} chunks for {KEYSTROKES} changes: not one per change");
    let before = store_bytes(&dir);

    drop(doc);
    node.close().await;
    let (kinds, free) = chunks(&dir).await;
    assert_eq!(kinds, (1, 0), "closing compacts the document into one snapshot");
    assert!(free <= 64 * 1024, "the superseded chunks' pages went back to the file system: {free} bytes free");
    let after = store_bytes(&dir);
    assert!(after < before, "the store shrank: {before} -> {after} bytes");
    assert!(saved > 0);

    let node = Node::open(dir.path(), &relay.url("")).await.expect("reopen");
    let doc = node.open_document(&url).await.expect("open").expect("kept locally");
    assert_eq!(teamflow_sync::heads(&doc), heads, "the same heads");
    assert_eq!(doc.with_document(|d| d.get_changes(&[]).len()), changes, "every change");
    assert_eq!(teamflow_sync::read_text(&doc), text);
    node.close().await;
}

/// The app quitting shuts the node down while others still hold it (`Node::shutdown`): what was written is
/// in the store afterwards, and nothing starts syncing again on a store that is closed.
#[tokio::test]
async fn a_node_shut_down_keeps_what_was_written_and_starts_nothing_again() {
    let relay = TestRelay::start().await;
    let dir = DataDir::new();
    let node = std::sync::Arc::new(Node::open(dir.path(), &relay.url("")).await.expect("open"));
    node.sign_up("quitter@example.test", "correct horse", "Quitter").await.expect("sign up");
    let team = node.create_team("Quits").await.expect("team").id;
    let (url, _doc) = node.create_document(team, "Last words", "written just before quitting").await.expect("create");

    let held = node.clone();
    node.shutdown().await;
    // Without the guard, a sync client starts again on the closed store and never answers.
    let again = tokio::time::timeout(teamflow_tests::socket::PATIENCE, held.open_document(&url))
        .await
        .expect("a shut-down node answers at once");
    assert!(again.is_err(), "a shut-down node opened a document again: {again:?}");
    drop((node, held));

    let node = Node::open(dir.path(), &relay.url("")).await.expect("reopen");
    let doc = node.open_document(&url).await.expect("open").expect("kept locally");
    assert_eq!(teamflow_sync::read_text(&doc), "written just before quitting");
    node.close().await;
}
