//! What a sync client is doing, as one observable value: the relay link, the peers connected right now, and
//! for every document in use whether the relay has it all.
//!
//! Small tasks feed it (one for the peer set, one per dialer for the link, one per tracked document); each
//! stops when the client's cancellation token fires, and writes only when the value really changes, so a
//! watcher wakes for transitions rather than for every sync message.

use std::collections::BTreeMap;

use automerge::{ChangeHash, ReadDoc};
use futures::StreamExt;
use samod::{ConnectionId, ConnectionState, DialerEvent, DialerHandle, DocHandle, PeerDocState, Repo};
use serde::Serialize;
use teamflow_protocol::DocumentUrl;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The link to the relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// Not trying: the user went offline, or sync never started.
    #[default]
    Offline,
    /// Dialing, or redialing after the link dropped (with backoff and jitter).
    Connecting,
    /// Connected and handshaken.
    Online,
}

/// One document's state relative to the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum DocSync {
    /// Holds changes the relay has not got, and no link to send them over (or the relay does not take the
    /// document yet).
    LocalOnly,
    /// Online, and changes are still going one way or the other.
    Syncing,
    /// The relay has every local change, and (when online) this device has every change the relay has.
    Synced,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncStatus {
    pub link: Link,
    /// Peer ids of the sync connections that completed their handshake (today the relay; with peer to peer,
    /// teammates' devices too).
    pub peers: Vec<String>,
    pub documents: BTreeMap<DocumentUrl, DocSync>,
}

/// Keeps `status.peers` equal to the repo's handshaken connections.
pub(crate) async fn follow_peers(repo: Repo, status: watch::Sender<SyncStatus>, stop: CancellationToken) {
    let (now, mut changes) = repo.connected_peers();
    let update = |connections: Vec<samod::ConnectionInfo>| {
        let mut peers: Vec<String> = connections
            .into_iter()
            .filter_map(|c| match c.state {
                ConnectionState::Connected { their_peer_id } => Some(their_peer_id.to_string()),
                ConnectionState::Handshaking => None,
            })
            .collect();
        peers.sort();
        status.send_if_modified(|s| {
            let changed = s.peers != peers;
            s.peers = std::mem::take(&mut peers);
            changed
        });
    };
    update(now);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            next = changes.next() => match next {
                Some(connections) => update(connections),
                None => break,
            },
        }
    }
}

/// Follows one dialer: its connection id (for the document watchers) and the link state.
pub(crate) async fn follow_dialer<E: std::error::Error + Send + Sync + 'static>(
    dialer: DialerHandle<E>,
    relay: watch::Sender<Option<ConnectionId>>,
    status: watch::Sender<SyncStatus>,
    stop: CancellationToken,
) {
    let mut events = dialer.events();
    let set = |link: Link, connection: Option<ConnectionId>| {
        relay.send_replace(connection);
        status.send_if_modified(|s| std::mem::replace(&mut s.link, link) != link);
    };
    // Subscribed before reading the current state, so a connection made in between is not missed.
    match dialer.connection_id() {
        Some(id) => set(Link::Online, Some(id)),
        None => set(Link::Connecting, None),
    }
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            event = events.next() => match event {
                Some(DialerEvent::Connected { .. }) => set(Link::Online, dialer.connection_id()),
                Some(DialerEvent::Disconnected { .. } | DialerEvent::Reconnecting { .. }) => set(Link::Connecting, None),
                Some(_) | None => break,
            },
        }
    }
    set(Link::Offline, None);
}

/// Keeps `status.documents[url]` up to date for one document until `stop`.
pub(crate) async fn follow_document(
    url: DocumentUrl,
    handle: DocHandle,
    mut relay: watch::Receiver<Option<ConnectionId>>,
    status: watch::Sender<SyncStatus>,
    stop: CancellationToken,
) {
    let (mut peers, mut peer_changes) = handle.peers();
    let mut changes = handle.changes();
    // What the relay acknowledged last, kept across disconnects: offline, it still tells whether the relay
    // has everything that was written here.
    let mut relay_shared: Option<Vec<ChangeHash>> = None;
    loop {
        let connection = *relay.borrow_and_update();
        let relay_state = connection.and_then(|c| peers.get(&c));
        let state = doc_state(&handle, connection.is_some(), relay_state, &mut relay_shared);
        status.send_if_modified(|s| s.documents.insert(url.clone(), state) != Some(state));
        tokio::select! {
            () = stop.cancelled() => break,
            changed = relay.changed() => if changed.is_err() { break },
            update = peer_changes.next() => match update {
                Some(update) => peers.extend(update),
                None => break,
            },
            change = changes.next() => if change.is_none() { break },
        }
    }
}

fn doc_state(
    handle: &DocHandle,
    online: bool,
    relay: Option<&PeerDocState>,
    relay_shared: &mut Option<Vec<ChangeHash>>,
) -> DocSync {
    if let Some(shared) = relay.and_then(|r| r.shared_heads.clone()) {
        *relay_shared = Some(shared);
    }
    handle.with_document(|doc| {
        let relay_has_ours = relay_shared.as_deref() == Some(doc.get_heads().as_slice());
        if !online {
            return if relay_has_ours { DocSync::Synced } else { DocSync::LocalOnly };
        }
        let we_have_theirs = relay
            .and_then(|r| r.their_heads.as_ref())
            .is_some_and(|heads| heads.iter().all(|h| doc.get_change_by_hash(h).is_some()));
        if relay_has_ours && we_have_theirs { DocSync::Synced } else { DocSync::Syncing }
    })
}
