#![cfg(feature = "tokio")]
#![cfg(feature = "threadpool")]

use std::{sync::Arc, time::Duration};

use automerge::{Automerge, ROOT, ReadDoc, transaction::Transactable};
use futures::{StreamExt, channel::mpsc};
use samod::{
    BackoffConfig, ConcurrencyConfig, DocHandle, DocumentId, IdleUnload, KeepForPeers, Repo, RepoEvent, RepoObserver, ShareConfig, storage::InMemoryStorage,
    transport::channel::ChannelDialer,
};

const IDLE: Duration = Duration::from_millis(50);
const PATIENCE: Duration = Duration::from_secs(10);

/// Sends `(document, loaded)` as document actors open and close.
struct Lifecycle(mpsc::UnboundedSender<(DocumentId, bool)>);

impl RepoObserver for Lifecycle {
    fn observe(&self, event: &RepoEvent) {
        let change = match event {
            RepoEvent::DocumentOpened { document_id } => (document_id.clone(), true),
            RepoEvent::DocumentClosed { document_id } => (document_id.clone(), false),
            _ => return,
        };
        let _ = self.0.unbounded_send(change);
    }
}

type Events = mpsc::UnboundedReceiver<(DocumentId, bool)>;

async fn repo(threadpool: bool, idle_unload: IdleUnload) -> (Repo, Events) {
    repo_sharing(threadpool, idle_unload, ShareConfig::default()).await
}

async fn repo_sharing(
    threadpool: bool,
    idle_unload: IdleUnload,
    policy: ShareConfig,
) -> (Repo, Events) {
    let (tx, rx) = mpsc::unbounded();
    let mut builder = Repo::build_tokio()
        .with_storage(InMemoryStorage::new())
        .with_observer(Lifecycle(tx))
        .with_idle_unload(idle_unload)
        .with_share_policy(policy);
    if threadpool {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        builder = builder.with_concurrency(ConcurrencyConfig::Threadpool(pool));
    }
    (builder.load().await, rx)
}

/// Waits until `document` is unloaded; answers the other documents unloaded meanwhile.
async fn unloaded(events: &mut Events, document: &DocumentId) -> Vec<DocumentId> {
    let mut others = Vec::new();
    let wait = async {
        while let Some((id, loaded)) = events.next().await {
            if loaded {
                continue;
            }
            if &id == document {
                return;
            }
            others.push(id);
        }
        panic!("the repo stopped");
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("unloaded in time");
    others
}

fn set(handle: &DocHandle, value: i64) {
    handle.with_document(|doc| {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "n", value))
            .unwrap();
    });
}

fn n(doc: &Automerge) -> Option<i64> {
    doc.get(ROOT, "n")
        .unwrap()
        .and_then(|(value, _)| value.to_i64())
}

fn get(handle: &DocHandle) -> Option<i64> {
    handle.with_document(|doc| n(doc))
}

/// Reads after any task already queued on the document's actor.
async fn get_queued(handle: &DocHandle) -> Option<i64> {
    handle.with_document_async(|doc| n(doc)).await.unwrap()
}

#[tokio::test]
async fn an_unused_document_is_unloaded_and_found_again_in_storage() {
    for threadpool in [false, true] {
        let (repo, mut events) = repo(threadpool, IdleUnload::after(IDLE)).await;
        let handle = repo.create(Automerge::new()).await.unwrap();
        let id = handle.document_id().clone();
        set(&handle, 1);
        drop(handle);
        unloaded(&mut events, &id).await;

        let found = repo.find(id.clone()).await.unwrap().expect("in storage");
        assert_eq!(get(&found), Some(1));
        set(&found, 2);
        drop(found);
        unloaded(&mut events, &id).await;
        let found = repo.find(id).await.unwrap().expect("in storage");
        assert_eq!(get(&found), Some(2));
        repo.stop().await;
    }
}

