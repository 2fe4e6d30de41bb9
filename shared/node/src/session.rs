//! A node as an app runs it: kept online (retrying until the relay answers, then delivering the outbox and
//! syncing with teammates' devices), with joined rooms and open documents, and everything that happens
//! reported through one sink of `SessionEvent`s. The desktop shell only maps these calls and events to
//! commands and window events; the CLI and the tests drive the same code.
//!
//! Every task a session spawns belongs to it (its cancellation token and task tracker) and stops on
//! sign-out, on `close`, and for a document or room when it is closed or left.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use teamflow_protocol::api::auth::User;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{DocumentUrl, TeamId};
use teamflow_sync::automerge::ChangeHash;
use teamflow_sync::rich::HistoryEntry;
use teamflow_sync::samod::DocHandle;
use teamflow_sync::view::{TextUpdate, edit_at, text_since};
use teamflow_sync::{Backoff, Cursor, Presence, PresenceSession, Splice};
use tokio::sync::{Mutex, mpsc, watch};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;

use crate::window::{WindowSink, WindowSync};
use crate::{Node, NodeError, P2pConfig, Status};

/// The first wait before trying the relay again, and the longest.
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LONGEST_RETRY: Duration = Duration::from_secs(10);

/// How often an open document's text is indexed for search while it changes.
const INDEX_EVERY: Duration = Duration::from_secs(2);

/// Something the app shows: the node's status, a room's frame, an open document's change or presence.
#[derive(Debug, Clone)]
pub enum SessionEvent {
    /// The node's status changed (sign-in, link, peers, outbox, a document's sync state).
    Status(Status),
    /// A frame from a joined team's room: chat, typing, presence, project and membership changes.
    Room { team: TeamId, frame: ServerMessage },
    /// An open document changed (a local or a teammate's edit); `document_since` says how.
    DocumentChanged { url: String },
    /// Who else is on an open document, and where their cursors are.
    Presence { url: String, peers: Vec<Presence> },
}

/// Where a session's events go. Called from the session's tasks: it must not block.
pub type EventSink = Arc<dyn Fn(SessionEvent) + Send + Sync>;

/// A document open in the app, with this user's presence on it.
struct OpenDocument {
    handle: DocHandle,
    presence: PresenceSession,
    /// Stops the document's event tasks when it closes.
    _stop: DropGuard,
}

/// A joined room: the way to say "typing", and what stops its task.
struct JoinedRoom {
    typing: mpsc::Sender<()>,
    _stop: DropGuard,
}

impl JoinedRoom {
    /// Whether the room's socket task still runs (it ends when the relay revokes access).
    fn is_live(&self) -> bool {
        !self.typing.is_closed()
    }
}

/// One relay's node, running on behalf of the app.
pub struct Session {
    node: Arc<Node>,
    sink: EventSink,
    p2p: P2pConfig,
    stop: CancellationToken,
    tasks: TaskTracker,
    /// Stops the current sign-in's online, delivery and peering tasks (one set at a time).
    online: std::sync::Mutex<Option<CancellationToken>>,
    rooms: std::sync::Mutex<HashMap<TeamId, JoinedRoom>>,
    /// Shared with the task that closes those of a team this user no longer reads.
    documents: Arc<Mutex<HashMap<String, Arc<OpenDocument>>>>,
    /// The window's sync connection, when a window is connected (one at a time).
    window: std::sync::Mutex<Option<WindowSync>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("node", &self.node).finish_non_exhaustive()
    }
}

