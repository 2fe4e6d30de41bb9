//! An executor that handles light messages inline: a peer's acknowledgement of the document's heads is
//! handled where it arrives, not on the document threads.
#![cfg(feature = "tokio")]
#![cfg(feature = "threadpool")]

use std::{collections::HashMap, sync::Arc, time::Duration};

use automerge::{Automerge, ROOT, ReadDoc, transaction::Transactable};
use futures::StreamExt;
use samod::{
    BackoffConfig, ConcurrencyConfig, ConnectionId, DocExecutor, DocHandle, PeerDocState, Repo,
    RepoEvent, RepoObserver, transport::channel::ChannelDialer,
};

const PATIENCE: Duration = Duration::from_secs(20);

/// One rayon thread, and light messages handled where they arrive.
struct Inline(rayon::ThreadPool);

impl DocExecutor for Inline {
    fn spawn_fifo(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        self.0.spawn_fifo(job);
    }

    fn handles_light_messages_inline(&self) -> bool {
        true
    }
}

fn keys(handle: &DocHandle) -> usize {
    handle.with_document(|doc| doc.keys(ROOT).count())
}

fn type_key(handle: &DocHandle, key: &str) {
    handle.with_document(|doc| {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, key, 1))
            .unwrap();
    });
}

/// Waits until `handle`'s document has `n` keys.
async fn has_keys(handle: &DocHandle, n: usize) {
    let mut changes = handle.changes();
    let wait = async {
        while keys(handle) < n {
            changes.next().await.expect("the document stays open");
        }
    };
    if tokio::time::timeout(PATIENCE, wait).await.is_err() {
        panic!("{} of {n} keys arrived", keys(handle));
    }
}

/// Waits until a peer of `handle` says it has `handle`'s heads (as they are then: they may still move):
/// the server answers only once its writes of them landed, so its document has no work left.
async fn acknowledged(handle: &DocHandle) {
    let said_by_a_peer = |states: &HashMap<ConnectionId, PeerDocState>| {
        let mut heads = handle.with_document(|doc| doc.get_heads());
        heads.sort();
        states.values().any(|peer| {
            peer.their_heads.clone().is_some_and(|mut theirs| {
                theirs.sort();
                theirs == heads
            })
        })
    };
    let (now, mut later) = handle.peers();
    if said_by_a_peer(&now) {
        return;
    }
    let wait = async {
        while let Some(changed) = later.next().await {
            if said_by_a_peer(&changed) {
                return;
            }
        }
        panic!("the peer states ended");
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("acknowledged");
}

/// The threads sync messages were received on, in order.
#[derive(Clone, Default)]
struct ReceivedOn(Arc<std::sync::Mutex<Vec<String>>>);

impl RepoObserver for ReceivedOn {
    fn observe(&self, event: &RepoEvent) {
        if let RepoEvent::SyncMessageReceived { .. } = event {
            let thread = std::thread::current();
            self.0
                .lock()
                .unwrap()
                .push(thread.name().unwrap_or("").to_owned());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledgement_is_handled_where_it_arrives_not_on_a_document_thread() {
    let threads = Arc::new(Inline(
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|i| format!("document-{i}"))
            .build()
            .unwrap(),
    ));
    let received_on = ReceivedOn::default();
    let (writes, held_writes) = tokio::sync::watch::channel(true);
    let server = Repo::build_tokio()
        .with_concurrency(ConcurrencyConfig::Executor(threads))
        .with_storage(HeldWrites {
            inner: samod::storage::InMemoryStorage::new(),
            open: held_writes,
        })
        .with_observer(received_on.clone())
        .load()
        .await;
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
    let typed = client.create(Automerge::new()).await.unwrap();
    type_key(&typed, "first");
    acknowledged(&typed).await;
    let at_server = server
        .find(typed.document_id().clone())
        .await
        .unwrap()
        .unwrap();
    has_keys(&at_server, 1).await;
    acknowledged(&typed).await;
    // The first message and the keystroke ran on the document thread.
    assert!(
        received_on
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|thread| thread.starts_with("document-")),
        "a peer's first message is not light"
    );

    // The server's writes wait, so that no write completes and queues a task for the document meanwhile.
    writes.send(false).unwrap();
    let before = received_on.0.lock().unwrap().len();
    // A change made on the server goes to the client, whose acknowledgement of the server's new heads is
    // light. (Waiting on the peer states, not the document: a test holding the server's document lock
    // would send it to the thread. The client's document is held while the server's is, so that the
    // acknowledgement comes after the server's document is released.)
    let (_, mut states) = at_server.peers();
    let mut server_heads = typed.with_document(|_| {
        at_server.with_document(|doc| {
            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(ROOT, "from the server", 1)
            })
            .unwrap();
            doc.get_heads()
        })
    });
    server_heads.sort();
    let acknowledged_by_the_client = async {
        while let Some(changed) = states.next().await {
            let says_it_has_them = changed.values().any(|peer| {
                peer.their_heads.clone().is_some_and(|mut theirs| {
                    theirs.sort();
                    theirs == server_heads
                })
            });
            if says_it_has_them {
                return;
            }
        }
        panic!("the peer states ended");
    };
    tokio::time::timeout(PATIENCE, acknowledged_by_the_client)
        .await
        .expect("the client acknowledged the server's change");
    let since = received_on.0.lock().unwrap()[before..].to_vec();
    assert!(!since.is_empty());
    assert!(
        since.iter().all(|thread| !thread.starts_with("document-")),
        "the acknowledgement was handled on {since:?}"
    );

    writes.send(true).unwrap();
    has_keys(&typed, 2).await;
    type_key(&typed, "third");
    has_keys(&at_server, 3).await;
    acknowledged(&typed).await;
    assert_eq!(
        at_server.with_document(|doc| doc.get_heads()),
        typed.with_document(|doc| doc.get_heads())
    );
    dialer.close();
    client.stop().await;
    server.stop().await;
}

/// In-memory storage whose writes wait while `open` says no: no write completes during a step of the
/// test, so no document task runs on the threads meanwhile.
#[derive(Clone)]
struct HeldWrites {
    inner: samod::storage::InMemoryStorage,
    open: tokio::sync::watch::Receiver<bool>,
}

impl samod::storage::Storage for HeldWrites {
    fn load(
        &self,
        key: samod::storage::StorageKey,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send {
        samod::storage::Storage::load(&self.inner, key)
    }

    fn load_range(
        &self,
        prefix: samod::storage::StorageKey,
    ) -> impl Future<Output = HashMap<samod::storage::StorageKey, Vec<u8>>> + Send {
        samod::storage::Storage::load_range(&self.inner, prefix)
    }

    fn put(
        &self,
        key: samod::storage::StorageKey,
        data: Vec<u8>,
    ) -> impl Future<Output = ()> + Send {
        let (inner, mut open) = (self.inner.clone(), self.open.clone());
        async move {
            open.wait_for(|open| *open).await.ok();
            samod::storage::Storage::put(&inner, key, data).await;
        }
    }

    fn delete(&self, key: samod::storage::StorageKey) -> impl Future<Output = ()> + Send {
        let (inner, mut open) = (self.inner.clone(), self.open.clone());
        async move {
            open.wait_for(|open| *open).await.ok();
            samod::storage::Storage::delete(&inner, key).await;
        }
    }
}
