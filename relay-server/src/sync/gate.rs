//! What every frame of a `/sync` connection passes before samod sees it.
//!
//! - **Unavailable before samod.** samod creates state (a document actor, a storage lookup) for every
//!   document id a peer names, and keeps it until shutdown. So a frame about a document the peer may not
//!   read is answered here, `doc-unavailable` for a `request` or `sync` and nothing for anything else,
//!   and samod never hears of it. A document is let through once per connection, after the share
//!   policy's check; from then on samod's own share decisions (live, per revocation) apply. A `request`
//!   or `sync` the access cache refuses is checked against the database too (a grant through another
//!   instance may not have been heard of yet), at most once a second per document and connection, so a
//!   peer repeating refused requests costs cache lookups, not queries.
//! - **Caps.** Distinct documents open per user (a document open on several of the user's connections
//!   counts once, so a device reconnecting while its old connection closes is not refused what it had
//!   open) and frames per second per user (over the rate, the connection is read more slowly:
//!   back-pressure, not breakage).
//! - **Presence.** An `ephemeral` frame carrying `__presence` is stamped with the connection's user, peer
//!   id and display name (`teamflow_sync::stamp_presence`); one sent under another peer's id is dropped.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use samod::{DocumentId, PeerId};
use teamflow_protocol::UserId;
use teamflow_sync::Stamped;
use teamflow_sync::wire::{Header, Message};

use super::caps::Caps;
use super::policy::TeamSharePolicy;

/// What to do with one frame.
#[derive(Debug, PartialEq)]
pub(super) enum Gated {
    /// On to samod (through the first-sync router).
    Forward(Vec<u8>),
    /// Answer the peer with this; samod never sees the frame.
    Reply(Vec<u8>),
    /// Nothing: samod never sees the frame, and the peer is not answered.
    Drop,
}

/// One connection's gate.
pub(super) struct Gate {
    user: UserId,
    peer: PeerId,
    /// The user's display name, as the relay's database has it when the connection opened.
    name: String,
    policy: TeamSharePolicy,
    caps: Caps,
    /// Frames answered (or dropped) here for documents the peer may not read, for `/metrics`.
    refused: prometheus::IntCounter,
    /// Frames that waited for the frame rate cap, for `/metrics`.
    throttled: prometheus::IntCounter,
    /// Refused requests checked against the database, for `/metrics`.
    rechecked: prometheus::IntCounter,
    /// Documents let through to samod on this connection (counted against the user's cap).
    open: HashSet<DocumentId>,
    /// When the database was last asked about a document the cache refused, on this connection.
    asked_database: HashMap<DocumentId, Instant>,
}

/// How often one connection may have the database asked about one refused document.
const DATABASE_RECHECK_EVERY: Duration = Duration::from_secs(1);
/// How many refused documents a connection remembers asking about; past it, the oldest half is dropped.
const DATABASE_RECHECKS_KEPT: usize = 64;

impl Gate {
    pub(super) fn new(
        (user, peer, name): (UserId, PeerId, String),
        policy: TeamSharePolicy,
        caps: Caps,
        (refused, throttled, rechecked): (prometheus::IntCounter, prometheus::IntCounter, prometheus::IntCounter),
    ) -> Self {
        let (open, asked_database) = (HashSet::new(), HashMap::new());
        Self { user, peer, name, policy, caps, refused, throttled, rechecked, open, asked_database }
    }

    pub(super) async fn pass(&mut self, frame: Vec<u8>) -> Gated {
        // Over the user's frame rate, a frame waits for its turn (back pressure on the socket): nothing is
        // dropped, so a burst costs the sender time, not data.
        if self.caps.frames.check_key(&self.user).is_err() {
            self.throttled.inc();
            self.caps.frames.until_key_ready(&self.user).await;
        }
        // Frames that are not about a document (the handshake, `leave`), and bytes that are not a message,
        // are samod's to judge.
        let Some(header) = Header::read(&frame) else { return Gated::Forward(frame) };
        let Some(document) = header.document_id.as_deref().and_then(|d| d.parse::<DocumentId>().ok()) else {
            return Gated::Forward(frame);
        };
        let asks = matches!(header.kind.as_str(), "request" | "sync");
        if !self.open.contains(&document) && !self.admit(&document, asks).await {
            self.refused.inc();
            return match header.kind.as_str() {
                "request" | "sync" => Gated::Reply(
                    Message::DocUnavailable {
                        document_id: document,
                        sender_id: PeerId::from(super::RELAY_PEER_ID),
                        target_id: self.peer.clone(),
                    }
                    .encode(),
                ),
                _ => Gated::Drop,
            };
        }
        if header.kind == "ephemeral" {
            return match teamflow_sync::stamp_presence(&frame, self.user, self.peer.as_str(), &self.name) {
                Stamped::NotPresence => Gated::Forward(frame),
                Stamped::Stamped(stamped) => Gated::Forward(stamped),
                Stamped::Refused => {
                    tracing::debug!(peer = %self.peer, "presence under another peer's id dropped");
                    Gated::Drop
                }
            };
        }
        Gated::Forward(frame)
    }

    /// Lets a document through if the peer may read it and the user is under the documents cap. `asks`: the
    /// frame asks for the document (`request`, `sync`), so a refusal from the cache is checked against the
    /// database.
    async fn admit(&mut self, document: &DocumentId, asks: bool) -> bool {
        let url = format!("automerge:{document}");
        let allowed = self.policy.may_read(&url, self.user).await
            || (asks && self.may_ask_database(document) && self.policy.may_read_now(&url, self.user).await);
        if !allowed {
            return false;
        }
        if !self.caps.documents.try_open(self.user, document) {
            tracing::info!(user = %self.user, "documents-open cap reached; answering unavailable");
            return false;
        }
        self.open.insert(document.clone());
        true
    }

    /// Whether the database may be asked about `document` now (`DATABASE_RECHECK_EVERY`), noting it.
    fn may_ask_database(&mut self, document: &DocumentId) -> bool {
        let now = Instant::now();
        if self.asked_database.get(document).is_some_and(|at| now.duration_since(*at) < DATABASE_RECHECK_EVERY) {
            return false;
        }
        if self.asked_database.len() >= DATABASE_RECHECKS_KEPT {
            let mut times: Vec<Instant> = self.asked_database.values().copied().collect();
            times.sort_unstable();
            let median = times[times.len() / 2];
            self.asked_database.retain(|_, at| *at > median);
        }
        self.asked_database.insert(document.clone(), now);
        self.rechecked.inc();
        true
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.caps.documents.close(self.user, &self.open);
    }
}