impl Session {
    /// Starts reporting the node's status to `sink`, and keeps the node online if someone is signed in.
    pub async fn start(node: Arc<Node>, sink: EventSink, p2p: P2pConfig) -> Session {
        let session = Session {
            node,
            sink,
            p2p,
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            online: std::sync::Mutex::new(None),
            rooms: std::sync::Mutex::new(HashMap::new()),
            documents: Arc::default(),
            window: std::sync::Mutex::new(None),
        };
        session.tasks.spawn(forward_watch(
            session.node.watch_status(),
            session.sink.clone(),
            session.stop.clone(),
            SessionEvent::Status,
        ));
        session.tasks.spawn(close_forgotten(session.node.clone(), session.documents.clone(), session.stop.clone()));
        if session.node.user().await.is_some() {
            session.stay_online();
        }
        session
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    pub async fn sign_up(&self, email: &str, password: &str, display_name: &str) -> Result<User, NodeError> {
        let user = self.node.sign_up(email, password, display_name).await?;
        self.stay_online();
        Ok(user)
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<User, NodeError> {
        let user = self.node.sign_in(email, password).await?;
        self.stay_online();
        Ok(user)
    }

    /// Signs up with an invitation's token or link (the account joins its team) and goes online.
    pub async fn sign_up_with_invitation(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        invitation: &str,
    ) -> Result<User, NodeError> {
        let user = self.node.sign_up_with_invitation(email, password, display_name, invitation).await?;
        self.stay_online();
        Ok(user)
    }

    /// Leaves every room and document, stops going online, then signs the node out.
    pub async fn sign_out(&self) -> Result<(), NodeError> {
        if let Some(online) = lock(&self.online).take() {
            online.cancel();
        }
        lock(&self.rooms).clear();
        lock(&self.window).take();
        self.documents.lock().await.clear();
        self.node.sign_out().await
    }

    /// Changes the account's password; every other sign-in of the account ends, this one stays.
    pub async fn change_password(&self, current_password: &str, new_password: &str) -> Result<(), NodeError> {
        self.node.change_password(current_password, new_password).await
    }

    /// Changes the account's display name (kept on this device too, for the next start).
    pub async fn update_display_name(&self, display_name: &str) -> Result<User, NodeError> {
        self.node.update_display_name(display_name).await
    }

    /// Ends every sign-in of the account (other devices' too), then signs out here as `sign_out` does.
    /// Nothing changes when the relay cannot be asked.
    pub async fn sign_out_everywhere(&self) -> Result<(), NodeError> {
        self.node.end_every_sign_in().await?;
        self.sign_out().await
    }

    /// Deletes the account (its password asked again), then signs out here. A wrong password, or an account
    /// that is the last owner of a team, changes nothing.
    pub async fn delete_account(&self, password: &str) -> Result<(), NodeError> {
        self.node.delete_account_on_relay(password).await?;
        self.sign_out().await
    }

    /// Keeps the node online: retries the first connection with backoff (the sync client redials by
    /// itself after that), then delivers the outbox; peer-to-peer sync runs beside it. Replaces the
    /// previous sign-in's tasks.
    fn stay_online(&self) {
        let stop = self.stop.child_token();
        if let Some(previous) = lock(&self.online).replace(stop.clone()) {
            previous.cancel();
        }
        let (node, config, peering_stop) = (self.node.clone(), self.p2p.clone(), stop.clone());
        self.tasks.spawn(async move {
            tokio::select! {
                () = peering_stop.cancelled() => {}
                () = node.keep_peering(config) => {}
            }
        });
        // The access token is refreshed before it expires, so joined rooms renew in-band and the sync
        // client redials (after the relay closes `/sync` at expiry) with a valid one.
        let (node, fresh_stop) = (self.node.clone(), stop.clone());
        self.tasks.spawn(async move { node.keep_access_fresh(fresh_stop).await });
        let node = self.node.clone();
        self.tasks.spawn(async move {
            let mut backoff = Backoff::new(FIRST_RETRY, LONGEST_RETRY);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    online = node.go_online() => match online {
                        Ok(()) => break,
                        Err(NodeError::SignedOut) => return,
                        Err(e) => tracing::info!(error = %e, "relay unreachable; will retry"),
                    },
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = backoff.wait() => {}
                }
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = node.keep_delivering() => {}
            }
        });
    }

