//! An executor that handles light messages inline: a keystroke from a peer already in sync reaches the
//! document while every document thread is busy, and everything else still waits for the threads; the
//! light messages handled in one poll of the repo's IO loop send each peer one sync message between them.
#![cfg(feature = "tokio")]
#![cfg(feature = "threadpool")]

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    time::Duration,
};

use automerge::{Automerge, ROOT, ReadDoc, transaction::Transactable};
use futures::{StreamExt, channel::mpsc as chan, future::BoxFuture};
use samod::{
    AcceptorHandle, BackoffConfig, ConcurrencyConfig, ConnectionId, DialError, Dialer, DocExecutor,
    DocHandle, PeerDocState, Repo, Transport, transport::channel::ChannelDialer,
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
    // completes on the thread later, and the next one waits behind that. (Waiting on the change events,
    // not the document: a test holding the server's document lock would send the keystroke to the
    // busy thread.)
    let mut changed = at_server.changes();
    type_key(&typed, "second");
    tokio::time::timeout(PATIENCE, changed.next())
        .await
        .expect("the keystroke arrived while the thread was busy")
        .expect("the document stays open");
    assert_eq!(keys(&at_server), 2);

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

/// A client's frames to the server, held while the gate is shut and let through together when it opens.
#[derive(Default)]
struct Gate {
    state: Mutex<GateState>,
    held: tokio::sync::Notify,
}

#[derive(Default)]
struct GateState {
    shut: bool,
    held: Vec<Vec<u8>>,
    to_server: Option<chan::UnboundedSender<Vec<u8>>>,
}

impl Gate {
    fn pass(&self, frame: Vec<u8>) {
        let mut state = self.state.lock().unwrap();
        if state.shut {
            state.held.push(frame);
            self.held.notify_one();
        } else if let Some(to_server) = &state.to_server {
            to_server.unbounded_send(frame).ok();
        }
    }

    fn shut(&self) {
        self.state.lock().unwrap().shut = true;
    }

    /// Waits until the client sent a frame since the gate shut.
    async fn holds_a_frame(&self) {
        loop {
            let notified = self.held.notified();
            if !self.state.lock().unwrap().held.is_empty() {
                return;
            }
            tokio::time::timeout(PATIENCE, notified)
                .await
                .expect("a frame from the client");
        }
    }

    fn open(&self) {
        let mut state = self.state.lock().unwrap();
        state.shut = false;
        let held = std::mem::take(&mut state.held);
        for frame in held {
            state
                .to_server
                .as_ref()
                .unwrap()
                .unbounded_send(frame)
                .unwrap();
        }
    }
}

/// Dials `acceptor` in memory through `gate`, counting the frames the server sends back.
struct GatedDialer {
    acceptor: AcceptorHandle,
    gate: Arc<Gate>,
    received: Arc<AtomicUsize>,
}

impl Dialer for GatedDialer {
    type Error = Infallible;

    fn url(&self) -> samod::Url {
        samod::Url::parse("channel://gated").unwrap()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Infallible>>> {
        let (acceptor, gate, received) = (
            self.acceptor.clone(),
            self.gate.clone(),
            self.received.clone(),
        );
        Box::pin(async move {
            let (to_server, from_client) = chan::unbounded::<Vec<u8>>();
            let (to_client, from_server) = chan::unbounded::<Vec<u8>>();
            let (client_sink, mut client_frames) = chan::unbounded::<Vec<u8>>();
            gate.state.lock().unwrap().to_server = Some(to_server);
            tokio::spawn(async move {
                while let Some(frame) = client_frames.next().await {
                    gate.pass(frame);
                }
            });
            acceptor
                .accept(Transport::new(
                    from_client.map(Ok::<_, Infallible>),
                    to_client,
                ))
                .map_err(DialError::transient)?;
            let from_server = from_server.map(move |frame| {
                received.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Infallible>(frame)
            });
            Ok(Transport::new(from_server, client_sink))
        })
    }
}

#[tokio::test]
async fn light_messages_handled_in_one_poll_reach_a_peer_in_one_message() {
    let threads = Arc::new(Inline(
        rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap(),
    ));
    let (writes, held_writes) = tokio::sync::watch::channel(true);
    let server = Repo::build_tokio()
        .with_concurrency(ConcurrencyConfig::Executor(threads))
        .with_storage(HeldWrites {
            inner: samod::storage::InMemoryStorage::new(),
            open: held_writes,
        })
        .load()
        .await;
    let acceptor = server
        .make_acceptor(samod::Url::parse("channel://server").unwrap())
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (gate, received) = (Arc::new(Gate::default()), Arc::new(AtomicUsize::new(0)));
        let repo = Repo::build_tokio().load().await;
        let dialer = repo
            .dial(
                BackoffConfig::default(),
                Arc::new(GatedDialer {
                    acceptor: acceptor.clone(),
                    gate: gate.clone(),
                    received: received.clone(),
                }),
            )
            .unwrap();
        dialer.established().await.unwrap();
        clients.push((repo, dialer, gate, received));
    }
    let first = clients[0].0.create(Automerge::new()).await.unwrap();
    type_key(&first, "start");
    acknowledged(&first).await;
    let id = first.document_id().clone();
    let mut handles = vec![first];
    for (repo, ..) in &clients[1..] {
        handles.push(repo.find(id.clone()).await.unwrap().unwrap());
    }
    for handle in &handles {
        has_keys(handle, 1).await;
        acknowledged(handle).await;
    }

    // Two typists' keystrokes reach the server together; the third client only reads. The server's writes
    // wait meanwhile, so no write's completion runs the document on its thread in between.
    writes.send(false).unwrap();
    let (reader, before) = (&handles[2], clients[2].3.load(Ordering::SeqCst));
    for (i, typist) in handles[..2].iter().enumerate() {
        clients[i].2.shut();
        type_key(typist, &format!("typist{i}"));
        clients[i].2.holds_a_frame().await;
    }
    // Both let through before this task yields: the server's IO loop finds both in one poll.
    clients[0].2.open();
    clients[1].2.open();
    has_keys(reader, 3).await;
    assert_eq!(
        clients[2].3.load(Ordering::SeqCst) - before,
        1,
        "one sync message carries both keystrokes"
    );
    writes.send(true).unwrap();
    for handle in &handles {
        acknowledged(handle).await;
    }
    for (repo, dialer, ..) in clients {
        dialer.close();
        repo.stop().await;
    }
    server.stop().await;
}
