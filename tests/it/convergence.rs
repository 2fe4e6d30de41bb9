//! Property: whatever the interleaving of edits, disconnects and reconnects across three clients, once all
//! are back online they hold identical heads and identical text. Runs through a real relay.
//!
//! proptest shrinks a failure and records its seed in `tests/proptest-regressions/`, so it replays;
//! `PROPTEST_CASES=N` runs more cases.

use proptest::prelude::*;
use serde_json::json;
use teamflow_sync::automerge::transaction::Transactable;
use teamflow_sync::automerge::{ROOT, ReadDoc};
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{SyncClient, TEXT_FIELD, heads, read_text};
use teamflow_tests::{TestRelay, sync_client};

#[derive(Debug, Clone)]
enum Op {
    /// Insert `text` at a fraction of the way through the node's current text.
    Insert {
        node: usize,
        at: f64,
        text: String,
    },
    /// Delete up to `len` characters from a fraction of the way through.
    Delete {
        node: usize,
        at: f64,
        len: usize,
    },
    Disconnect {
        node: usize,
    },
    Reconnect {
        node: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0.0..=1.0f64, "[a-z ]{1,6}").prop_map(|(node, at, text)| Op::Insert { node, at, text }),
        2 => (0..3usize, 0.0..=1.0f64, 1..4usize).prop_map(|(node, at, len)| Op::Delete { node, at, len }),
        1 => (0..3usize).prop_map(|node| Op::Disconnect { node }),
        1 => (0..3usize).prop_map(|node| Op::Reconnect { node }),
    ]
}

struct World {
    relay: TestRelay,
    clients: Vec<teamflow_tests::Client>,
    team: String,
}

async fn world() -> World {
    let relay = TestRelay::start().await;
    let owner = relay.user("n0").await;
    let team = owner.create_team("Convergence").await;
    let mut clients = vec![owner.clone()];
    for name in ["n1", "n2"] {
        let client = relay.user(name).await;
        owner.add_member(&team, &format!("{name}@example.test"), "member").await;
        clients.push(client);
    }
    World { relay, clients, team }
}

/// Fails the case, naming the step, instead of hanging on it.
async fn step<T>(what: &str, future: impl std::future::Future<Output = T>) -> Result<T, TestCaseError> {
    tokio::time::timeout(teamflow_tests::socket::PATIENCE, future)
        .await
        .map_err(|_| TestCaseError::fail(format!("{what} did not finish in time")))
}

/// Measures the text and splices it under one hold of the document: a teammate's change syncing in
/// between a separate read and splice could shorten the text under the edit ("index out of bounds").
fn edit(doc: &DocHandle, place: impl FnOnce(usize) -> Option<(usize, isize, String)>) -> Result<(), TestCaseError> {
    doc.with_document(|doc| {
        let Some((_, text)) = doc.get(ROOT, TEXT_FIELD).map_err(fail)? else {
            return Err(TestCaseError::fail("the document has no text"));
        };
        let Some((position, delete, insert)) = place(doc.length(&text)) else {
            return Ok(());
        };
        let mut tx = doc.transaction();
        tx.splice_text(&text, position, delete, &insert).map_err(fail)?;
        tx.commit();
        Ok(())
    })
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

async fn run_case(world: &World, case: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut nodes: Vec<SyncClient> = Vec::new();
    for (i, client) in world.clients.iter().enumerate() {
        nodes.push(step("connect", sync_client(&world.relay, client, &format!("case{case}-{i}"))).await?);
    }
    let (url, first) = nodes[0].create_text("seed").await.map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (status, _) = world.clients[0]
        .post(
            &format!("/api/teams/{}/documents", world.team),
            &json!({ "document_id": url, "title": format!("case {case}") }),
        )
        .await;
    prop_assert_eq!(status, reqwest::StatusCode::CREATED);
    step("reconnect", nodes[0].reconnect()).await?.map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(step("first upload", nodes[0].synced_with_relay(&first)).await?);
    let mut docs: Vec<DocHandle> = vec![first];
    for node in &nodes[1..] {
        let doc = step("open", node.open(&url)).await?.map_err(|e| TestCaseError::fail(e.to_string()))?;
        docs.push(doc.ok_or_else(|| TestCaseError::fail("teammate could not open the document"))?);
    }

    for op in ops {
        match op {
            Op::Insert { node, at, text } => edit(&docs[node], |len| {
                let pos = ((len as f64) * at).floor() as usize;
                Some((pos.min(len), 0, text))
            })?,
            Op::Delete { node, at, len } => edit(&docs[node], |total| {
                (total > 0).then(|| {
                    let pos = (((total - 1) as f64) * at).floor() as usize;
                    let len = isize::try_from(len.min(total - pos)).unwrap_or(0);
                    (pos, len, String::new())
                })
            })?,
            Op::Disconnect { node } => nodes[node].go_offline(),
            Op::Reconnect { node } => {
                step("reconnect", nodes[node].go_online()).await?.map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
        }
    }

    for node in &mut nodes {
        step("final reconnect", node.go_online()).await?.map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
    // Everyone's changes reach the relay, then everyone has everything the relay has.
    for (node, doc) in nodes.iter().zip(&docs) {
        prop_assert!(step("upload to the relay", node.synced_with_relay(doc)).await?);
    }
    let deadline = tokio::time::Instant::now() + teamflow_tests::socket::PATIENCE;
    // Listening before the first look: a change landing between a look and the wait still wakes it.
    let mut changes = futures::stream::select_all(docs.iter().map(|d| Box::pin(d.changes())));
    loop {
        let all: Vec<_> = docs.iter().map(heads).collect();
        if all.iter().all(|h| *h == all[0]) {
            break;
        }
        let changed = tokio::time::timeout_at(deadline, futures::StreamExt::next(&mut changes)).await;
        prop_assert!(matches!(changed, Ok(Some(_))), "heads never converged: {:?}", all);
    }
    let texts: Vec<String> = docs.iter().map(read_text).collect();
    prop_assert_eq!(&texts[0], &texts[1]);
    prop_assert_eq!(&texts[1], &texts[2]);
    for node in nodes {
        step("stop", node.stop()).await?;
    }
    Ok(())
}

#[test]
fn random_edits_disconnects_and_reconnects_converge() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let world = runtime.block_on(world());
    // Each case gets fresh device names, so its clients are new peers to the relay.
    let case = std::sync::atomic::AtomicUsize::new(0);
    // 12 cases unless PROPTEST_CASES says otherwise (the default config reads it).
    let default = ProptestConfig::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() { default.cases } else { 12 };
    let config = ProptestConfig { cases, ..default };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..24))| {
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        runtime.block_on(run_case(&world, n, ops))?;
    });
}
