//! Presence and cursors on a document, carried as automerge-repo ephemeral messages (CBOR maps, as the
//! JavaScript client encodes them) that name the user as well as the peer. A `PresenceSession` keeps one
//! device's presence fresh with heartbeats and drops peers that go quiet.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use samod::DocHandle;
use serde::{Deserialize, Serialize};
use teamflow_protocol::UserId;
use tokio::sync::watch;

/// A selection in the document's text, in character positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Cursor {
    pub anchor: usize,
    pub head: usize,
}

/// One peer's presence on one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Presence {
    #[serde(rename = "userId")]
    pub user_id: UserId,
    #[serde(rename = "peerId")]
    pub peer_id: String,
    pub name: String,
    pub color: String,
    pub cursor: Option<Cursor>,
}

/// Ephemeral frames are wrapped so unrelated ephemeral traffic on a document is told apart.
#[derive(Serialize, Deserialize)]
struct Envelope {
    #[serde(rename = "__presence")]
    presence: Presence,
}

impl Presence {
    /// Sends this presence to every peer allowed to see the document.
    pub fn broadcast(&self, handle: &DocHandle) {
        let mut bytes = Vec::new();
        match ciborium::into_writer(&Envelope { presence: self.clone() }, &mut bytes) {
            Ok(()) => handle.broadcast(bytes),
            Err(e) => tracing::error!(error = %e, "presence did not encode"),
        }
    }

    /// Presence messages from other peers on the document; other ephemeral traffic is skipped.
    pub fn stream(handle: &DocHandle) -> impl Stream<Item = Presence> + 'static {
        handle.ephemera().filter_map(|bytes| async move {
            ciborium::from_reader::<Envelope, _>(bytes.as_slice()).ok().map(|e| e.presence)
        })
    }
}

/// What the relay does with an `ephemeral` frame (`stamp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamped {
    /// Not presence: other ephemeral traffic, passed on as it is.
    NotPresence,
    /// Presence, rewritten to name the sender's authenticated user, device and display name.
    Stamped(Vec<u8>),
    /// Presence that cannot be read, or sent under another peer's id: dropped.
    Refused,
}

/// The relay's check on presence: samod's ephemeral messages carry no authenticated sender, and the
/// `__presence` payload names a user and a name of the sender's choosing. Given an `ephemeral` frame that
/// arrived on the connection of `peer` (authenticated as `user`, whose display name is `name`), answers the
/// frame with `userId`, `peerId` and `name` replaced by what the relay knows, so nobody shows up as
/// someone else.
pub fn stamp(frame: &[u8], user: UserId, peer: &str, name: &str) -> Stamped {
    use ciborium::Value;
    let text = |s: &str| Value::Text(s.to_owned());
    let Ok(Value::Map(mut message)) = ciborium::from_reader::<Value, _>(frame) else { return Stamped::NotPresence };
    let field = |message: &[(Value, Value)], name: &str| message.iter().position(|(k, _)| k.as_text() == Some(name));
    if field(&message, "type").map(|i| &message[i].1) != Some(&text("ephemeral")) {
        return Stamped::NotPresence;
    }
    let Some(data_at) = field(&message, "data") else { return Stamped::NotPresence };
    let Some(data) = message[data_at].1.as_bytes() else { return Stamped::NotPresence };
    let Ok(Value::Map(mut payload)) = ciborium::from_reader::<Value, _>(data.as_slice()) else {
        return Stamped::NotPresence;
    };
    let Some(presence_at) = field(&payload, "__presence") else { return Stamped::NotPresence };
    if field(&message, "senderId").map(|i| &message[i].1) != Some(&text(peer)) {
        return Stamped::Refused;
    }
    let Value::Map(presence) = &mut payload[presence_at].1 else { return Stamped::Refused };
    // The user id goes in the form the sender used: bytes from this crate's `Presence` (a UUID in binary
    // CBOR), text from a JavaScript client.
    let user_id = match presence.iter().find(|(k, _)| k.as_text() == Some("userId")) {
        Some((_, Value::Bytes(_))) => match Value::serialized(&user) {
            Ok(bytes) => bytes,
            Err(_) => return Stamped::Refused,
        },
        _ => text(&user.to_string()),
    };
    for (key, value) in [("userId", user_id), ("peerId", text(peer)), ("name", text(name))] {
        match presence.iter_mut().find(|(k, _)| k.as_text() == Some(key)) {
            Some((_, v)) => *v = value,
            None => presence.push((text(key), value)),
        }
    }
    let mut data = Vec::new();
    if ciborium::into_writer(&Value::Map(payload), &mut data).is_err() {
        return Stamped::Refused;
    }
    message[data_at].1 = Value::Bytes(data);
    let mut stamped = Vec::new();
    match ciborium::into_writer(&Value::Map(message), &mut stamped) {
        Ok(()) => Stamped::Stamped(stamped),
        Err(_) => Stamped::Refused,
    }
}

/// How presence stays fresh: each peer re-sends its presence every `heartbeat`, and a peer not heard from
/// for `timeout` is gone (closed the lid, lost the network: nobody says goodbye reliably).
#[derive(Debug, Clone, Copy)]
pub struct PresenceConfig {
    pub heartbeat: Duration,
    pub timeout: Duration,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self { heartbeat: Duration::from_secs(5), timeout: Duration::from_secs(15) }
    }
}

