//! Document changes between relay instances over NATS, the y-redis way (docs/scale-out.md, "Documents
//! across instances"): for every document its samod repo holds, an instance follows
//! `teamflow.doc.<document>`, publishes the changes its own clients make there, and applies what the other
//! instances publish. samod then syncs those changes to the instance's clients from its own per-peer state:
//! changes travel between instances, sync messages never do (they only make sense to the peer they were made
//! for).
//!
//! One follower task per held document (opened and closed as the repo reports, `Opened`): it subscribes
//! first, then reads the document's stored chunks again and applies them (what another instance stored
//! between this repo's load and the subscription), publishes what this instance has that the storage read
//! lacked and what its clients changed since the follower began (stored or not), and says which heads it
//! holds: the instances holding the document answer with the changes since (what they published before the
//! subscription and had not yet stored when it was read). From then on:
//! heads changed here -> publish the changes since the last published heads, except those that came from
//! NATS; changes from NATS -> `load_incremental` (idempotent; automerge holds back a change whose
//! dependencies are missing, and the follower then reads the database again for them). The follower holds
//! no `DocHandle` between steps, so the repo's idle unload still unloads the document, which ends the
//! follower and its subscription.
//!
//! A change too large for one NATS message (over [`LARGEST_CHANGE`], below the server's default 1 MiB
//! payload limit; a pasted or imported document can be one change of several MiB) is not sent: the
//! publisher says "changes up to these heads are stored" instead, and the others read the database until
//! they hold those heads (the write may still be landing, so they try again for a while).
//!
//! Core NATS does not keep what was published while an instance was cut off. So when the connection comes
//! back (or another instance says it is back), each follower does again what it did at the opening: reads
//! storage, publishes what the read lacked, and says its heads, which the others answer.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use automerge::{Automerge, ChangeHash, ReadDoc as _};
use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _};
use samod::storage::{Storage as _, StorageKey};
use samod::{DocHandle, DocumentId, Repo};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use super::DbStorage;
use crate::cluster::{Cluster, DocumentEvent, DocumentMessage};

/// The most bytes of changes one NATS message carries (the server's default limit is 1 MiB); more goes in
/// several messages, each of whole changes.
const MESSAGE_BYTES: usize = 512 * 1024;

/// The largest change sent over NATS: the server's default payload limit (1 MiB) less room for the headers.
/// A larger one goes through the database.
const LARGEST_CHANGE: usize = 1024 * 1024 - 4 * 1024;

/// How often a follower reads the database for changes another instance said are stored, before it gives
/// up (the first retry after [`STORED_FIRST_RETRY`], doubling up to [`STORED_LONGEST_RETRY`]: about 11 s).
const STORED_ATTEMPTS: u32 = 10;
const STORED_FIRST_RETRY: Duration = Duration::from_millis(50);
const STORED_LONGEST_RETRY: Duration = Duration::from_secs(2);

/// How long a follower waits for a document just opened to be found (loaded, or sent by its client).
const FIND_PATIENCE: Duration = Duration::from_secs(10);

/// How often a follower reads the database again for changes that others' changes depend on and that never
/// reached it, at most: a change that is never stored must not make every later message a full read.
const REREAD_AT_MOST: Duration = Duration::from_secs(1);

/// Documents the repo opened (with the opening's number: an actor unloaded and opened again is a new
/// one) or closed since the forwarder last looked. The repo's observer writes it and never waits; the last
/// word per document counts.
///
/// A document the repo opened without having it (nothing stored, and the client asking for it sent nothing
/// yet, or was not yet allowed to) waits here; the next sync message the repo receives for it starts its
/// follower again.
#[derive(Debug, Default)]
pub(super) struct Opened {
    words: Mutex<HashMap<DocumentId, Option<u64>>>,
    openings: AtomicU64,
    changed: Notify,
    waiting: Mutex<HashSet<DocumentId>>,
    /// Whether `waiting` may hold anything: a sync message costs no lock while it is empty.
    any_waiting: AtomicBool,
}

impl Opened {
    pub(super) fn opened(&self, document: &DocumentId) {
        let opening = self.openings.fetch_add(1, Ordering::Relaxed) + 1;
        self.words.lock().unwrap_or_else(PoisonError::into_inner).insert(document.clone(), Some(opening));
        self.changed.notify_one();
    }