#[tokio::test]
async fn a_live_handle_keeps_its_document_loaded() {
    for threadpool in [false, true] {
        let (repo, mut events) = repo(threadpool, IdleUnload::after(IDLE)).await;
        let kept = repo.create(Automerge::new()).await.unwrap();
        let dropped = repo.create(Automerge::new()).await.unwrap();
        let dropped_id = dropped.document_id().clone();
        drop(dropped);
        // `kept` has been idle longer: it was offered first, and declined.
        let others = unloaded(&mut events, &dropped_id).await;
        assert!(!others.contains(kept.document_id()));
        set(&kept, 3);
        assert_eq!(get(&kept), Some(3));
        repo.stop().await;
    }
}

#[tokio::test]
async fn edits_racing_the_unload_are_never_lost() {
    for threadpool in [false, true] {
        // Idle at once: every tick unloads whatever is unused.
        let (repo, mut events) = repo(threadpool, IdleUnload::after(Duration::ZERO)).await;
        let id = repo
            .create(Automerge::new())
            .await
            .unwrap()
            .document_id()
            .clone();
        for value in 1..=20 {
            let handle = repo.find(id.clone()).await.unwrap().expect("in storage");
            let last = get_queued(&handle).await.unwrap_or(0);
            assert_eq!(last, value - 1, "the last edit is there");
            // An edit queued on the actor, then abandoned with the last handle.
            let edit = handle.with_document_async(move |doc| {
                doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "n", value))
                    .unwrap();
            });
            let mut edit = Box::pin(edit);
            assert!(futures::poll!(&mut edit).is_pending());
            drop((edit, handle));
            // Half the time the next `find` races the unload; otherwise it follows it.
            if value % 2 == 0 {
                unloaded(&mut events, &id).await;
            }
        }
        repo.stop().await;
    }
}

/// An edit queued on a document whose actor cannot run yet, its last handle
/// dropped, while the repo looks for idle documents: the document is busy, not
/// unloaded (which would drop the edit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_edit_keeps_its_document_until_it_is_applied_and_stored() {
    for threadpool in [false, true] {
        let (repo, mut events) = repo(threadpool, IdleUnload::after(Duration::ZERO)).await;
        let target = repo.create(Automerge::new()).await.unwrap();
        let id = target.document_id().clone();
        drop(target);
        unloaded(&mut events, &id).await;
        // Loaded again: nothing left to write.
        let target = repo.find(id.clone()).await.unwrap().unwrap();
        // A marker, kept by a search until the edit is queued: once it is
        // unloaded, the target has been offered too.
        let marker = DocumentId::new(&mut rand::rng());
        assert!(repo.find(marker.clone()).await.unwrap().is_none());
        let (_, marker_search) = repo.search(marker.clone()).unwrap();

        // Occupy the actors' runner (the one pool thread, or the async runner's task).
        let blocker = repo.create(Automerge::new()).await.unwrap();
        let (started, running) = futures::channel::oneshot::channel();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let block = blocker.with_document_async(move |_| {
            started.send(()).unwrap();
            wait.recv().unwrap();
        });
        let block = tokio::spawn(block);
        running.await.unwrap();

        let edit = target.with_document_async(|doc| {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "n", 1))
                .unwrap();
        });
        let mut edit = Box::pin(edit);
        assert!(futures::poll!(&mut edit).is_pending());
        drop((edit, target, marker_search));

        let others = unloaded(&mut events, &marker).await;
        assert!(!others.contains(&id), "the target waits for its edit");
        release.send(()).unwrap();
        block.await.unwrap().unwrap();
        let found = repo.find(id).await.unwrap().unwrap();
        assert_eq!(get_queued(&found).await, Some(1));
        repo.stop().await;
    }
}

