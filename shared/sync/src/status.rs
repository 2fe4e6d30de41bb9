//! What a sync client is doing, as one observable value: the relay link, the peers connected right now, and
//! for every document in use whether the relay has it all.
//!
//! Small tasks feed it (one for the peer set, one per dialer for the link, one per tracked document); each
//! stops when the client's cancellation token fires, and writes only when the value really changes, so a
//! watcher wakes for transitions rather than for every sync message.
//!
//! A tracked document's task holds it in memory only while the relay and this device still lack each
//! other's changes, so that documents nobody uses can be unloaded (`ClientConfig::unload_idle`); it follows
//! the document again whenever it is loaded again.

use std::collections::{BTreeMap, HashSet};

use automerge::ChangeHash;
use futures::StreamExt;
use samod::{
    ConnectionId, DialerEvent, DialerHandle, DocHandle, DocumentId, PeerDocState, Repo, RepoEvent, RepoObserver,
};
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
///
/// Through `established_peers`, not `connected_peers`: the latter makes samod copy every connection's map
/// of document states after each sync message, work that grows with the documents open on a connection.
pub(crate) async fn follow_peers(repo: Repo, status: watch::Sender<SyncStatus>, stop: CancellationToken) {
    let (now, mut changes) = repo.established_peers();
    let update = |connections: Vec<(ConnectionId, samod::PeerId)>| {
        let mut peers: Vec<String> = connections.into_iter().map(|(_, peer)| peer.to_string()).collect();
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

/// Keeps a watched set of the documents samod holds in memory.
pub(crate) struct LoadedDocuments(pub(crate) watch::Sender<HashSet<DocumentId>>);

impl RepoObserver for LoadedDocuments {
    fn observe(&self, event: &RepoEvent) {
        match event {
            RepoEvent::DocumentOpened { document_id } => {
                self.0.send_modify(|ids| {
                    ids.insert(document_id.clone());
                });
            }
            RepoEvent::DocumentClosed { document_id } => {
                self.0.send_modify(|ids| {
                    ids.remove(document_id);
                });
            }
            _ => {}
        }
    }
}

/// What a document's status task needs besides the document.
pub(crate) struct Followers {
    pub(crate) repo: Repo,
    pub(crate) loaded: watch::Receiver<HashSet<DocumentId>>,
    pub(crate) relay: watch::Receiver<Option<ConnectionId>>,
    pub(crate) status: watch::Sender<SyncStatus>,
    pub(crate) stop: CancellationToken,
    pub(crate) tracking: crate::Tracking,
}

/// Keeps `status.documents[url]` up to date for one document until `stop`, through unloads and reloads;
/// once untracked, the document leaves `status`.
pub(crate) async fn follow_document(url: DocumentUrl, handle: DocHandle, mut with: Followers) {
    follow_until_stopped(&url, handle, &mut with).await;
    if with.stop.is_cancelled() && !with.tracking.is_tracked(&url) {
        // Untracked: also a state this task wrote after `Tracking::untrack` removed it (but not the state of
        // a task following the document again since).
        with.status.send_if_modified(|s| s.documents.remove(&url).is_some());
    }
}

async fn follow_until_stopped(url: &DocumentUrl, handle: DocHandle, with: &mut Followers) {
    let id = handle.document_id().clone();
    // What the relay acknowledged last, kept across disconnects and unloads: offline, it still tells whether
    // the relay has everything that was written here.
    let mut relay_shared: Option<Vec<ChangeHash>> = None;
    let mut handle = Some(handle);
    loop {
        let loaded = match handle.take() {
            Some(handle) => handle,
            // Unloaded: the last state stands until something loads the document again.
            None => {
                tokio::select! {
                    () = with.stop.cancelled() => return,
                    loaded = with.loaded.wait_for(|ids| ids.contains(&id)) => if loaded.is_err() { return },
                }
                match with.repo.find(id.clone()).await {
                    Ok(Some(handle)) => handle,
                    Ok(None) | Err(_) => return,
                }
            }
        };
        if follow_loaded(url, &id, loaded, with, &mut relay_shared).await == Followed::Stopped {
            return;
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Followed {
    Stopped,
    Unloaded,
}

/// Follows the document while it stays loaded. It holds the handle (keeping the document in memory) only
/// while the state is not `Synced`: offline edits stay loaded, so the next connection offers them.
async fn follow_loaded(
    url: &DocumentUrl,
    id: &DocumentId,
    handle: DocHandle,
    with: &mut Followers,
    relay_shared: &mut Option<Vec<ChangeHash>>,
) -> Followed {
    let (mut peers, mut peer_changes) = handle.peers();
    let mut changes = handle.changes();
    // Read after subscribing, so no change is missed (a change seen twice only repeats a value).
    let mut ours = crate::heads(&handle);
    let mut held = Some(handle);
    loop {
        let connection = *with.relay.borrow_and_update();
        let relay_state = connection.and_then(|c| peers.get(&c));
        let state = doc_state(&ours, connection.is_some(), relay_state, relay_shared);
        with.status.send_if_modified(|s| s.documents.insert(url.clone(), state) != Some(state));
        if state == DocSync::Synced {
            held = None;
        } else if held.is_none() {
            // Loaded (it is sending us events), so this does not load it.
            held = with.repo.find(id.clone()).await.ok().flatten();
        }
        tokio::select! {
            () = with.stop.cancelled() => return Followed::Stopped,
            changed = with.relay.changed() => if changed.is_err() { return Followed::Stopped },
            update = peer_changes.next() => match update {
                Some(update) => peers.extend(update),
                None => return Followed::Unloaded,
            },
            change = changes.next() => match change {
                Some(change) => ours = change.new_heads,
                None => return Followed::Unloaded,
            },
        }
    }
}

/// Where the document stands with the relay, from our heads and the relay's sync state.
fn doc_state(
    ours: &[ChangeHash],
    online: bool,
    relay: Option<&PeerDocState>,
    relay_shared: &mut Option<Vec<ChangeHash>>,
) -> DocSync {
    if let Some(shared) = relay.and_then(|r| r.shared_heads.clone()) {
        *relay_shared = Some(shared);
    }
    let relay_has_ours = relay_shared.as_deref().is_some_and(|shared| same_heads(shared, ours));
    if !online {
        return if relay_has_ours { DocSync::Synced } else { DocSync::LocalOnly };
    }
    // The relay has our heads; it has nothing more exactly when its heads are ours.
    let we_have_theirs = relay.and_then(|r| r.their_heads.as_deref()).is_some_and(|theirs| same_heads(theirs, ours));
    if relay_has_ours && we_have_theirs { DocSync::Synced } else { DocSync::Syncing }
}

fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort();
    b.sort();
    a == b
}