    pub(super) fn closed(&self, document: &DocumentId) {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(document);
        self.words.lock().unwrap_or_else(PoisonError::into_inner).insert(document.clone(), None);
        self.changed.notify_one();
    }

    /// The repo received a sync message for the document: if it was waiting, it may have it now.
    pub(super) fn received(&self, document: &DocumentId) {
        if !self.any_waiting.load(Ordering::Relaxed) {
            return;
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if waiting.remove(document) {
            self.any_waiting.store(!waiting.is_empty(), Ordering::Relaxed);
            drop(waiting);
            self.opened(document);
        }
    }

    fn wait(&self, document: &DocumentId) {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).insert(document.clone());
        self.any_waiting.store(true, Ordering::Relaxed);
    }

    fn found(&self, document: &DocumentId) {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).remove(document);
    }
}

/// Runs the followers of the documents the repo holds until `stop`.
pub(super) async fn run(
    repo: Repo,
    storage: DbStorage,
    cluster: Cluster,
    opened: Arc<Opened>,
    stop: CancellationToken,
) {
    // Document -> (the opening it follows, its task).
    let mut followers: HashMap<DocumentId, (u64, AbortHandle)> = HashMap::new();
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            () = opened.changed.notified() => {
                let words = std::mem::take(&mut *opened.words.lock().unwrap_or_else(PoisonError::into_inner));
                for (document, word) in words {
                    match word {
                        Some(opening) if followers.get(&document).is_some_and(|(o, _)| *o == opening) => {}
                        Some(opening) => {
                            if let Some((_, old)) = followers.remove(&document) {
                                old.abort();
                            }
                            let follower =
                                follow(repo.clone(), storage.clone(), cluster.clone(), opened.clone(), document.clone());
                            followers.insert(document, (opening, tasks.spawn(follower)));
                        }
                        None => {
                            if let Some((_, follower)) = followers.remove(&document) {
                                // Dropping its feed unsubscribes.
                                follower.abort();
                            }
                        }
                    }
                }
            }
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                followers.retain(|_, (_, follower)| follower.id() != id);
            }
        }
    }
    tasks.shutdown().await;
}

/// The document, once the repo has it: at once when it is in memory; a document just opened may still be
/// loading, or be arriving from the client that opened it. `None` when no one has it.
async fn held(repo: &Repo, document: &DocumentId) -> Option<DocHandle> {
    let (mut state, mut updates) = repo.search(document.clone()).ok()?;
    loop {
        match state {
            samod::SearchState::Found(handle) => return Some(handle),
            samod::SearchState::Requesting(request) if request.is_currently_unavailable() => return None,
            samod::SearchState::Loading | samod::SearchState::Requesting(_) => state = updates.next().await?,
        }
    }
}

/// Changes as NATS messages of whole changes, each at most [`MESSAGE_BYTES`] unless one change is larger,
/// leaving out changes over [`LARGEST_CHANGE`]; the flag says whether one was left out.
fn messages<'a>(changes: impl Iterator<Item = &'a automerge::Change>) -> (Vec<Bytes>, bool) {
    let mut messages = Vec::new();
    let mut message = Vec::new();
    let mut left_out = false;
    for change in changes {
        if change.raw_bytes().len() > LARGEST_CHANGE {
            left_out = true;
            continue;
        }
        if !message.is_empty() && message.len() + change.raw_bytes().len() > MESSAGE_BYTES {
            messages.push(Bytes::from(std::mem::take(&mut message)));
        }
        message.extend_from_slice(change.raw_bytes());
    }
    if !message.is_empty() {
        messages.push(Bytes::from(message));
    }
    (messages, left_out)
}

fn hash_bytes(heads: &[ChangeHash]) -> Bytes {
    Bytes::from(heads.iter().flat_map(|h| h.0).collect::<Vec<u8>>())
}

fn hashes(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes.chunks_exact(32).filter_map(|h| ChangeHash::try_from(h).ok()).collect()
}

