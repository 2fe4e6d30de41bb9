#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use automerge::{
    Automerge, AutomergeError, ChangeHash,
    sync::{self, SyncDoc},
};

use crate::actors::messages::SyncMessage;
use crate::{
    ConnectionId, KeepForPeers, PeerId, ShareConfig, UnixTimestamp, network::PeerDocState,
};

#[derive(Debug)]
pub(crate) struct PeerDocConnection {
    pub(super) connection_id: ConnectionId,
    pub(super) peer_id: PeerId,
    pub(super) sync_state: sync::State,
    // Remember inbound requests or sync attempts, even while denied/paused,
    // so that granting access can answer them without proactive announcement.
    pub(super) has_requested: bool,
    // Whether this state has changed since the last pop
    dirty: bool,
    state: PeerDocState,
    pub(super) share_policy: SharePolicyState,
    last_share_config: Option<ShareConfig>,
    // Preserve message ordering while the asynchronous policy lookup is pending.
    pub(super) pending_sync_messages: Vec<(SyncMessage, UnixTimestamp)>,
    // Whether a message from the peer was received since the actor last
    // generated messages for it.
    pub(super) unanswered: bool,
    // Whether every change of the peer's last sync point (`their_have`) is
    // known to be in the document: once it is, it stays so until the peer
    // sends another, so `nothing_to_send` looks the hashes up once per
    // message from the peer instead of once per step.
    last_sync_known: std::cell::Cell<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SharePolicyState {
    Unknown,
    Loading,
    Ready(ShareConfig),
}

impl PeerDocConnection {
    pub(super) fn new(peer_id: PeerId, connection_id: ConnectionId) -> Self {
        Self {
            connection_id,
            peer_id,
            sync_state: sync::State::new_read_only(),
            has_requested: false,
            state: PeerDocState::empty(),
            dirty: false,
            share_policy: SharePolicyState::Unknown,
            last_share_config: None,
            pending_sync_messages: Vec::new(),
            unanswered: false,
            last_sync_known: std::cell::Cell::new(false),
        }
    }

    pub(super) fn reset_sync_state(&mut self) {
        self.last_sync_known.set(false);
        self.sync_state = if self.can_write() {
            sync::State::new()
        } else {
            sync::State::new_read_only()
        };
    }

    pub(super) fn prepare_request(&mut self) {
        // Initial requests already have a fresh state. Automerge has no explicit
        // API to restart synchronization, so for retries we force a read-only to
        // read-write transition. This resets local bookkeeping and tells the
        // remote to resend changes; replacing the state alone would not do that.
        if self.state.last_sent.is_some() || self.state.last_received.is_some() {
            self.sync_state.set_read_only(true);
            self.sync_state.set_read_only(false);
            self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
            self.state.their_heads = self.sync_state.their_heads.clone();
            self.state.peer_read_only = self.sync_state.is_peer_read_only();
            self.dirty = true;
        }
    }

    /// Makes the next `generate_sync_messages` say our heads even if automerge
    /// thinks the peer knows them. A reply held back until a write landed is
    /// still owed after the peer's later messages: one that only repeats our
    /// heads to us makes automerge count them as sent (`last_sent_heads`),
    /// although the peer never heard them.
    pub(super) fn owe_answer(&mut self) {
        self.sync_state.last_sent_heads.clear();
    }

    pub(super) fn mark_requested(&mut self) {
        if !self.has_requested {
            self.has_requested = true;
            self.dirty = true; // Mark as dirty since the request status changed
        }
    }