    /// Joins a team's room and reports its frames as `SessionEvent::Room`. Joining a room already joined
    /// is a no-op; joining one the relay ended (access revoked, for example after a demotion) joins again.
    pub async fn join_room(&self, team: TeamId) -> Result<(), NodeError> {
        if lock(&self.rooms).get(&team).is_some_and(JoinedRoom::is_live) {
            return Ok(());
        }
        // The sign-in this join is for. Joining can take a while offline; a sign-out (or another sign-in)
        // meanwhile cancels it, and the room must not outlive it.
        let signed_in = lock(&self.online).clone();
        let room = self.node.join_room(team).await?;
        let stop = self.stop.child_token();
        let mut rooms = lock(&self.rooms);
        // Checked under the rooms' lock: `sign_out` cancels before it clears the rooms, so either this sees
        // the cancellation or the clearing comes after the insertion below.
        if signed_in.is_none_or(|sign_in| sign_in.is_cancelled()) {
            return Err(NodeError::SignedOut);
        }
        if rooms.get(&team).is_some_and(JoinedRoom::is_live) {
            // Joined meanwhile by a concurrent call: this socket closes as `room` drops.
            return Ok(());
        }
        rooms.insert(team, JoinedRoom { typing: room.typing.clone(), _stop: stop.clone().drop_guard() });
        let (sink, mut frames, node) = (self.sink.clone(), room.frames, self.node.clone());
        let tasks = self.tasks.clone();
        self.tasks.spawn(async move {
            // The catch-up on changed messages of the last (re)join, while it runs: one at a time.
            let mut catching_up: Option<tokio::task::JoinHandle<()>> = None;
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    frame = frames.recv() => match frame {
                        Some(frame) => {
                            // Kept (and searchable) before the app hears of it.
                            if let Err(e) = node.remember_frame(&frame).await {
                                tracing::warn!(error = %e, "a room frame could not be kept for offline reading");
                            }
                            if let Err(e) = node.remember_project_frame(&frame).await {
                                tracing::warn!(error = %e, "a project frame could not be kept for offline reading");
                            }
                            let joined = matches!(frame, ServerMessage::TeamState { .. });
                            sink(SessionEvent::Room { team, frame });
                            // (Re)joined: what was edited or deleted while this device was away, beside the
                            // room (which goes on meanwhile), told to the app as the room would have.
                            if joined && catching_up.as_ref().is_none_or(tokio::task::JoinHandle::is_finished) {
                                let catch_up = catch_up_changes(node.clone(), team, sink.clone(), stop.clone());
                                catching_up = Some(tasks.spawn(catch_up));
                            }
                        }
                        None => return,
                    },
                }
            }
        });
        Ok(())
    }

    /// Leaves a team's room: its socket closes.
    pub fn leave_room(&self, team: TeamId) {
        lock(&self.rooms).remove(&team);
    }

    /// Says "typing" in a joined room; nothing when the room is not joined, or a hint is already on its way.
    pub fn typing(&self, team: TeamId) {
        if let Some(room) = lock(&self.rooms).get(&team)
            && room.typing.try_send(()).is_err()
        {
            tracing::trace!("typing hint already on its way");
        }
    }

    /// Opens a document (from local storage, or the relay), shows this user on it, and reports its changes
    /// and presence from now on. Answers its text and heads. Opening it again answers the same.
    pub async fn open_document(&self, url: &str) -> Result<TextUpdate, NodeError> {
        let document = self.document(url).await?;
        let heads = teamflow_sync::heads(&document.handle);
        Ok(text_since(&document.handle, &heads)?)
    }

    /// Applies edits made on the text at `base`; answers the merged text and how it differs from the
    /// caller's text with those edits applied (see `teamflow_sync::view`).
    pub async fn edit_document(&self, url: &str, base: &[String], edits: &[Splice]) -> Result<TextUpdate, NodeError> {
        let document = self.document(url).await?;
        Ok(edit_at(&document.handle, &parse_heads(base)?, edits)?)
    }

    /// The document now, and how it differs from the text at `since`.
    pub async fn document_since(&self, url: &str, since: &[String]) -> Result<TextUpdate, NodeError> {
        let document = self.document(url).await?;
        Ok(text_since(&document.handle, &parse_heads(since)?)?)
    }

    /// Moves this user's cursor (or selection) on an open document; teammates see it at once.
    pub async fn set_cursor(&self, url: &str, anchor: usize, head: usize) -> Result<(), NodeError> {
        self.document(url).await?.presence.set_cursor(Some(Cursor { anchor, head }));
        Ok(())
    }

    /// The last preview of a document this device kept (the spans of its rich text, JSON), without opening
    /// it: the window draws it while the document loads.
    pub async fn document_preview(&self, url: &str) -> Result<Option<String>, NodeError> {
        self.node.document_preview(url).await
    }

    /// The whole document, saved (compacted, with its history): the window loads it in one piece, which is
    /// far quicker than syncing a long history change by change.
    pub async fn document_saved(&self, url: &str) -> Result<Vec<u8>, NodeError> {
        Ok(self.document(url).await?.handle.with_document(|doc| doc.save()))
    }

    /// Every change to the document, oldest first.
    pub async fn document_history(&self, url: &str) -> Result<Vec<HistoryEntry>, NodeError> {
        Ok(teamflow_sync::rich::history(&self.document(url).await?.handle))
    }

    /// The text as it was at a version (a history entry's hash, or any heads).
    pub async fn document_at(&self, url: &str, heads: &[String]) -> Result<String, NodeError> {
        let document = self.document(url).await?;
        Ok(teamflow_sync::rich::text_at(&document.handle, &parse_heads(heads)?)?)
    }

    /// Connects the window's in-memory repo to the node's as a sync peer (see `crate::window`): the node's
    /// frames for it go to `sink`, the window's come through [`Session::window_frame`]. Replaces the
    /// connection of an earlier window (a reload), which ends.
    pub async fn connect_window(&self, sink: WindowSink) -> Result<(), NodeError> {
        let connection = self.node.connect_window(sink, self.stop.child_token(), &self.tasks).await?;
        lock(&self.window).replace(connection);
        Ok(())
    }

    /// Hands one frame from the window to the node's repo; waits while the node is behind. Fails with
    /// `WindowClosed` once the connection has ended (never connected, replaced, signed out, or ended by
    /// samod after a malformed frame): the window then connects again.
    pub async fn window_frame(&self, frame: Vec<u8>) -> Result<(), NodeError> {
        let sender = lock(&self.window).as_ref().map(WindowSync::sender).ok_or(NodeError::WindowClosed)?;
        sender.send(frame).await.map_err(|_| NodeError::WindowClosed)
    }

    /// Closes a document: this user leaves its presence and its events stop.
    pub async fn close_document(&self, url: &str) {
        self.documents.lock().await.remove(url);
    }

    /// Stops everything the session runs and waits for it; the node closes when the last handle to it goes.
    pub async fn close(&self) {
        self.stop.cancel();
        self.node.stop_p2p().await;
        lock(&self.rooms).clear();
        lock(&self.window).take();
        self.documents.lock().await.clear();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// The open document for `url`, opening it on first use.
    async fn document(&self, url: &str) -> Result<Arc<OpenDocument>, NodeError> {
        let mut documents = self.documents.lock().await;
        if let Some(open) = documents.get(url) {
            return Ok(open.clone());
        }
        let parsed: DocumentUrl =
            url.parse().map_err(|_| NodeError::Invalid(format!("{url} is not a document URL")))?;
        let handle = self.node.open_document(&parsed).await?.ok_or(NodeError::NotFound("document"))?;
        let presence = self.node.join_presence(&handle).await?;
        let stop = self.stop.child_token();
        self.tasks.spawn(forward_changes(handle.clone(), url.to_owned(), self.sink.clone(), stop.clone()));
        self.tasks.spawn(index_while_open(self.node.clone(), handle.clone(), url.to_owned(), stop.clone()));
        let url_owned = url.to_owned();
        self.tasks.spawn(forward_watch(presence.peers(), self.sink.clone(), stop.clone(), move |peers| {
            SessionEvent::Presence { url: url_owned.clone(), peers }
        }));
        let open = Arc::new(OpenDocument { handle, presence, _stop: stop.drop_guard() });
        documents.insert(url.to_owned(), open.clone());
        Ok(open)
    }
}