/// Who else is on a document, by peer id, with when each was last heard from.
#[derive(Debug, Default)]
pub(crate) struct PresenceTable {
    peers: BTreeMap<String, (Presence, Instant)>,
}

impl PresenceTable {
    /// Records a peer's presence; true when what others see changed.
    pub(crate) fn observe(&mut self, presence: Presence, now: Instant) -> bool {
        let changed = self.peers.get(&presence.peer_id).is_none_or(|(old, _)| *old != presence);
        self.peers.insert(presence.peer_id.clone(), (presence, now));
        changed
    }

    /// Drops peers quiet for longer than `timeout`; true when any went.
    pub(crate) fn expire(&mut self, now: Instant, timeout: Duration) -> bool {
        let before = self.peers.len();
        self.peers.retain(|_, (_, seen)| now.saturating_duration_since(*seen) < timeout);
        self.peers.len() != before
    }

    /// When the next peer times out, if any is present.
    pub(crate) fn next_expiry(&self, timeout: Duration) -> Option<Instant> {
        self.peers.values().map(|(_, seen)| *seen + timeout).min()
    }

    pub(crate) fn snapshot(&self) -> Vec<Presence> {
        self.peers.values().map(|(p, _)| p.clone()).collect()
    }
}

/// This device's presence on one document: broadcast on every change and every heartbeat, and the other
/// peers present, dropped after the timeout. Dropping the session stops both.
#[derive(Debug)]
pub struct PresenceSession {
    local: watch::Sender<Presence>,
    peers: watch::Receiver<Vec<Presence>>,
    _stop: tokio_util::sync::DropGuard,
}

impl PresenceSession {
    /// Starts announcing `me` on the document and following everyone else there.
    pub fn join(handle: &DocHandle, me: Presence, config: PresenceConfig) -> Self {
        let local = watch::Sender::new(me);
        let (peers_tx, peers) = watch::channel(Vec::new());
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(run_session(handle.clone(), local.subscribe(), peers_tx, config, stop.clone()));
        Self { local, peers, _stop: stop.drop_guard() }
    }

    /// Moves this device's cursor (or clears it); peers see it at once.
    pub fn set_cursor(&self, cursor: Option<Cursor>) {
        self.local.send_if_modified(|p| std::mem::replace(&mut p.cursor, cursor) != cursor);
    }

    /// The other peers on the document, ordered by peer id, as they come, move and time out.
    pub fn peers(&self) -> watch::Receiver<Vec<Presence>> {
        self.peers.clone()
    }
}

async fn run_session(
    handle: DocHandle,
    mut local: watch::Receiver<Presence>,
    peers: watch::Sender<Vec<Presence>>,
    config: PresenceConfig,
    stop: tokio_util::sync::CancellationToken,
) {
    let own_peer = local.borrow().peer_id.clone();
    let mut incoming = std::pin::pin!(Presence::stream(&handle));
    let mut heartbeat = tokio::time::interval(config.heartbeat);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut table = PresenceTable::default();
    loop {
        let expiry = table.next_expiry(config.timeout);
        let changed = tokio::select! {
            () = stop.cancelled() => break,
            _ = heartbeat.tick() => {
                local.borrow_and_update().broadcast(&handle);
                false
            }
            moved = local.changed() => {
                if moved.is_err() {
                    break;
                }
                local.borrow_and_update().broadcast(&handle);
                false
            }
            seen = incoming.next() => match seen {
                Some(presence) if presence.peer_id != own_peer => table.observe(presence, Instant::now()),
                Some(_) => false,
                None => break,
            },
            () = sleep_until(expiry) => table.expire(Instant::now(), config.timeout),
        };
        if changed {
            peers.send_replace(table.snapshot());
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presence(peer: &str, cursor: usize) -> Presence {
        Presence {
            user_id: teamflow_protocol::UserId::new(),
            peer_id: peer.into(),
            name: peer.into(),
            color: "#000".into(),
            cursor: Some(Cursor { anchor: cursor, head: cursor }),
        }
    }

    #[test]
    fn peers_time_out_when_quiet_and_heartbeats_keep_them() {
        let timeout = Duration::from_secs(15);
        let start = Instant::now();
        let mut table = PresenceTable::default();
        assert_eq!(table.next_expiry(timeout), None);
        let ann = presence("ann", 1);
        assert!(table.observe(ann.clone(), start));
        assert!(table.observe(presence("ben", 4), start + Duration::from_secs(10)));
        assert!(!table.observe(ann.clone(), start + Duration::from_secs(10)), "a heartbeat changes nothing seen");
        assert!(table.observe(presence("ann", 2), start + Duration::from_secs(12)), "a moved cursor is news");
        assert_eq!(table.next_expiry(timeout), Some(start + Duration::from_secs(25)));

        assert!(!table.expire(start + Duration::from_secs(24), timeout));
        assert!(table.expire(start + Duration::from_secs(26), timeout), "ben went quiet");
        assert_eq!(table.snapshot().iter().map(|p| p.peer_id.as_str()).collect::<Vec<_>>(), ["ann"]);
        assert!(table.expire(start + Duration::from_secs(27), timeout));
        assert!(table.snapshot().is_empty());
    }
}
