//! What the window gets to open a large document quickly: the preview the node keeps (the spans of the
//! rich text, read while the document is open and kept when it closes) and the whole document saved in
//! one piece. A preview is only kept for a team's document and goes with the team, and with the user who
//! signs out.

use std::sync::Arc;
use std::time::Duration;

use sqlx::ConnectOptions as _;

use teamflow_node::{NodeError, Session, SessionEvent, Splice};
use teamflow_protocol::realtime::ServerMessage;
use teamflow_sync::automerge::Automerge;
use teamflow_tests::session_events::{Events, loopback};
use teamflow_tests::{TestRelay, alice_and_bob};

#[tokio::test]
async fn a_closed_document_leaves_its_preview_and_opens_saved_in_one_piece() {
    let relay = TestRelay::start().await;
    let (_a, alice, _b, bob, team) = alice_and_bob(&relay).await;
    let bob_id = bob.user().await.expect("bob").id;
    let (bob_sink, mut events) = Events::sink();
    let session = Session::start(Arc::new(bob), bob_sink, loopback()).await;
    let (url, _handle) = session.node().create_document(team, "Notes", "").await.expect("document");
    let url = url.to_string();
    assert_eq!(session.document_preview(&url).await.expect("preview"), None, "nothing kept before it was opened");
    let opened = session.open_document(&url).await.expect("open");
    let base: Vec<String> = opened.heads.iter().map(ToString::to_string).collect();
    let edit = Splice { position: 0, delete: 0, insert: "Retrospective actions".into() };
    let edited = session.edit_document(&url, &base, &[edit]).await.expect("edit");

    // Saved whole: it loads as it is, with the heads the node has.
    let saved = Automerge::load(&session.document_saved(&url).await.expect("saved")).expect("loads");
    let heads: Vec<String> = saved.get_heads().iter().map(ToString::to_string).collect();
    let edited_heads: Vec<String> = edited.heads.iter().map(ToString::to_string).collect();
    assert_eq!(heads, edited_heads);

    // Closing keeps the preview of what was typed last, as automerge-js's spans.
    session.close_document(&url).await;
    let preview = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(p) = session.document_preview(&url).await.expect("preview")
                && p.contains("Retrospective")
            {
                return p;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the preview of the typed text is kept on close");
    let spans: serde_json::Value = serde_json::from_str(&preview).expect("JSON");
    assert_eq!(spans, serde_json::json!([{ "type": "text", "value": "Retrospective actions" }]));

    // A document URL the device never kept, and a malformed one, have none.
    let other = teamflow_sync::samod::DocumentId::try_from(uuid::Uuid::new_v4().as_bytes().to_vec()).expect("id");
    assert_eq!(session.document_preview(&format!("automerge:{other}")).await.expect("preview"), None);
    assert_eq!(session.document_preview("not a url").await.expect("preview"), None);
    assert!(session.document_saved("not a url").await.is_err(), "a malformed URL is refused");

    // Removed from the team: the preview goes with what the device kept of it.
    // In the room first (its state has arrived), so the removal reaches bob as a revocation and not as a
    // refused join.
    session.join_room(team).await.expect("join");
    events
        .wait("bob's team state", |e| matches!(e, SessionEvent::Room { frame: ServerMessage::TeamState { .. }, .. }))
        .await;
    alice.remove_member(team, bob_id).await.expect("remove bob");
    events
        .wait("bob's access revoked", |e| {
            matches!(e, SessionEvent::Room { frame: ServerMessage::AccessRevoked { .. }, .. })
        })
        .await;
    assert_eq!(session.document_preview(&url).await.expect("preview"), None, "forgotten with the team");
    session.close().await;
}

/// Signing out forgets what the user left on the device: every table of the store is empty afterwards,
/// the document previews (the text of documents last opened) among them, and the text is not left in the
/// files' free space either. The tables are read from the store's own schema, so a table added later
/// cannot be left out of what sign-out clears.
#[tokio::test]
async fn signing_out_leaves_no_preview_and_no_other_user_data_in_the_store() {
    let relay = TestRelay::start().await;
    let (_a, alice, b_dir, bob, team) = alice_and_bob(&relay).await;
    alice.send_message(team, "the plan for Friday").await.expect("message");
    let (bob_sink, _events) = Events::sink();
    let session = Session::start(Arc::new(bob), bob_sink, loopback()).await;
    session.node().messages(team).await.expect("bob reads the chat");
    let (url, _handle) = session.node().create_document(team, "Salaries", "").await.expect("document");
    let url = url.to_string();
    let opened = session.open_document(&url).await.expect("open");
    let base: Vec<String> = opened.heads.iter().map(ToString::to_string).collect();
    let edit = Splice { position: 0, delete: 0, insert: "Confidential figures".into() };
    session.edit_document(&url, &base, &[edit]).await.expect("edit");
    session.close_document(&url).await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while !session.document_preview(&url).await.expect("preview").is_some_and(|p| p.contains("Confidential")) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the preview of the typed text is kept on close");

    session.node().sign_out().await.expect("sign out");
    assert!(
        matches!(session.document_preview(&url).await, Err(NodeError::SignedOut)),
        "no preview is read after sign-out"
    );
    session.close().await;

    let mut store = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(b_dir.path().join("node.db"))
        .read_only(true)
        .connect()
        .await
        .expect("open the store");
    // The full-text index's own tables (`search_index_data` and the like) keep its structure when empty;
    // the index itself is counted through its virtual table.
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         AND name NOT LIKE '_sqlx_%' AND name NOT LIKE 'search_index_%' ORDER BY name",
    )
    .fetch_all(&mut store)
    .await
    .expect("the store's tables");
    assert!(tables.contains(&"document_previews".to_owned()) && tables.contains(&"search_index".to_owned()));
    let mut left = Vec::new();
    for table in &tables {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{table}\"")))
            .fetch_one(&mut store)
            .await
            .expect("count");
        if rows > 0 {
            left.push(format!("{table}: {rows}"));
        }
    }
    assert!(left.is_empty(), "the signed-out user's data is still in the store: {left:?}");
    drop(store);
    // Nor in the files: deleted rows leave their bytes in free pages and in the write-ahead log.
    for file in ["node.db", "node.db-wal"] {
        let bytes = std::fs::read(b_dir.path().join(file)).unwrap_or_default();
        assert!(
            !bytes.windows(b"Confidential figures".len()).any(|w| w == b"Confidential figures"),
            "the document's text is still readable in {file} after sign-out"
        );
    }
}