/// Closes the open documents of a team this user no longer reads as teams are forgotten: their handles
/// would keep them in memory, and their content in the store (see `crate::forgotten`).
async fn close_forgotten(
    node: Arc<Node>,
    documents: Arc<Mutex<HashMap<String, Arc<OpenDocument>>>>,
    stop: CancellationToken,
) {
    let mut forgotten = node.watch_document_teams();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            changed = forgotten.changed() => if changed.is_err() { break },
        }
        let open: Vec<String> = documents.lock().await.keys().cloned().collect();
        for url in open {
            let Ok(parsed) = url.parse::<DocumentUrl>() else { continue };
            match node.is_forgotten(&parsed).await {
                Ok(true) => {
                    documents.lock().await.remove(&url);
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, url, "could not tell whether an open document was forgotten"),
            }
        }
    }
}

/// Reports a watched value (now, then on every change) until `stop` or the sender goes.
async fn forward_watch<T: Clone>(
    mut value: watch::Receiver<T>,
    sink: EventSink,
    stop: CancellationToken,
    event: impl Fn(T) -> SessionEvent,
) {
    loop {
        let current = value.borrow_and_update().clone();
        sink(event(current));
        tokio::select! {
            () = stop.cancelled() => return,
            changed = value.changed() => if changed.is_err() { return },
        }
    }
}

