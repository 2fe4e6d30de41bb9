//! The documents' states per connection are gathered only while someone watches them
//! (`Repo::connected_peers`): a watcher that starts after documents synced still sees their state,
//! and so does one that starts after an earlier watcher went away.
#![cfg(feature = "tokio")]

use std::time::Duration;

use automerge::{Automerge, AutomergeError, ChangeHash, ROOT, transaction::Transactable};
use futures::{Stream, StreamExt};
use samod::{ConnectionId, ConnectionInfo, DocHandle, DocumentId, PeerId, Repo};
mod tincans;

const PATIENCE: Duration = Duration::from_secs(20);

fn put(handle: &DocHandle, key: &str) -> Vec<ChangeHash> {
    handle.with_document(|doc| {
        doc.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, key, true))
            .unwrap();
        doc.get_heads()
    })
}

/// Waits until the watched connection info shows `heads` shared with the peer on `conn` for `doc`.
async fn shows_shared(
    infos: &mut (impl Stream<Item = Vec<ConnectionInfo>> + Unpin),
    conn: ConnectionId,
    doc: &DocumentId,
    heads: &[ChangeHash],
) {
    let wait = async {
        loop {
            let infos = infos.next().await.expect("the repo is running");
            let shared = infos
                .iter()
                .filter(|info| info.id == conn)
                .filter_map(|info| info.docs.get(doc))
                .any(|state| state.shared_heads.as_deref() == Some(heads));
            if shared {
                return;
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the connection info shows the document's shared heads");
}

#[tokio::test]
async fn a_late_watcher_sees_the_state_of_documents_synced_before_it_started() {
    let alice = Repo::build_tokio()
        .with_peer_id(PeerId::from("alice"))
        .load()
        .await;
    let bob = Repo::build_tokio()
        .with_peer_id(PeerId::from("bob"))
        .load()
        .await;
    let connected = tincans::connect_repos(&alice, &bob).await;
    let alice_handle = alice.create(Automerge::new()).await.unwrap();
    let doc_id = alice_handle.document_id().clone();
    let heads = put(&alice_handle, "before anyone watched");
    let bob_handle = bob.find(doc_id.clone()).await.unwrap().unwrap();
    bob_handle
        .we_have_their_changes(connected.right_connection_id)
        .await;
    alice_handle
        .they_have_our_changes(connected.left_connection_id)
        .await;

    // Nothing changes from here on: what the watcher sees is what was
    // gathered when watching started.
    let (_now, mut infos) = alice.connected_peers();
    shows_shared(&mut infos, connected.left_connection_id, &doc_id, &heads).await;

    // The watcher goes; a change is made and synced meanwhile; a new watcher sees it.
    drop(infos);
    let heads = put(&alice_handle, "after the first watcher");
    bob_handle
        .we_have_their_changes(connected.right_connection_id)
        .await;
    alice_handle
        .they_have_our_changes(connected.left_connection_id)
        .await;
    let (_now, mut infos) = alice.connected_peers();
    shows_shared(&mut infos, connected.left_connection_id, &doc_id, &heads).await;

    alice.stop().await;
    bob.stop().await;
}
