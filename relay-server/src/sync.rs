//! Document sync on `/sync`: samod (automerge-repo's protocol) behind this one module, so an upgrade of
//! samod touches only here.
//!
//! The relay keeps every document it is sent (in SQLite, `sync::storage`), never announces documents, and
//! shares each one only as the SQL registry and team roles allow (`sync::policy`). A peer's identity is the
//! user of its verified access token: the peer id it must use is `<user_id>:<device>`, and samod closes a
//! connection whose handshake claims anything else.

pub mod caps;
mod doc_threads;
mod first_sync;
mod forward;
mod gate;
mod memory;
mod policy;
pub mod storage;

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::{SinkExt, StreamExt, TryStreamExt, future};
use samod::{PeerId, Repo, Transport};
use teamflow_protocol::UserId;
use tokio::sync::oneshot;
use tokio_util::sync::{CancellationToken, PollSender};
use tokio_util::task::TaskTracker;

use doc_threads::DocThreads;
use first_sync::{FirstSync, Routed};
use gate::{Gate, Gated};
pub use memory::{LoadedWatch, Memory};
pub use policy::TeamSharePolicy;
pub use storage::DbStorage;
use teamflow_sync::writer::{Drained, drain};

use crate::access::Access;
use crate::error::ApiError;

/// Sync messages queued for one peer before samod waits for the socket.
const SEND_QUEUE: usize = 64;

/// Per-connection limits of document sync.
#[derive(Debug, Clone, Copy)]
pub struct SyncLimits {
    pub write_timeout: std::time::Duration,
}

/// A peer must finish the protocol handshake this soon after the upgrade, or the connection is closed.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub use teamflow_sync::RELAY_PEER_ID;

/// The user a peer id speaks for: peer ids are `<user_id>` or `<user_id>:<anything>`.
pub fn peer_user(peer: &str) -> Option<UserId> {
    peer.split_once(':').map_or(peer, |(user, _)| user).parse().ok()
}

/// Checks a peer id a connecting client announces against the user its token names.
pub fn expected_peer(user: UserId, peer: &str) -> Result<PeerId, ApiError> {
    let valid_shape = !peer.is_empty() && peer.len() <= 200 && !peer.chars().any(char::is_control);
    if !valid_shape || peer_user(peer) != Some(user) {
        return Err(ApiError::field("peer_id", "must be `<your user id>:<device name>`"));
    }
    Ok(PeerId::from(peer))
}

/// Why document sync could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("document threads: {0}")]
    Threads(#[from] std::io::Error),
    #[error("acceptor URL: {0}")]
    Url(#[from] url::ParseError),
    #[error("the sync repo stopped before it accepted connections")]
    Stopped,
}

/// The running sync server: a samod repo and the acceptor that upgraded sockets are handed to.
#[derive(Clone)]
pub struct SyncServer {
    repo: Repo,
    acceptor: samod::AcceptorHandle,
    first: FirstSync,
    db: crate::db::Db,
    policy: TeamSharePolicy,
    caps: caps::Caps,
    metrics: SyncMetrics,
    /// The task returning unloaded documents' memory to the system, stopped by `stop`.
    housekeeping: TaskTracker,
    stop_housekeeping: CancellationToken,
}

/// What the sync server counts beyond the first-sync cache.
#[derive(Clone)]
struct SyncMetrics {
    /// Documents samod holds in memory: those a connected peer has open, and those unused for less than the
    /// idle period (docs/sync.md, "Memory").
    loaded: prometheus::IntGauge,
    /// Frames answered unavailable (or dropped) before samod, for documents the peer may not read.
    refused: prometheus::IntCounter,
    /// Frames held back by the per-user frame rate cap (they wait; none is dropped).
    throttled: prometheus::IntCounter,
    /// Document requests the access cache refused that were checked against the database.
    rechecked: prometheus::IntCounter,
}

impl std::fmt::Debug for SyncServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncServer").finish_non_exhaustive()
    }
}

