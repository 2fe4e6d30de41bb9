//! Relay instances side by side over NATS (`--nats-url`; docs/scale-out.md, "What goes through NATS"): what
//! one instance fans out to its own room sockets reaches every other instance's sockets of the team, and
//! revocations (membership, ended sessions) reach every instance's connections.
//!
//! One task owns the NATS client. The relay talks to it through a cloneable [`Cluster`]:
//! - the rooms hub hands it every room operation made here (`Cluster::publish_room`; never waits: a full
//!   queue drops the frame, as a lost NATS connection would) and says which teams it holds sockets of
//!   (`Cluster::follow_room`), which are the `teamflow.room.<team>` subjects this instance follows;
//! - the sync repo follows `teamflow.doc.<document>` for each document it holds and publishes its
//!   clients' changes there (`Cluster::follow_document`, `Cluster::publish_document`; `sync::forward`);
//! - membership and document-registry changes (`Cluster::announce_access`) and ended sessions
//!   (`Cluster::announce_sessions`) go to every instance.
//!
//! What arrives from other instances is applied through the same doors as what happens here: room
//! operations through the hub (`RoomsHandle::remote`), access changes through `Events::apply_remote` (the
//! access cache, which document sync re-checks, then the rooms), ended sessions through
//! `LiveSessions::end`. Without `--nats-url` a `Cluster` is disabled: every call is a no-op and no NATS
//! code runs.
//!
//! Core NATS is at-most-once. A frame published while an instance's connection is down is lost to it:
//! presence and typing are ephemeral, chat messages are in the database (clients catch up on their next
//! join), and ended sessions are also in `account_changes`, which every instance follows. Membership
//! changes are not in a feed, so when the connection comes back the instance re-checks what it holds: its
//! access cache is emptied (sync connections re-decide), every room socket's membership is read again, and
//! every room asks and tells who is online (`Events::recheck_everything`, `RoomsHandle::reannounce`). It
//! also asks every other instance to do the same (`teamflow.cluster.recheck`): what it announced while cut
//! off may never have left it; and every followed document catches up from storage and asks the others
//! for what it lacks, as at its opening. Every instance says it is alive every 2 s (and that it stops), so
//! the users online only through one that died go offline on the others.
//!
//! Access notices never wait for NATS, but are never lost silently either: they have a queue of their own
//! (a flood of room frames does not crowd them out), and one that cannot be queued makes this instance ask
//! every instance to re-check what it holds, as a reconnection does.

mod task;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::HeaderMap;
use bytes::Bytes;
use teamflow_protocol::TeamId;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use task::Receivers;
pub use wire::{AccessChangeNotice, AccessNotice, DocumentMessage, InstanceId, RoomOp, SessionsNotice, WireError};

/// Room frames (and, in their own queue, access notices) waiting to be published, at most, unless the
/// configuration says otherwise (`Config::nats_queue`); past it room frames are dropped (and counted in the
/// log), and a notice that does not fit makes every instance re-check.
pub const OUTBOX: usize = 8192;

/// Document messages waiting to be published, at most: their publishers wait for room.
const DOCUMENT_OUTBOX: usize = 1024;

/// How long a join waits for its room's subscription to be confirmed by the NATS server. Confirmed, a
/// joined socket hears everything published to its team after its join; past this (NATS unreachable at the
/// moment), the join goes ahead and the socket hears the other instances once the subscription is made.
const FOLLOW_PATIENCE: Duration = Duration::from_secs(2);

/// How long a connection to NATS may take at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the relay could not join its cluster at start. The URL is never repeated: it may hold a password.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("--nats-url: cannot reach the NATS server ({0}); start it or correct the URL")]
    Unreachable(String),
    #[error("--nats-url: subscribing to {subject} failed: {reason}")]
    Subscribe { subject: &'static str, reason: String },
}