#[tokio::test]
async fn a_connected_peer_keeps_the_document_it_opened_until_it_leaves() {
    for threadpool in [false, true] {
        // A server: it never announces, so only its state for the peer says the peer wants changes.
        let policy = ShareConfig::read_write().with_announce(false);
        let (server, mut events) = repo_sharing(threadpool, IdleUnload::after(IDLE), policy).await;
        let client = Repo::build_tokio().load().await;
        let dialer = client
            .dial(
                BackoffConfig::default(),
                Arc::new(ChannelDialer::new(
                    server
                        .make_acceptor(samod::Url::parse("channel://server").unwrap())
                        .unwrap(),
                )),
            )
            .unwrap();
        dialer.established().await.unwrap();
        let mut content = Automerge::new();
        content
            .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "n", 7))
            .unwrap();
        let opened = client.create(content).await.unwrap();
        let at_server = server.find(opened.document_id().clone()).await.unwrap().unwrap();
        assert_eq!(get(&at_server), Some(7));
        drop(at_server);
        let untouched = server.create(Automerge::new()).await.unwrap();
        let untouched_id = untouched.document_id().clone();
        drop(untouched);

        let others = unloaded(&mut events, &untouched_id).await;
        assert!(!others.contains(opened.document_id()), "the peer still has it");
        dialer.close();
        unloaded(&mut events, opened.document_id()).await;
        repo_stop(&[client, server]).await;
    }
}

#[tokio::test]
async fn a_peer_in_sync_lets_the_document_go_and_its_next_edit_loads_it_again() {
    for threadpool in [false, true] {
        let config = IdleUnload::after(IDLE).keep_for_peers(KeepForPeers::WhileSyncing);
        let (client, mut events) = repo(threadpool, config).await;
        let server = Repo::build_tokio().load().await;
        let dialer = client
            .dial(
                BackoffConfig::default(),
                Arc::new(ChannelDialer::new(
                    server
                        .make_acceptor(samod::Url::parse("channel://server").unwrap())
                        .unwrap(),
                )),
            )
            .unwrap();
        dialer.established().await.unwrap();
        let handle = client.create(Automerge::new()).await.unwrap();
        let id = handle.document_id().clone();
        set(&handle, 1);
        let at_server = server.find(id.clone()).await.unwrap().unwrap();
        drop(handle);
        unloaded(&mut events, &id).await;

        // The server's edit reaches the unloaded document: it loads, applies it and stores it.
        set(&at_server, 2);
        let wait = async {
            while let Some((loaded_id, loaded)) = events.next().await {
                if loaded_id == id && loaded {
                    return;
                }
            }
        };
        tokio::time::timeout(PATIENCE, wait).await.expect("loaded again");
        unloaded(&mut events, &id).await;
        let found = client.find(id).await.unwrap().unwrap();
        assert_eq!(get(&found), Some(2));
        dialer.close();
        repo_stop(&[client, server]).await;
    }
}

#[tokio::test]
async fn a_document_loaded_again_syncs_with_the_peers_connected_before_it_was_unloaded() {
    for threadpool in [false, true] {
        let config = IdleUnload::after(IDLE).keep_for_peers(KeepForPeers::WhileSyncing);
        let (client, mut events) = repo(threadpool, config).await;
        let server = Repo::build_tokio().load().await;
        let dialer = client
            .dial(
                BackoffConfig::default(),
                Arc::new(ChannelDialer::new(
                    server
                        .make_acceptor(samod::Url::parse("channel://server").unwrap())
                        .unwrap(),
                )),
            )
            .unwrap();
        dialer.established().await.unwrap();
        let handle = client.create(Automerge::new()).await.unwrap();
        let id = handle.document_id().clone();
        set(&handle, 1);
        let at_server = server.find(id.clone()).await.unwrap().unwrap();
        drop(handle);
        unloaded(&mut events, &id).await;

        // Loaded again from storage on the same, still open connection: the connection must be offered
        // the document again, or this edit never leaves the client.
        let again = client.find(id.clone()).await.unwrap().unwrap();
        let mut changes = at_server.changes();
        set(&again, 3);
        let wait = async {
            while get_queued(&at_server).await != Some(3) {
                changes.next().await.expect("the server's document stays open");
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .expect("the edit reached the server");
        dialer.close();
        repo_stop(&[client, server]).await;
    }
}

async fn repo_stop(repos: &[Repo]) {
    for repo in repos {
        repo.stop().await;
    }
}