impl SyncServer {
    pub async fn start(
        db: crate::db::Db,
        access: Access,
        caps: caps::Caps,
        memory: Memory,
        cluster: crate::cluster::Cluster,
        sync_interval: Option<std::time::Duration>,
    ) -> Result<Self, StartError> {
        // samod's default runs each document as a task on the async runtime, where one expensive sync
        // message (a fresh peer of a large document costs a full save and a bloom filter of every change)
        // holds a runtime thread for as long as it takes. Measured in the join storm (docs/benchmarks.md):
        // share-policy lookups starved past the database pool's timeout and were denied. On their own
        // threads, documents compete with the rest of the relay only for CPU.
        let policy = TeamSharePolicy::new(access);
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let mut documents = DocThreads::new(threads, |i| format!("sync-doc-{i}"))?;
        if let Some(interval) = sync_interval {
            documents = documents.with_sync_interval(interval, tokio::runtime::Handle::current());
        }
        let metrics = SyncMetrics {
            loaded: prometheus::IntGauge::new("sync_documents_loaded", "Documents the sync repo holds in memory")
                .unwrap_or_else(|e| unreachable!("a valid metric definition: {e}")),
            refused: prometheus::IntCounter::new(
                "sync_unavailable_total",
                "Sync frames refused before the repo, for documents the peer may not read",
            )
            .unwrap_or_else(|e| unreachable!("a valid metric definition: {e}")),
            throttled: prometheus::IntCounter::new(
                "sync_throttled_total",
                "Sync frames held back by the per-user frame rate cap (they wait, none is dropped)",
            )
            .unwrap_or_else(|e| unreachable!("a valid metric definition: {e}")),
            rechecked: prometheus::IntCounter::new(
                "sync_database_rechecks_total",
                "Document requests the access cache refused that were checked against the database",
            )
            .unwrap_or_else(|e| unreachable!("a valid metric definition: {e}")),
        };
        let (unloaded, unloads) = tokio::sync::watch::channel(0_u64);
        // Changes travel between instances only in a cluster (`--nats-url`); otherwise nothing of it runs.
        let forwarded = cluster.instance().is_some().then(|| Arc::new(forward::Opened::default()));
        let observer = memory::LoadedDocuments::new(metrics.loaded.clone(), unloaded, memory.loaded, forwarded.clone());
        let storage = DbStorage::new(db.clone());
        let mut builder = Repo::build_tokio()
            .with_concurrency(samod::ConcurrencyConfig::Executor(Arc::new(documents.clone())))
            .with_peer_id(PeerId::from(RELAY_PEER_ID))
            .with_storage(storage.clone())
            .with_share_policy(policy.clone())
            .with_observer(observer);
        // The relay never announces, so a connected peer's interest in a document lives only in samod's
        // state for that peer: such a document stays loaded while the peer is connected (WhileConnected).
        // Nothing is lost by unloading the rest: storage acknowledges a write only after it commits, and
        // samod unloads only a document whose writes are all acknowledged.
        if let Some(idle) = memory.unload_idle {
            builder = builder.with_idle_unload(samod::IdleUnload::after(idle));
        }
        let repo = builder.load().await;
        let first = FirstSync::new(repo.clone(), policy.clone());
        let url = url::Url::parse("teamflow-relay://sync")?;
        let acceptor = repo.make_acceptor(url).map_err(|_| StartError::Stopped)?;
        let (housekeeping, stop_housekeeping) = (TaskTracker::new(), CancellationToken::new());
        housekeeping.spawn(memory::return_memory(documents, unloads, stop_housekeeping.clone()));
        if let Some(opened) = forwarded {
            housekeeping.spawn(forward::run(repo.clone(), storage, cluster, opened, stop_housekeeping.clone()));
        }
        Ok(Self { repo, acceptor, first, db, policy, caps, metrics, housekeeping, stop_housekeeping })
    }

    /// The per-user caps on live connections (sync and realtime).
    pub fn caps(&self) -> &caps::Caps {
        &self.caps
    }