/// Heads another instance said are stored, which this one lacks: read the database for them at `next`.
struct StoredWait {
    heads: Vec<ChangeHash>,
    attempt: u32,
    next: tokio::time::Instant,
}

/// What a follower keeps between steps.
struct Follower {
    repo: Repo,
    storage: DbStorage,
    cluster: Cluster,
    document: DocumentId,
    name: String,
    /// The heads up to which this instance's changes are published.
    published: Vec<ChangeHash>,
    /// Changes applied from NATS since the last publication: never published again.
    remote: HashSet<ChangeHash>,
    /// When the database was last read again for changes missing here.
    reread: Option<Instant>,
    /// Heads said to be stored that this instance does not hold yet.
    stored: Option<StoredWait>,
}

/// Follows one document for as long as the repo holds it.
async fn follow(repo: Repo, storage: DbStorage, cluster: Cluster, opened: Arc<Opened>, document: DocumentId) {
    let name = document.to_string();
    // Subscribed first: a change another instance publishes from here on arrives on the feed; one it
    // stored before is in the storage read below.
    let Some(mut feed) = cluster.follow_document(&name).await else { return };
    let handle = match tokio::time::timeout(FIND_PATIENCE, held(&repo, &document)).await {
        Ok(Some(handle)) => handle,
        _ => {
            // Looked at again once a sync message for it arrives; checked once more after saying so, in
            // case one arrived in between.
            opened.wait(&document);
            let Ok(Some(handle)) = tokio::time::timeout(FIND_PATIENCE, held(&repo, &document)).await else {
                tracing::debug!(document = %name, "document not held yet; followed once a client sends it");
                return;
            };
            opened.found(&document);
            handle
        }
    };
    // Taken before listening: every change after these heads is either reported on `changes` or published
    // by `open` (one may be stored before `open` reads storage).
    let subscribed = handle.with_document(|doc| doc.get_heads());
    let mut changes = handle.changes();
    drop(handle);
    let mut follower = Follower {
        repo,
        storage,
        cluster,
        document,
        name,
        published: Vec::new(),
        remote: HashSet::new(),
        reread: None,
        stored: None,
    };
    if !follower.open(Some(subscribed)).await {
        return;
    }
    loop {
        let read_stored_at = follower.stored.as_ref().map(|wait| wait.next);
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(read_stored_at.unwrap_or_else(tokio::time::Instant::now)),
                if read_stored_at.is_some() =>
            {
                if !follower.read_stored().await {
                    return;
                }
            }
            changed = changes.next() => {
                if changed.is_none() {
                    // The repo unloaded the document.
                    return;
                }
                // One publication for every change already reported.
                while let Some(Some(_)) = changes.next().now_or_never() {}
                if !follower.publish().await {
                    return;
                }
            }
            incoming = feed.next() => {
                let done = match incoming {
                    None => return,
                    Some(DocumentEvent::Message(DocumentMessage::Changes(changes))) => follower.apply(changes).await,
                    Some(DocumentEvent::Message(DocumentMessage::Heads(heads))) => follower.answer(&heads).await,
                    Some(DocumentEvent::Message(DocumentMessage::Stored(heads))) => {
                        follower.wait_stored(hashes(&heads));
                        follower.read_stored().await
                    }
                    // What was published while cut off is lost to this subscription: as at the opening.
                    Some(DocumentEvent::Reconnected) => {
                        tracing::debug!(document = %follower.name, "NATS back; catching the document up");
                        follower.open(None).await
                    }
                };
                if !done {
                    return;
                }
            }
        }
    }
}

impl Follower {
    /// Catches up with what others stored or published, and tells them what this instance has: at the
    /// opening (`subscribed`: the heads when the follower began hearing of changes), and again whenever
    /// NATS is back after an outage. False once the document is gone.
    async fn open(&mut self, subscribed: Option<Vec<ChangeHash>>) -> bool {
        let Some(stored) = self.catch_up().await else { return false };
        // What this instance's clients changed that the storage read lacked (made before the subscription,
        // or published while NATS was unreachable); and at the opening, what they changed since the
        // subscription even if the read found it stored: an instance that already follows the document read
        // storage before it was stored, and hears of it only from here. (After an outage every follower
        // reads storage again, so what is stored reaches them that way.)
        let since = std::iter::once(stored).chain(subscribed).collect();
        if !self.publish_since(since).await {
            return false;
        }
        // What others published and had not stored when this instance read the database: the instances
        // holding the document answer these heads with the changes since.
        self.ask().await
    }