/// The relay's door to the other instances; disabled (every call a no-op) without `--nats-url`.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    shared: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    instance: InstanceId,
    /// For document subscriptions, made by the sync repo's followers themselves (one per held document).
    client: async_nats::Client,
    /// Room frames for NATS.
    frames: Queue,
    /// Access notices and ended sign-ins for NATS: apart from room frames, so a flood of frames cannot
    /// crowd them out.
    notices: Queue,
    /// Document messages for NATS (their publishers wait for room).
    documents: mpsc::Sender<Outgoing>,
    /// Set when an access notice (or a room revocation) could not be queued: every instance must then
    /// re-check what it holds, as after a lost connection. `owed` wakes the task.
    recheck_owed: AtomicBool,
    owed: Notify,
    /// Counts reconnections to NATS (and re-check notices from other instances): each document follower
    /// then catches up from storage and asks the others for what it lacks.
    resync: watch::Sender<u64>,
    /// Teams whose room the hub began (true) or stopped (false) holding sockets of, since the task last
    /// looked: the last word per team counts, so the hub never waits and nothing is lost.
    interest: Mutex<HashMap<TeamId, bool>>,
    interest_changed: Notify,
    /// Told when the connection to NATS is back after being lost.
    reconnected: Arc<Notify>,
    /// Rooms followed: team -> (which subscription, whether the server has confirmed it).
    followed: watch::Sender<HashMap<TeamId, (u64, bool)>>,
    /// Room frames dropped because the outbox was full.
    dropped: AtomicU64,
}

/// One message to publish.
#[derive(Debug)]
struct Outgoing {
    subject: String,
    headers: HeaderMap,
    payload: Bytes,
}

/// A bounded queue that never makes its producers wait: full (`capacity` waiting), it refuses. A capacity
/// of 0 refuses everything, which is how tests see what a full queue does.
#[derive(Debug)]
struct Queue {
    items: Mutex<VecDeque<Outgoing>>,
    capacity: usize,
    ready: Notify,
}

impl Queue {
    fn new(capacity: usize) -> Self {
        Self { items: Mutex::default(), capacity, ready: Notify::new() }
    }

    /// Queues `outgoing`, or answers it back when the queue is full.
    fn push(&self, outgoing: Outgoing) -> Result<(), Outgoing> {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        if items.len() >= self.capacity {
            return Err(outgoing);
        }
        items.push_back(outgoing);
        drop(items);
        self.ready.notify_one();
        Ok(())
    }

    fn pop(&self) -> Option<Outgoing> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
    }

    /// The next message, once there is one. Cancel-safe: a message is taken only when this returns it.
    async fn next(&self) -> Outgoing {
        loop {
            if let Some(outgoing) = self.pop() {
                return outgoing;
            }
            // A push between the pop and here leaves a permit: nothing is missed.
            self.ready.notified().await;
        }
    }
}

/// What a document follower hears: another instance's message, or that the connection to NATS came back
/// (what was published meanwhile never reached this instance).
#[derive(Debug)]
pub(crate) enum DocumentEvent {
    Message(DocumentMessage),
    Reconnected,
}

/// What other instances publish on one document's subject.
#[derive(Debug)]
pub(crate) struct DocumentFeed {
    subscriber: async_nats::Subscriber,
    instance: InstanceId,
    resync: watch::Receiver<u64>,
}

impl DocumentFeed {
    /// The next message from another instance, or word that NATS is back after an outage; `None` once the
    /// subscription has ended. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Option<DocumentEvent> {
        use futures::StreamExt as _;
        loop {
            let message = tokio::select! {
                message = self.subscriber.next() => message?,
                changed = self.resync.changed() => match changed {
                    Ok(()) => return Some(DocumentEvent::Reconnected),
                    // The cluster is gone: the subscription ends with it.
                    Err(_) => return None,
                },
            };
            match wire::decode_document(message.headers.as_ref(), message.payload) {
                Ok((from, _)) if from == self.instance => {}
                Ok((_, decoded)) => return Some(DocumentEvent::Message(decoded)),
                Err(e) => tracing::warn!(error = %e, subject = %message.subject, "document message ignored"),
            }
        }
    }
}

/// A connection to NATS made at start, before the relay's other parts exist; [`Connected::spawn`] then
/// hands it what received messages are applied to.
pub struct Connected {
    cluster: Cluster,
    client: async_nats::Client,
    documents: mpsc::Receiver<Outgoing>,
}

impl std::fmt::Debug for Connected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connected").field("cluster", &self.cluster).finish_non_exhaustive()
    }
}

