//! An executor with a sync interval: a document edited again within the interval of its last round of
//! sync messages holds its peers' messages back until a timer says the time is up, then sends each peer
//! one message carrying everything since. The timer here is driven by the test, so what was held and
//! when it went out are known exactly.
#![cfg(feature = "tokio")]
#![cfg(feature = "threadpool")]

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use automerge::{Automerge, ROOT, ReadDoc, transaction::Transactable};
use futures::StreamExt;
use samod::{
    BackoffConfig, ConcurrencyConfig, DocExecutor, DocHandle, Repo,
    transport::channel::ChannelDialer,
};

const PATIENCE: Duration = Duration::from_secs(20);

type Job = Box<dyn FnOnce() + Send + 'static>;

/// One rayon thread, an interval the test sets (each document keeps the one it was spawned with), and
/// timers that fire only when the test says.
struct ManualTimers {
    pool: Arc<rayon::ThreadPool>,
    interval: Mutex<Duration>,
    armed: Mutex<Vec<Job>>,
    /// How many timers are armed and not fired.
    pending: tokio::sync::watch::Sender<usize>,
}

impl DocExecutor for ManualTimers {
    fn spawn_fifo(&self, job: Job) {
        self.pool.spawn_fifo(job);
    }

    fn sync_interval(&self) -> Option<Duration> {
        Some(*self.interval.lock().unwrap())
    }

    fn spawn_at(&self, at: Instant, job: Job) {
        assert!(
            at > Instant::now() + Duration::from_secs(3000),
            "armed for the interval's end"
        );
        let mut armed = self.armed.lock().unwrap();
        armed.push(job);
        self.pending.send_replace(armed.len());
    }
}

impl ManualTimers {
    /// Fires every armed timer, on the pool as the executor's `spawn_at` would.
    fn fire(&self) -> usize {
        let jobs = {
            let mut armed = self.armed.lock().unwrap();
            self.pending.send_replace(0);
            std::mem::take(&mut *armed)
        };
        let fired = jobs.len();
        for job in jobs {
            self.pool.spawn_fifo(job);
        }
        fired
    }

    /// Waits until a timer is armed.
    async fn armed(&self) {
        let mut pending = self.pending.subscribe();
        tokio::time::timeout(PATIENCE, pending.wait_for(|n| *n > 0))
            .await
            .expect("a timer is armed")
            .unwrap();
    }

    /// Waits for `wait`, firing every timer armed meanwhile: setting a document up takes several
    /// rounds, which an hour's interval would hold.
    async fn firing<T>(&self, wait: impl std::future::Future<Output = T>) -> T {
        let mut pending = self.pending.subscribe();
        tokio::pin!(wait);
        loop {
            tokio::select! {
                done = &mut wait => return done,
                changed = pending.wait_for(|n| *n > 0) => {
                    changed.unwrap();
                    self.fire();
                }
            }
        }
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

/// Waits until a peer of `handle` says it has `handle`'s current heads.
async fn acknowledged(handle: &DocHandle) {
    let mut heads = handle.with_document(|doc| doc.get_heads());
    heads.sort();
    let said = |states: &std::collections::HashMap<samod::ConnectionId, samod::PeerDocState>| {
        states.values().any(|peer| {
            peer.their_heads.clone().is_some_and(|mut theirs| {
                theirs.sort();
                theirs == heads
            })
        })
    };
    let (now, mut later) = handle.peers();
    if said(&now) {
        return;
    }
    let wait = async {
        while let Some(changed) = later.next().await {
            if said(&changed) {
                return;
            }
        }
        panic!("the peer states ended");
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the server acknowledged the writer's keys before the interval was up");
}

async fn client(server: &Repo) -> (Repo, samod::DialerHandle) {
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
    (client, dialer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_within_the_interval_are_held_and_then_sent_in_one_message() {
    let timers = Arc::new(ManualTimers {
        pool: Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap(),
        ),
        interval: Mutex::new(Duration::ZERO),
        armed: Mutex::new(Vec::new()),
        pending: tokio::sync::watch::Sender::new(0),
    });
    let server = Repo::build_tokio()
        .with_concurrency(ConcurrencyConfig::Executor(timers.clone()))
        .load()
        .await;
    let (writer, writer_dial) = client(&server).await;
    let (reader, reader_dial) = client(&server).await;

    // A document whose last round is older than its interval sends at once: with no interval, every
    // key reaches the reader without any timer.
    let quiet = writer.create(Automerge::new()).await.unwrap();
    server
        .find(quiet.document_id().clone())
        .await
        .unwrap()
        .unwrap();
    let quiet_at_reader = reader
        .find(quiet.document_id().clone())
        .await
        .unwrap()
        .unwrap();
    type_key(&quiet, "first");
    has_keys(&quiet_at_reader, 1).await;
    assert_eq!(timers.fire(), 0, "nothing was held");

    // A document spawned with an hour's interval: after its first round, every round waits for a
    // timer.
    *timers.interval.lock().unwrap() = Duration::from_secs(3600);
    let doc = writer.create(Automerge::new()).await.unwrap();
    let id = doc.document_id().clone();
    let at_server = timers
        .firing(server.find(id.clone()))
        .await
        .unwrap()
        .unwrap();
    let at_reader = timers.firing(reader.find(id)).await.unwrap().unwrap();

    // Keys typed now reach the server and wait there, behind a timer (armed by them, or still armed
    // from the set-up: either way nothing goes to the reader before it fires).
    for k in 0..5 {
        type_key(&doc, &format!("held{k}"));
    }
    has_keys(&at_server, 5).await;
    timers.armed().await;
    assert_eq!(
        keys(&at_reader),
        0,
        "the reader is told nothing before the interval is up"
    );
    // The writer hears that the server stored its keys without waiting for the interval: only the
    // other peers' messages are held.
    acknowledged(&doc).await;
    assert_eq!(keys(&at_reader), 0, "still held for the reader");

    // The interval is up: one message carries all five to the reader.
    let mut reader_changes = at_reader.changes();
    assert_eq!(timers.fire(), 1, "one timer for everything held");
    tokio::time::timeout(PATIENCE, reader_changes.next())
        .await
        .expect("the held message arrives")
        .expect("the document stays open");
    assert_eq!(keys(&at_reader), 5, "every held key in the one message");

    let heads = at_server.with_document(|d| d.get_heads());
    assert_eq!(at_reader.with_document(|d| d.get_heads()), heads);

    writer_dial.close();
    reader_dial.close();
    for repo in [writer, reader, server] {
        repo.stop().await;
    }
}