    pub(super) fn receive_sync_message(
        &mut self,
        now: UnixTimestamp,
        doc: &mut Automerge,
        msg: sync::Message,
    ) -> Result<Duration, AutomergeError> {
        let start = Instant::now();
        // Automerge takes a message that brings no changes and our own heads as
        // proof that the peer has our heads, and records them as sent. When an
        // earlier message of this peer is not answered yet (inputs handled in a
        // batch, see `DocumentActor::defer_sync_messages`), that answer is still
        // owed: it tells the peer that its changes arrived. Recording our heads
        // as sent would drop it, and the peer would wait for it forever. So what
        // we last sent stays what we really sent (unless the peer lost all its
        // data, when automerge clears it to resend everything). The hold of
        // answers until a write lands covers this too, but only when a write
        // was started for the earlier message.
        let last_sent = (self.unanswered && !msg.heads.is_empty())
            .then(|| self.sync_state.last_sent_heads.clone());
        self.last_sync_known.set(false);
        doc.receive_sync_message(&mut self.sync_state, msg)?;
        if let Some(last_sent) = last_sent {
            self.sync_state.last_sent_heads = last_sent;
        }
        self.unanswered = true;
        let duration = start.elapsed();
        self.dirty = true;
        self.state.last_received = Some(now);
        self.state.last_acked_heads = self.sync_state.their_heads.clone();
        self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
        self.state.their_heads = self.sync_state.their_heads.clone();
        self.state.peer_read_only = self.sync_state.is_peer_read_only();
        Ok(duration)
    }

    /// Generate messages in wire order, with timing for each message.
    pub(super) fn generate_sync_messages(
        &mut self,
        now: UnixTimestamp,
        doc: &Automerge,
    ) -> Vec<(sync::Message, Duration)> {
        self.generate_sync_messages_at(now, doc, &doc.get_heads())
    }

    /// [`Self::generate_sync_messages`] with the document's current heads,
    /// which a caller going through every peer reads once for all of them.
    pub(super) fn generate_sync_messages_at(
        &mut self,
        now: UnixTimestamp,
        doc: &Automerge,
        heads: &[ChangeHash],
    ) -> Vec<(sync::Message, Duration)> {
        let mut messages = Vec::new();
        if self.nothing_to_send(doc, heads) {
            return messages;
        }
        loop {
            let start = Instant::now();
            let Some(msg) = doc.generate_sync_message(&mut self.sync_state) else {
                break;
            };
            let duration = start.elapsed();
            let follow_up = msg.heads != heads;
            if follow_up {
                // Automerge 0.12's fallback reset advertises empty heads but
                // records the real heads as sent. An empty peer may not reply.
                // Correct the bookkeeping to what we actually advertised, then
                // immediately generate the real-heads follow-up in this batch.
                self.sync_state.last_sent_heads.clone_from(&msg.heads);
            }
            self.state.last_sent = Some(now);
            self.state.last_sent_heads = Some(msg.heads.clone());
            self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
            self.dirty = true;
            messages.push((msg, duration));
            if !follow_up {
                break;
            }
        }
        messages
    }

    /// Whether automerge's `generate_sync_message` would return nothing, found
    /// without building the message: automerge computes the bloom filter and the
    /// changes to send before it checks this, which costs a walk of the change
    /// graph per peer per event. The test is the one automerge makes last (we
    /// already told the peer about these heads and are waiting for its answer),
    /// guarded by the one it makes first (the peer's last sync point is one we
    /// know, otherwise automerge answers with a reset).
    pub(super) fn nothing_to_send(&self, doc: &Automerge, heads: &[ChangeHash]) -> bool {
        let state = &self.sync_state;
        state.have_responded
            && state.in_flight
            && state.last_sent_heads == heads
            && self.knows_their_last_sync(doc)
    }

    /// Whether every change of the peer's last sync point is in the document
    /// (else automerge would send a reset). A change once in the document stays,
    /// so only a "yes" is remembered, until the peer's next message.
    fn knows_their_last_sync(&self, doc: &Automerge) -> bool {
        if self.last_sync_known.get() {
            return true;
        }
        let known = self
            .sync_state
            .their_have
            .as_ref()
            .and_then(|have| have.first())
            .is_none_or(|have| {
                have.last_sync
                    .iter()
                    .all(|hash| doc.get_change_meta_by_hash(hash).is_some())
            });
        self.last_sync_known.set(known);
        known
    }

    /// Whether this peer keeps the document loaded (see [`KeepForPeers`]).
    pub(super) fn keeps_loaded(
        &self,
        doc: &Automerge,
        heads: &[ChangeHash],
        keep: KeepForPeers,
    ) -> bool {
        if !self.pending_sync_messages.is_empty() {
            return true;
        }
        let involved = self.has_requested
            || self.state.last_sent.is_some()
            || self.state.last_received.is_some();
        let denied = self.share_config().is_some_and(|config| !config.can_read());
        if !involved || denied {
            return false;
        }
        match keep {
            KeepForPeers::WhileConnected => true,
            KeepForPeers::WhileSyncing => !self.in_sync(doc, heads),
        }
    }