    /// Serves one upgraded socket until it closes, `stop` is cancelled, or `ends` resolves (then with that
    /// close code and reason). The peer must introduce itself as `peer` in the handshake, or samod drops the
    /// connection.
    pub async fn serve(
        &self,
        socket: WebSocket,
        peer: PeerId,
        limits: SyncLimits,
        stop: CancellationToken,
        ends: impl std::future::Future<Output = (u16, &'static str)>,
    ) {
        let Some(user) = peer_user(peer.as_str()) else {
            tracing::warn!(peer = %peer, "sync peer id names no user; closing");
            return;
        };
        // Presence from this connection is stamped with this name (`gate`).
        let name: Option<String> = match sqlx::query_scalar("SELECT display_name FROM users WHERE id = $1")
            .bind(user.to_string())
            .fetch_optional(self.db.pool())
            .await
        {
            Ok(name) => name,
            Err(e) => {
                tracing::error!(error = %e, "could not read the sync peer's display name; closing");
                return;
            }
        };
        let who = (user, peer.clone(), name.unwrap_or_default());
        let counters = (self.metrics.refused.clone(), self.metrics.throttled.clone(), self.metrics.rechecked.clone());
        let gate = Gate::new(who, self.policy.clone(), self.caps.clone(), counters);
        let gate = Arc::new(tokio::sync::Mutex::new(gate));
        let (mut sink, stream) = socket.split();
        // Ends this connection alone: on relay shutdown, a peer that stops reading, or a missed handshake.
        let close = stop.child_token();
        // samod owns the transport from here on; this signal fires when it drops the inbound stream,
        // which is how we learn the connection is over.
        let (finished, on_finished) = oneshot::channel::<()>();
        // samod writes into a bounded queue; one writer drains it to the socket. A write that cannot finish
        // in time means the peer stopped reading: the connection is cut instead of buffering without end.
        let (to_socket, mut queued) = tokio::sync::mpsc::channel::<Vec<u8>>(SEND_QUEUE);
        // One handle per connection, shared by its frames: each frame costs a reference count, not clones.
        let router = Arc::new((self.first.clone(), to_socket.clone(), peer.clone()));
        let incoming = stream
            .take_until(close.clone().cancelled_owned())
            .take_while(|message| future::ready(!matches!(message, Ok(Message::Close(_)))))
            .try_filter_map(|message| {
                future::ready(match message {
                    Message::Binary(bytes) => Ok(Some(bytes.to_vec())),
                    // The protocol is binary; a text frame is a confused or hostile client.
                    Message::Text(_) => Err(axum::Error::new("text frames are not part of the sync protocol")),
                    Message::Ping(_) | Message::Pong(_) | Message::Close(_) => Ok(None),
                })
            })
            // In order, one frame at a time: past the gate (documents the peer may not read are answered
            // unavailable, presence is stamped, caps apply), then an empty peer's first request may be
            // answered here (`first_sync`), the answer queued before samod sees what replaces the request.
            .then(move |item| {
                let (router, gate) = (router.clone(), gate.clone());
                async move {
                    let (first, replies, sender) = &*router;
                    let gated = gate.lock().await.pass(item?).await;
                    let (reply, forward) = match gated {
                        Gated::Drop => (None, None),
                        Gated::Reply(reply) => (Some(reply), None),
                        Gated::Forward(frame) => match first.route(sender, frame).await {
                            Routed::Forward(frame) => (None, Some(frame)),
                            Routed::Answered { reply, forward } => (Some(reply), Some(forward)),
                        },
                    };
                    if let Some(reply) = reply
                        && replies.send(reply).await.is_err()
                    {
                        return Err(axum::Error::new("sync connection closed"));
                    }
                    Ok(forward)
                }
            })
            .try_filter_map(|forward| future::ready(Ok(forward)))
            .map(move |item| {
                let _held_until_dropped = &finished;
                item
            });
        let outgoing = PollSender::new(to_socket).sink_map_err(|_| std::io::Error::other("sync connection closed"));
        // Why the relay ended the connection, when it did so on purpose: sent as its close frame.
        let why = std::sync::OnceLock::<(u16, &'static str)>::new();
        let ender = async {
            tokio::select! {
                reason = ends => {
                    tracing::info!(peer = %peer, code = reason.0, reason = reason.1, "ending sync connection");
                    if why.set(reason).is_err() {
                        tracing::trace!("sync connection already ending");
                    }
                    close.cancel();
                }
                () = close.cancelled() => {}
            }
        };
        let writer = async {
            let outcome = drain(&mut queued, &mut sink, limits.write_timeout, |b| Message::Binary(b.into())).await;
            if outcome == Drained::Stalled {
                tracing::info!(peer = %peer, "sync peer is not reading; closing its connection");
            }
            close.cancel();
            if let Some((code, reason)) = why.get() {
                let frame = CloseFrame { code: *code, reason: Utf8Bytes::from_static(reason) };
                if let Err(e) = sink.send(Message::Close(Some(frame))).await {
                    tracing::debug!(error = %e, "sync close frame not delivered");
                }
            }
            if let Err(e) = sink.close().await {
                tracing::debug!(error = %e, "sync socket did not close cleanly");
            }
        };
        let transport = Transport::new(Box::pin(incoming), Box::pin(outgoing)).with_expected_peer_id(peer.clone());
        let connection = match self.acceptor.accept(transport) {
            Ok(connection) => connection,
            Err(_) => {
                tracing::warn!(peer = %peer, "sync connection refused: the repo has stopped");
                return;
            }
        };
        let lifetime = async {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, connection.handshake_complete()).await {
                Ok(Ok(_)) => {}
                Ok(Err(reason)) => tracing::debug!(peer = %peer, ?reason, "sync connection ended before its handshake"),
                Err(_) => {
                    tracing::info!(peer = %peer, "sync handshake not completed in time; closing");
                    close.cancel();
                }
            }
            // Err means the sender was dropped, which is the signal itself.
            on_finished.await.ok();
        };
        tokio::join!(writer, lifetime, ender);
        tracing::debug!(peer = %peer, "sync connection finished");
    }

    /// The sync server's metrics, for `/metrics`.
    pub fn counters(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.first.built.clone()),
            Box::new(self.first.served.clone()),
            Box::new(self.metrics.loaded.clone()),
            Box::new(self.metrics.refused.clone()),
            Box::new(self.metrics.throttled.clone()),
            Box::new(self.metrics.rechecked.clone()),
        ]
    }

    /// Stops the repo, flushing what it holds to storage.
    pub async fn stop(&self) {
        self.acceptor.close();
        self.repo.stop().await;
        self.stop_housekeeping.cancel();
        self.housekeeping.close();
        self.housekeeping.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_must_name_the_token_user() {
        let user = UserId::new();
        assert!(expected_peer(user, &format!("{user}:laptop")).is_ok());
        assert!(expected_peer(user, &user.to_string()).is_ok());
        let other = UserId::new();
        for bad in [format!("{other}:laptop"), "laptop".into(), String::new(), format!("{user}:a\nb")] {
            assert!(expected_peer(user, &bad).is_err(), "{bad:?}");
        }
        assert_eq!(peer_user(RELAY_PEER_ID), None);
    }
}