/// Reports each change of a document until `stop` or the document's stream ends.
async fn forward_changes(handle: DocHandle, url: String, sink: EventSink, stop: CancellationToken) {
    let mut changes = std::pin::pin!(handle.changes());
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            change = changes.next() => match change {
                Some(_) => sink(SessionEvent::DocumentChanged { url: url.clone() }),
                None => return,
            },
        }
    }
}

/// Keeps an open document's text in the search index and its preview (`crate::previews`): at once, then at
/// most every `INDEX_EVERY` while it changes, and a last time when it closes if it changed since it was last
/// indexed (by its heads, so a change whose notification has not arrived yet is not missed).
async fn index_while_open(node: Arc<Node>, handle: DocHandle, url: String, stop: CancellationToken) {
    // Answers the version it indexed (none when indexing failed), so closing can tell whether to try again.
    let index = async |handle: &DocHandle| {
        let heads = teamflow_sync::heads(handle);
        // Each paragraph, heading or list item a line of its own: words either side of a block's start are
        // separate words.
        let text = teamflow_sync::rich::plain_text(handle);
        let indexed = match node.index_document_text(&url, &text).await {
            Ok(()) => Some(heads),
            Err(e) => {
                tracing::warn!(error = %e, "a document's text could not be indexed for search");
                None
            }
        };
        let kept = match teamflow_sync::preview::spans_json(handle) {
            Ok((spans, at)) => node.keep_preview(&url, &spans, &at).await,
            Err(e) => Err(NodeError::Sync(e.to_string())),
        };
        if let Err(e) = kept {
            // Only the first paint of the next opening is slower: it waits for the document.
            tracing::warn!(error = %e, "a document's preview could not be kept");
        }
        indexed
    };
    let mut changes = std::pin::pin!(handle.changes());
    // The heads last indexed; a failed indexing leaves them, so closing tries again.
    let mut indexed = index(&handle).await;
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let wait = async {
            match due {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = stop.cancelled() => break,
            () = wait => {
                due = None;
                if let Some(heads) = index(&handle).await {
                    indexed = Some(heads);
                }
            }
            change = changes.next() => match change {
                Some(_) => {
                    due.get_or_insert_with(|| tokio::time::Instant::now() + INDEX_EVERY);
                }
                None => break,
            },
        }
    }
    if indexed.as_ref() != Some(&teamflow_sync::heads(&handle)) {
        index(&handle).await;
    }
}

fn parse_heads(heads: &[String]) -> Result<Vec<ChangeHash>, NodeError> {
    heads
        .iter()
        .map(|h| ChangeHash::from_str(h).map_err(|_| NodeError::Invalid(format!("{h} is not a change hash"))))
        .collect()
}

/// A std mutex whose guard is never held across an await; a panic elsewhere does not poison the session.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads the messages of `team` changed since this device last asked and tells the app of each it keeps,
/// as `message_changed` frames; stops with the room. Failing (offline again), the next join asks.
async fn catch_up_changes(node: Arc<Node>, team: TeamId, sink: EventSink, stop: CancellationToken) {
    tokio::select! {
        () = stop.cancelled() => {}
        caught = node.catch_up_message_changes(team) => match caught {
            Ok(changed) => {
                for message in changed {
                    sink(SessionEvent::Room { team, frame: ServerMessage::MessageChanged { message } });
                }
            }
            Err(e) => tracing::info!(error = %e, %team, "message changes not caught up; the next join asks"),
        },
    }
}