    /// Reads the document's stored chunks again and applies what the document lacks of them; answers the
    /// heads they make (what the database had when read). What they add came from elsewhere: it is not
    /// published again.
    async fn catch_up(&mut self) -> Option<Vec<ChangeHash>> {
        // Snapshots and incrementals in one query: read apart, a compaction in between (a snapshot written,
        // the incrementals it holds deleted) could hide changes from both reads.
        let key = StorageKey::from_parts([self.name.as_str()]).ok()?;
        let chunks = self.storage.load_range(key).await;
        // Parsing a large document takes a while: off the async runtime.
        let stored = tokio::task::spawn_blocking(move || {
            let mut stored = Automerge::new();
            for (key, chunk) in chunks {
                if let Err(e) = stored.load_incremental(&chunk) {
                    tracing::warn!(error = %e, %key, "stored chunk not readable; skipped in the catch-up");
                }
            }
            stored
        })
        .await
        .ok()?;
        let handle = held(&self.repo, &self.document).await?;
        let (heads, added) = handle
            .with_document_async(move |doc| {
                let mut stored = stored;
                let before = doc.get_heads();
                if let Err(e) = doc.merge(&mut stored) {
                    tracing::warn!(error = %e, "stored changes not applied in the catch-up");
                }
                let added: Vec<ChangeHash> = doc.get_changes(&before).iter().map(automerge::Change::hash).collect();
                let heads = stored.get_heads();
                // Heads the document lacks (a failed merge) would make `get_changes` answer everything: then
                // only what comes from here on is published.
                let heads =
                    if heads.iter().all(|h| doc.get_change_by_hash(h).is_some()) { heads } else { doc.get_heads() };
                (heads, added)
            })
            .await
            .ok()?;
        self.remote.extend(added);
        Some(heads)
    }

    /// Publishes the changes made here since the last publication. False once the document is gone.
    async fn publish(&mut self) -> bool {
        let published = std::mem::take(&mut self.published);
        self.publish_since(vec![published]).await
    }

    /// Publishes the changes made here since any of `since` (each a set of heads), each once and in causal
    /// order, leaving out those that came from elsewhere. False once the document is gone.
    async fn publish_since(&mut self, since: Vec<Vec<ChangeHash>>) -> bool {
        let Some(handle) = held(&self.repo, &self.document).await else { return false };
        let remote = std::mem::take(&mut self.remote);
        let made = handle
            .with_document_async(move |doc| {
                // Each list is in causal order, and a change first met in a later list depends only on
                // changes met before it (in an earlier list, or earlier in its own).
                let mut seen = HashSet::new();
                let changes: Vec<automerge::Change> = since
                    .iter()
                    .flat_map(|heads| doc.get_changes(heads))
                    .filter(|c| !remote.contains(&c.hash()) && seen.insert(c.hash()))
                    .collect();
                (doc.get_heads(), messages(changes.iter()))
            })
            .await;
        drop(handle);
        let Ok((heads, (messages, left_out))) = made else { return false };
        self.send(messages, left_out.then_some(heads.as_slice())).await;
        // Every change applied from NATS so far is behind these heads: none comes up again.
        self.published = heads;
        true
    }

    /// Publishes changes, then, when one was too large to send, that changes up to `heads` are stored.
    async fn send(&self, messages: Vec<Bytes>, stored: Option<&[ChangeHash]>) {
        for message in messages {
            self.cluster.publish_document(&self.name, DocumentMessage::Changes(message)).await;
        }
        if let Some(heads) = stored {
            tracing::debug!(document = %self.name, "a change too large for NATS; said to be stored instead");
            self.cluster.publish_document(&self.name, DocumentMessage::Stored(hash_bytes(heads))).await;
        }
    }

    /// Another instance said changes up to `heads` are stored: read them there unless they are here.
    fn wait_stored(&mut self, mut heads: Vec<ChangeHash>) {
        if let Some(earlier) = self.stored.take() {
            heads.extend(earlier.heads);
        }
        self.stored = Some(StoredWait { heads, attempt: 0, next: tokio::time::Instant::now() });
    }

