//! The documents' states per connection are gathered only while someone watches them
//! (`Repo::connected_peers`): a watcher that starts after documents synced still sees their state,
//! and so does one that starts after an earlier watcher went away. `Repo::established_peers`
//! follows the handshaken peers alone, and sync traffic does not make it emit.
#![cfg(feature = "tokio")]

use std::time::Duration;

use automerge::{Automerge, AutomergeError, ChangeHash, ROOT, transaction::Transactable};
use futures::{FutureExt, Stream, StreamExt};
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

#[tokio::test]
async fn established_peers_follow_handshakes_and_closed_connections_not_sync_traffic() {
    let alice = Repo::build_tokio()
        .with_peer_id(PeerId::from("alice"))
        .load()
        .await;
    let bob = Repo::build_tokio()
        .with_peer_id(PeerId::from("bob"))
        .load()
        .await;
    let (before, mut peers) = bob.established_peers();
    assert!(before.is_empty());
    // A watcher of the per-document states too, so that bob's hub does emit
    // state changes while the documents sync below.
    let (_now, _infos) = bob.connected_peers();

    let connected = tincans::connect_repos(&alice, &bob).await;
    let handshaken = tokio::time::timeout(PATIENCE, async {
        loop {
            let now = peers.next().await.expect("the repo is running");
            if !now.is_empty() {
                return now;
            }
        }
    })
    .await
    .expect("the handshake is seen");
    assert_eq!(
        handshaken,
        vec![(connected.right_connection_id, PeerId::from("alice"))]
    );
    assert_eq!(bob.established_peers().0, handshaken);

    let alice_handle = alice.create(Automerge::new()).await.unwrap();
    put(&alice_handle, "synced");
    let bob_handle = bob
        .find(alice_handle.document_id().clone())
        .await
        .unwrap()
        .unwrap();
    bob_handle
        .we_have_their_changes(connected.right_connection_id)
        .await;
    put(&alice_handle, "synced again");
    bob_handle
        .we_have_their_changes(connected.right_connection_id)
        .await;
    assert!(
        peers.next().now_or_never().is_none(),
        "sync traffic made the established peers emit"
    );

    connected.disconnect().await;
    let after = tokio::time::timeout(PATIENCE, peers.next())
        .await
        .expect("the closed connection is seen")
        .expect("the repo is running");
    assert!(after.is_empty(), "{after:?}");

    alice.stop().await;
    bob.stop().await;
}