/// Connects to NATS at `url`; fails if the server does not answer (async-nats reconnects by itself once
/// connected, so only the start can fail). `queue`: how many room frames, and apart from them how many
/// notices, may wait for NATS ([`OUTBOX`] in the binary).
pub async fn connect(url: &str, queue: usize) -> Result<Connected, ClusterError> {
    let instance = InstanceId::new_v4();
    let reconnected = Arc::new(Notify::new());
    let lost = Arc::new(AtomicBool::new(false));
    let (back, was_lost) = (reconnected.clone(), lost.clone());
    let client = async_nats::ConnectOptions::new()
        .name(format!("teamflow-relay {instance}"))
        // Its own messages come back to no instance: they were delivered here already.
        .no_echo()
        .connection_timeout(CONNECT_TIMEOUT)
        .event_callback(move |event| {
            let (back, was_lost) = (back.clone(), was_lost.clone());
            async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!("NATS connected");
                        if was_lost.swap(false, Ordering::SeqCst) {
                            back.notify_one();
                        }
                    }
                    async_nats::Event::Disconnected => {
                        was_lost.store(true, Ordering::SeqCst);
                        tracing::warn!("NATS connection lost; reconnecting (room frames meanwhile are not relayed)");
                    }
                    other => tracing::warn!(event = %other, "NATS"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(|e| {
            let cause = std::error::Error::source(&e).map(|s| format!(": {s}")).unwrap_or_default();
            ClusterError::Unreachable(format!("{}{cause}", e.kind()))
        })?;
    let (documents, documents_rx) = mpsc::channel(DOCUMENT_OUTBOX);
    let shared = Shared {
        instance,
        client: client.clone(),
        frames: Queue::new(queue),
        notices: Queue::new(queue),
        documents,
        recheck_owed: AtomicBool::new(false),
        owed: Notify::new(),
        resync: watch::Sender::new(0),
        interest: Mutex::default(),
        interest_changed: Notify::new(),
        reconnected,
        followed: watch::Sender::new(HashMap::new()),
        dropped: AtomicU64::new(0),
    };
    tracing::info!(%instance, "joined the relay cluster over NATS");
    Ok(Connected { cluster: Cluster { shared: Some(Arc::new(shared)) }, client, documents: documents_rx })
}

impl Connected {
    /// The handle the relay's parts are built with.
    pub fn cluster(&self) -> Cluster {
        self.cluster.clone()
    }

    /// Subscribes to the notices every instance follows (confirmed by the server before this returns),
    /// then runs the cluster task until `shutdown`.
    pub async fn spawn(
        self,
        receivers: Receivers,
        shutdown: CancellationToken,
    ) -> Result<tokio::task::JoinHandle<()>, ClusterError> {
        task::spawn(self, receivers, shutdown).await
    }
}

/// Answers once the NATS server has taken everything this client sent before, a subscription just made
/// included: from then on, everything published to it arrives. A request nobody serves, which the server
/// answers itself ("no responders") after the operations before it on this connection. (async-nats's
/// `flush` only writes them to the socket: a message another client published a moment later could reach
/// the server first, and miss the subscription.)
pub async fn round_trip(client: &async_nats::Client) -> Result<(), async_nats::RequestError> {
    match client.request(wire::ROUND_TRIP, Bytes::new()).await {
        Err(e) if e.kind() != async_nats::RequestErrorKind::NoResponders => Err(e),
        _ => Ok(()),
    }
}

impl Cluster {
    /// No other instances: every call does nothing.
    pub fn disabled() -> Self {
        Self { shared: None }
    }

    /// This instance's id in the cluster, if it is in one.
    pub fn instance(&self) -> Option<InstanceId> {
        self.shared.as_ref().map(|s| s.instance)
    }

    /// Publishes a room operation made here to the instances following the team. Never waits.
    pub(crate) fn publish_room(&self, team: TeamId, op: &RoomOp) {
        let Some(shared) = &self.shared else { return };
        let (headers, payload) = wire::encode_room(shared.instance, op);
        let outgoing = Outgoing { subject: wire::room_subject(team), headers, payload };
        if shared.frames.push(outgoing).is_err() {
            let dropped = shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // A revocation lost here is also in the membership notice, unless that was lost too: re-check.
            if matches!(op, RoomOp::Revoke(_) | RoomOp::Close) {
                shared.owe_recheck();
            }
            // Logged once per thousand, not per frame: a full queue comes in bursts.
            if dropped % 1000 == 1 {
                tracing::warn!(dropped, "NATS outbox full; room frames dropped");
            }
        }
    }

    /// Follows a document's changes as other instances publish them: subscribed, and confirmed by the
    /// server, when this returns (so nothing published after is missed). `None` without a cluster, or when
    /// NATS refused. Dropping the feed unsubscribes.
    pub(crate) async fn follow_document(&self, document: &str) -> Option<DocumentFeed> {
        let shared = self.shared.as_ref()?;
        let subscriber = match shared.client.subscribe(wire::document_subject(document)).await {
            Ok(subscriber) => subscriber,
            Err(e) => {
                tracing::warn!(error = %e, document, "could not follow the document over NATS");
                return None;
            }
        };
        // Marked seen before the subscription is confirmed: a reconnection from here on is reported.
        let resync = shared.resync.subscribe();
        if let Err(e) = round_trip(&shared.client).await {
            tracing::warn!(error = %e, document, "document subscription not confirmed; following anyway");
        }
        Some(DocumentFeed { subscriber, instance: shared.instance, resync })
    }

    /// Tells the instances holding a document changes made through this one (or the heads this one holds).
    /// Waits for room in the queue: the caller is the document's own follower, and a dropped change would
    /// reach the others only when they next load the document.
    pub(crate) async fn publish_document(&self, document: &str, message: DocumentMessage) {
        let Some(shared) = &self.shared else { return };
        let (headers, payload) = wire::encode_document(shared.instance, message);
        let outgoing = Outgoing { subject: wire::document_subject(document), headers, payload };
        if shared.documents.send(outgoing).await.is_err() {
            tracing::warn!(document, "the cluster task has stopped; document changes not published");
        }
    }

    /// The hub holds sockets of `team` (or no longer does): follow its room subject (or stop).
    pub(crate) fn follow_room(&self, team: TeamId, follow: bool) {
        let Some(shared) = &self.shared else { return };
        shared.interest.lock().unwrap_or_else(PoisonError::into_inner).insert(team, follow);
        shared.interest_changed.notify_one();
    }

    /// Waits until the team's room subscription is confirmed by the server, at most [`FOLLOW_PATIENCE`].
    pub(crate) async fn room_followed(&self, team: TeamId) {
        let Some(shared) = &self.shared else { return };
        let mut followed = shared.followed.subscribe();
        let confirmed = followed.wait_for(|rooms| rooms.get(&team).is_some_and(|(_, confirmed)| *confirmed));
        if tokio::time::timeout(FOLLOW_PATIENCE, confirmed).await.is_err() {
            tracing::warn!(%team, "room subscription not confirmed by NATS in time; joining anyway");
        }
    }

    /// Tells every instance that who may reach what in a team changed. Never waits: with NATS down long
    /// enough to fill the queue, the change the caller committed must not hang on it. A notice that cannot
    /// be queued is made up for: this instance asks every instance to re-check what it holds
    /// (`teamflow.cluster.recheck`) as soon as its task can publish, which reads the change from the
    /// database.
    pub(crate) fn announce_access(&self, notice: &AccessNotice) {
        let Some(shared) = &self.shared else { return };
        let Some((headers, payload)) = wire::encode_notice(shared.instance, notice) else { return };
        let outgoing = Outgoing { subject: wire::access_subject(notice), headers, payload };
        if shared.notices.push(outgoing).is_err() {
            shared.owe_recheck();
            tracing::warn!(team = %notice.team, "access notice not queued for NATS; every instance will re-check instead");
        }
    }

    /// Tells every instance that sign-ins ended. Never waits (it is called where a lock may be held); a
    /// notice that finds the queue full is not lost to the cluster: every instance also follows
    /// `account_changes`.
    pub(crate) fn announce_sessions(&self, notice: &SessionsNotice) {
        let Some(shared) = &self.shared else { return };
        let Some((headers, payload)) = wire::encode_notice(shared.instance, notice) else { return };
        let outgoing = Outgoing { subject: wire::account_subject(notice.user), headers, payload };
        if shared.notices.push(outgoing).is_err() {
            tracing::warn!("ended sessions not announced over NATS; other instances read them from the database");
        }
    }
}

impl Shared {
    /// A notice was lost on its way to NATS: the task asks every instance to re-check.
    fn owe_recheck(&self) {
        self.recheck_owed.store(true, Ordering::SeqCst);
        self.owed.notify_one();
    }
}
