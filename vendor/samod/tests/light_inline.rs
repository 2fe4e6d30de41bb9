//! An executor that handles light messages inline: a keystroke from a peer already in sync reaches the
//! document while every document thread is busy, and everything else still waits for the threads.
#![cfg(feature = "tokio")]
#![cfg(feature = "threadpool")]

use std::{
    sync::{Arc, mpsc},
    time::Duration,
};

use automerge::{Automerge, ROOT, ReadDoc, transaction::Transactable};
use futures::StreamExt;
use samod::{
    BackoffConfig, ConcurrencyConfig, DocExecutor, DocHandle, Repo,
    transport::channel::ChannelDialer,
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

/// Waits until a peer of `handle` says it has `handle`'s heads: the server answers only once its writes
/// of them landed, so its document has no work left.
async fn acknowledged(handle: &DocHandle) {
    let heads = Some(handle.with_document(|doc| doc.get_heads()));
    let (now, mut later) = handle.peers();
    if now.values().any(|peer| peer.their_heads == heads) {
        return;
    }
    let wait = async {
        while let Some(changed) = later.next().await {
            if changed.values().any(|peer| peer.their_heads == heads) {
                return;
            }
        }
        panic!("the peer states ended");
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keystroke_reaches_the_document_while_its_threads_are_busy() {
    let threads = Arc::new(Inline(
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap(),
    ));
    let server = Repo::build_tokio()
        .with_concurrency(ConcurrencyConfig::Executor(threads.clone()))
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
    let at_server = server
        .find(typed.document_id().clone())
        .await
        .unwrap()
        .unwrap();
    has_keys(&at_server, 1).await;
    acknowledged(&typed).await;

    // The server's only document thread is busy until `release`.
    let (release, wait) = mpsc::channel::<()>();
    let (started, running) = mpsc::channel();
    threads.0.spawn_fifo(move || {
        started.send(()).unwrap();
        wait.recv_timeout(PATIENCE).ok();
    });
    running.recv_timeout(PATIENCE).unwrap();

    // A keystroke from a peer in sync with the document is light: it arrives without a thread. Its write
    // completes on the thread later, and the next one waits behind that.
    type_key(&typed, "second");
    has_keys(&at_server, 2).await;

    release.send(()).unwrap();
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
