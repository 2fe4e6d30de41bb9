//! Many peers typing into one document at once through one server, whose document actor handles the
//! queued messages in batches and sends each peer one sync message per batch: every keystroke still
//! reaches every peer, with the server's documents on the async runtime, on a thread pool, or on a thread
//! pool with light messages (acknowledgements) handled where they arrive.
#![cfg(feature = "tokio")]
#![cfg(feature = "threadpool")]

use std::{sync::Arc, time::Duration};

use automerge::{Automerge, ROOT, ReadDoc, transaction::Transactable};
use futures::StreamExt;
use samod::{
    BackoffConfig, ConcurrencyConfig, DocExecutor, DocHandle, Repo,
    transport::channel::ChannelDialer,
};

const TYPISTS: usize = 6;
const KEYSTROKES: usize = 40;
const PATIENCE: Duration = Duration::from_secs(20);

/// Where the server's documents run.
#[derive(Clone, Copy)]
enum Runner {
    Async,
    Threadpool,
    /// On a thread pool, with light messages handled where they arrive.
    Inline,
    /// As `Inline`, and each document's rounds of sync messages at least `INTERVAL` apart.
    Interval,
}

const INTERVAL: Duration = Duration::from_millis(20);

struct Inline(rayon::ThreadPool);

impl DocExecutor for Inline {
    fn spawn_fifo(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        self.0.spawn_fifo(job);
    }

    fn handles_light_messages_inline(&self) -> bool {
        true
    }
}

/// Light messages inline, and an interval between a document's rounds of sync messages, kept by tokio
/// timers.
struct Interval(Arc<rayon::ThreadPool>, tokio::runtime::Handle);

impl DocExecutor for Interval {
    fn spawn_fifo(&self, job: Box<dyn FnOnce() + Send + 'static>) {
        self.0.spawn_fifo(job);
    }

    fn handles_light_messages_inline(&self) -> bool {
        true
    }

    fn sync_interval(&self) -> Option<Duration> {
        Some(INTERVAL)
    }

    fn spawn_at(&self, at: std::time::Instant, job: Box<dyn FnOnce() + Send + 'static>) {
        let pool = self.0.clone();
        self.1.spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            pool.spawn_fifo(job);
        });
    }
}

fn keys(handle: &DocHandle) -> usize {
    handle.with_document(|doc| doc.keys(ROOT).count())
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
        panic!("{} of {n} keystrokes arrived", keys(handle));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_keystroke_of_many_concurrent_typists_reaches_every_peer() {
    for runner in [
        Runner::Async,
        Runner::Threadpool,
        Runner::Inline,
        Runner::Interval,
    ] {
        let mut builder = Repo::build_tokio();
        let pool = || {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
        };
        match runner {
            Runner::Async => {}
            Runner::Threadpool => {
                builder = builder.with_concurrency(ConcurrencyConfig::Threadpool(pool()));
            }
            Runner::Inline => {
                builder =
                    builder.with_concurrency(ConcurrencyConfig::Executor(Arc::new(Inline(pool()))));
            }
            Runner::Interval => {
                builder = builder.with_concurrency(ConcurrencyConfig::Executor(Arc::new(
                    Interval(Arc::new(pool()), tokio::runtime::Handle::current()),
                )));
            }
        }
        let server = builder.load().await;
        let mut clients = Vec::new();
        let mut dialers = Vec::new();
        for _ in 0..TYPISTS {
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
            clients.push(client);
            dialers.push(dialer);
        }
        let first = clients[0].create(Automerge::new()).await.unwrap();
        let id = first.document_id().clone();
        let at_server = server.find(id.clone()).await.unwrap().unwrap();
        let mut handles = vec![first];
        for client in &clients[1..] {
            handles.push(client.find(id.clone()).await.unwrap().unwrap());
        }

        let typists: Vec<_> = handles
            .iter()
            .enumerate()
            .map(|(i, handle)| {
                let handle = handle.clone();
                tokio::spawn(async move {
                    for k in 0..KEYSTROKES {
                        handle.with_document(|doc| {
                            doc.transact::<_, _, automerge::AutomergeError>(|tx| {
                                tx.put(ROOT, format!("typist{i}key{k}"), k as i64)
                            })
                            .unwrap();
                        });
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for typist in typists {
            typist.await.unwrap();
        }

        let all = TYPISTS * KEYSTROKES;
        has_keys(&at_server, all).await;
        for handle in &handles {
            has_keys(handle, all).await;
        }
        let heads = at_server.with_document(|doc| doc.get_heads());
        for handle in &handles {
            // The same heads everywhere: nothing is left half-sent.
            let wait = async {
                let mut changes = handle.changes();
                while handle.with_document(|doc| doc.get_heads()) != heads {
                    changes.next().await.expect("the document stays open");
                }
            };
            tokio::time::timeout(PATIENCE, wait)
                .await
                .expect("converged");
        }
        for dialer in dialers {
            dialer.close();
        }
        for repo in clients.into_iter().chain([server]) {
            repo.stop().await;
        }
    }
}