    /// Whether the peer has all our changes and we have all of theirs.
    fn in_sync(&self, doc: &Automerge, heads: &[ChangeHash]) -> bool {
        let mut shared = self.sync_state.shared_heads.clone();
        shared.sort();
        let mut ours = heads.to_vec();
        ours.sort();
        shared == ours
            && self.sync_state.their_heads.as_ref().is_none_or(|theirs| {
                theirs
                    .iter()
                    .all(|head| doc.get_change_meta_by_hash(head).is_some())
            })
    }

    pub(super) fn their_heads(&self) -> Option<Vec<automerge::ChangeHash>> {
        self.sync_state.their_heads.clone()
    }

    pub(super) fn pop(&mut self) -> Option<PeerDocState> {
        if self.dirty {
            self.dirty = false;
            Some(self.state.clone())
        } else {
            None
        }
    }

    /// Reports the state at the next [`pop`](Self::pop) even if it did not change.
    pub(super) fn mark_changed(&mut self) {
        self.dirty = true;
    }

    pub(super) fn state(&self) -> &PeerDocState {
        &self.state
    }

    /// Bound buffering while an application-provided policy future is pending.
    /// Permit one oversized message so a legitimate full-document sync is not
    /// limited by this queue's byte budget; transports should bound frame size.
    pub(super) fn buffer_sync_message(
        &mut self,
        msg: SyncMessage,
        received_at: UnixTimestamp,
    ) -> bool {
        const MAX_MESSAGES: usize = 64;
        const MAX_BYTES: usize = 16 * 1024 * 1024;
        let message_bytes = |msg: &SyncMessage| match msg {
            SyncMessage::Sync { data } | SyncMessage::Request { data } => data.len(),
            SyncMessage::DocUnavailable => 0,
        };
        let queued_bytes = self
            .pending_sync_messages
            .iter()
            .fold(0usize, |bytes, (msg, _)| {
                bytes.saturating_add(message_bytes(msg))
            });
        if self.pending_sync_messages.len() >= MAX_MESSAGES
            || (!self.pending_sync_messages.is_empty()
                && queued_bytes.saturating_add(message_bytes(&msg)) > MAX_BYTES)
        {
            return false;
        }
        self.pending_sync_messages.push((msg, received_at));
        true
    }

    pub(super) fn share_config(&self) -> Option<ShareConfig> {
        match self.share_policy {
            SharePolicyState::Ready(config) => Some(config),
            _ => None,
        }
    }

    pub(super) fn can_read(&self) -> bool {
        self.share_config().is_some_and(|config| config.can_read())
    }

    pub(super) fn can_write(&self) -> bool {
        self.share_config().is_some_and(|config| config.can_write())
    }

    pub(super) fn can_send(&self) -> bool {
        self.can_read()
            && (self.has_requested
                || self.sync_state.their_heads.is_some()
                || self.share_config().is_some_and(|config| config.announce))
    }

    pub(super) fn set_share_config(&mut self, config: ShareConfig) -> Option<ShareConfig> {
        let previous = self.last_share_config.replace(config);
        self.share_policy = SharePolicyState::Ready(config);
        if self.state.last_sent.is_none() && self.state.last_received.is_none() {
            // Initialize sessions which have not exchanged any sync messages yet.
            self.reset_sync_state();
        } else {
            if previous.is_some_and(|old| !old.can_read()) && config.can_read() {
                // Denial may have dropped messages; restart the exchange on re-grant.
                self.sync_state.set_read_only(false);
            }
            self.sync_state.set_read_only(!config.can_write());
            self.state.shared_heads = Some(self.sync_state.shared_heads.clone());
            self.state.their_heads = self.sync_state.their_heads.clone();
            self.state.peer_read_only = self.sync_state.is_peer_read_only();
        }
        self.state.share_config = Some(config);
        self.dirty = true;
        previous
    }
}