    /// Reads the database until the document holds the heads said to be stored; tries again later while
    /// they are missing (their write may still be landing). False once the document is gone.
    async fn read_stored(&mut self) -> bool {
        let Some(mut wait) = self.stored.take() else { return true };
        let Some(handle) = held(&self.repo, &self.document).await else { return false };
        let heads = wait.heads.clone();
        let missing = move |doc: &mut Automerge| heads.iter().any(|h| doc.get_change_by_hash(h).is_none());
        let Ok(lacking) = handle.with_document_async(missing.clone()).await else { return false };
        drop(handle);
        if !lacking {
            return true;
        }
        if self.catch_up().await.is_none() {
            return false;
        }
        let Some(handle) = held(&self.repo, &self.document).await else { return false };
        let Ok(lacking) = handle.with_document_async(missing).await else { return false };
        if !lacking {
            return true;
        }
        wait.attempt += 1;
        if wait.attempt >= STORED_ATTEMPTS {
            tracing::warn!(document = %self.name, "changes another instance said are stored never appeared in the database");
            return true;
        }
        let delay = STORED_FIRST_RETRY.saturating_mul(1 << wait.attempt.min(16)).min(STORED_LONGEST_RETRY);
        wait.next = tokio::time::Instant::now() + delay;
        self.stored = Some(wait);
        true
    }

    /// Tells the instances holding the document the heads this one holds.
    async fn ask(&self) -> bool {
        let Some(handle) = held(&self.repo, &self.document).await else { return false };
        let Ok(heads) = handle.with_document_async(|doc| doc.get_heads()).await else { return false };
        drop(handle);
        self.cluster.publish_document(&self.name, DocumentMessage::Heads(hash_bytes(&heads))).await;
        true
    }

    /// Answers an instance that said which heads it holds with every change since (whatever its origin).
    async fn answer(&self, heads: &[u8]) -> bool {
        let theirs = hashes(heads);
        let Some(handle) = held(&self.repo, &self.document).await else { return false };
        let answer = handle
            .with_document_async(move |doc| {
                // Heads unknown here are changes this instance lacks (it gets them from the asker's
                // publication); the changes since the known ones are still the asker's gap, or more.
                let known: Vec<ChangeHash> =
                    theirs.iter().filter(|h| doc.get_change_by_hash(h).is_some()).copied().collect();
                if known.is_empty() && !theirs.is_empty() {
                    // Nothing in common to count from: answering would be the whole document.
                    return (Vec::new(), None);
                }
                let (messages, left_out) = messages(doc.get_changes(&known).iter());
                (messages, left_out.then(|| doc.get_heads()))
            })
            .await;
        drop(handle);
        match answer {
            Ok((messages, stored)) => {
                self.send(messages, stored.as_deref()).await;
                true
            }
            Err(_) => false,
        }
    }

    /// Applies changes another instance published. False once the document is gone.
    async fn apply(&mut self, changes: Bytes) -> bool {
        let Some(handle) = held(&self.repo, &self.document).await else { return false };
        let applied = handle
            .with_document_async(move |doc| {
                let before = doc.get_heads();
                if let Err(e) = doc.load_incremental(&changes) {
                    tracing::warn!(error = %e, "document changes from another instance not applied");
                }
                // Exactly what this load added (with changes it released that waited for dependencies).
                let added = doc.get_changes(&before).iter().map(automerge::Change::hash).collect::<Vec<_>>();
                (added, !doc.get_missing_deps(&[]).is_empty())
            })
            .await;
        drop(handle);
        let Ok((added, missing)) = applied else { return false };
        self.remote.extend(added);
        // A change this instance never received (published before it subscribed, and not yet stored when
        // it read the database) holds back every later one that depends on it: read the database again.
        if missing && self.reread.is_none_or(|at| at.elapsed() >= REREAD_AT_MOST) {
            self.reread = Some(Instant::now());
            tracing::debug!(document = %self.name, "changes from another instance wait for missing ones; reading storage again");
            return self.catch_up().await.is_some();
        }
        true
    }
}
