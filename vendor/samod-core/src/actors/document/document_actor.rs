#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use automerge::{Automerge, ChangeHash};

use super::SpawnArgs;
// use super::driver::Driver;
use super::io::{DocumentIoResult, DocumentIoTask};
use crate::actors::document::load::{Load, LoadComplete};
use crate::actors::document::on_disk_state::OnDiskState;
use crate::actors::document::peer_doc_connection::{PeerDocConnection, SharePolicyState};
use crate::actors::document::phase::loading::Loading;
use crate::actors::document::phase::ready::Ready;
use crate::actors::document::phase::request::{Request, RequestOutcome};
use crate::actors::document::{ActorInput, DocActorResult, Unload, WithDocResult};
use crate::actors::messages::{
    Broadcast, DocMessage, DocToHubMsgPayload, HubToDocMsgPayload, SyncMessage,
};
use crate::actors::{DocToHubMsg, HubToDocMsg, RunState};
use crate::doc_search::DocSearchPhase;
use crate::io::{IoResult, IoTaskId};
use crate::network::PeerDocState;
use crate::{
    ConnectionId, DocumentActorId, DocumentChanged, DocumentId, IdleUnload, PeerId, ShareConfig,
    StorageKey, SyncDirection, SyncMessageStat, UnixTimestamp,
};

use super::errors::DocumentError;

/// A document actor manages a single Automerge document.
///
/// Document actors are passive state machines that:
/// - Handle initialization and termination
/// - Can request I/O operations
/// - Process I/O completions
///
/// All I/O operations are requested through the sans-IO pattern,
/// returning tasks for the caller to execute.
pub struct DocumentActor {
    /// The document this actor manages
    document_id: DocumentId,
    /// The ID of this actor according to the main `Samod` instance
    id: DocumentActorId,
    local_peer_id: PeerId,
    /// Current load state
    load_state: Load,
    /// Sync states for each connected peer
    peer_connections: HashMap<ConnectionId, PeerDocConnection>,
    on_disk_state: OnDiskState,
    /// Ongoing policy check tasks
    // Each share-policy lookup in flight, and how the messages held for it
    // are handled once it answers: those held for a first decision (which
    // may come from the IO loop's cache, as old as the stream's lag) may
    // still be rechecked; those held for a recheck may not.
    check_policy_tasks: HashMap<IoTaskId, (ConnectionId, Recheck)>,
    phase: Phase,
    run_state: RunState,
    doc: Automerge,
    last_status_update: Option<DocSearchPhase>,
    idle_unload: Option<IdleUnload>,
    /// Whether the document is written to storage (see
    /// [`SamodLoader::without_saving`](crate::SamodLoader::without_saving)).
    saves: bool,
    /// Since when nothing has kept this document loaded or used it (tracked only
    /// with `idle_unload`).
    idle_since: Option<UnixTimestamp>,
    /// Whether the document was used (a sync message or a local change) since
    /// the last step.
    recently_used: bool,
    /// Connections whose sync messages changed the document since the last
    /// step: their changes are written in this step, and they are answered
    /// once the writes land.
    changed_by: HashSet<ConnectionId>,
    /// Connections whose answer waits for these storage writes (every write
    /// running when their changes were saved). A sync reply tells the peer
    /// which heads this repo has; it must not say so before they are stored,
    /// or a peer could count as saved a change that a crash then loses.
    answers_held: HashMap<ConnectionId, HashSet<IoTaskId>>,
    /// Connections whose held answer was released (their writes landed) and
    /// who have not been sent a message since (see
    /// [`DocumentActor::flush_released_answers`]).
    answers_released: HashSet<ConnectionId>,
    /// Set by [`DocumentActor::defer_sync_messages`]: steps leave sync message
    /// generation to [`DocumentActor::flush_sync_messages`].
    defer_sync: bool,
    /// Whether a step skipped sync message generation while `defer_sync` was set.
    sync_owed: bool,
    /// Sync messages generated so far (see [`DocumentActor::sync_messages_generated`]).
    sync_messages_generated: u64,
    /// Whether the hub wants the peers' states (see
    /// [`HubEvent::observe_peer_states`](crate::actors::hub::HubEvent::observe_peer_states)).
    hub_observes_peers: bool,
    /// Whether anyone reads [`DocActorResult::peer_state_changes`] (see
    /// [`DocumentActor::observe_peer_states`]).
    peer_state_listeners: bool,
    /// Counts connections added and removed (see [`DocumentActor::peers_version`]).
    peers_version: u64,
}

#[derive(Debug)]
pub(crate) enum Phase {
    Loading(Loading),
    Requesting(Request),
    Ready(Ready),
}

impl DocumentActor {
    /// Creates a new document actor for the specified document.
    #[tracing::instrument(skip(initial_content, initial_connections))]
    pub fn new(
        now: UnixTimestamp,
        SpawnArgs {
            local_peer_id,
            actor_id,
            document_id,
            initial_content,
            initial_connections,
            idle_unload,
            saves,
            report_peer_states,
        }: SpawnArgs,
    ) -> (Self, DocActorResult) {
        let mut out = DocActorResult::default();

        let (phase, doc) = if let Some(doc) = initial_content {
            (Phase::Ready(Ready::new()), doc)
        } else {
            (Phase::Loading(Loading::new()), Automerge::new())
        };

        // Enqueue initial load
        let mut load_state = Load::new(document_id.clone());
        load_state.begin();

        let mut actor = Self {
            document_id,
            doc,
            local_peer_id: local_peer_id.clone(),
            id: actor_id,
            load_state,
            check_policy_tasks: HashMap::new(),
            on_disk_state: OnDiskState::new(),
            peer_connections: HashMap::new(),
            run_state: RunState::Running,
            phase,
            last_status_update: None,
            // A document that is not saved could not be loaded again.
            idle_unload: idle_unload.filter(|_| saves),
            saves,
            idle_since: None,
            recently_used: false,
            changed_by: HashSet::new(),
            answers_held: HashMap::new(),
            answers_released: HashSet::new(),
            defer_sync: false,
            sync_owed: false,
            sync_messages_generated: 0,
            hub_observes_peers: report_peer_states,
            peer_state_listeners: true,
            peers_version: 0,
        };

        tracing::trace!(?initial_connections, "applying initial connections");
        for (conn_id, (peer_id, msg)) in initial_connections {
            actor.add_connection(conn_id, peer_id);
            if let Some(msg) = msg {
                actor.handle_input(
                    now,
                    ActorInput::HandleDocMessage {
                        connection_id: conn_id,
                        message: msg,
                        received_at: now,
                    },
                    &mut out,
                );
            }
        }

        actor.step(now, &mut out);
        (actor, out)
    }

    /// Processes a message from the hub actor and returns the result.
    pub fn handle_message(
        &mut self,
        now: UnixTimestamp,
        message: HubToDocMsg,
    ) -> Result<DocActorResult, DocumentError> {
        if self.run_state == RunState::Stopped {
            tracing::warn!(actor_id=%self.id, "ignoring message on stopped document actor");
            return Ok(DocActorResult {
                stopped: true,
                ..Default::default()
            });
        }
        let mut out = DocActorResult::default();
        self.handle_input(now, ActorInput::from(message.0), &mut out);
        Ok(out)
    }

    /// Processes the completion of an I/O operation.
    ///
    /// This forwards IO completions to the appropriate async operation
    /// waiting for the result.
    #[tracing::instrument(
        skip(self, io_result),
        fields(
            local_peer_id=%self.local_peer_id(),
            document_id=%self.document_id,
            actor_id=%self.id
        )
    )]
    pub fn handle_io_complete(
        &mut self,
        now: UnixTimestamp,
        io_result: IoResult<DocumentIoResult>,
    ) -> Result<DocActorResult, DocumentError> {
        if self.run_state == RunState::Stopped {
            tracing::warn!(actor_id=%self.id, "ignoring IO completion on stopped document actor");
            let mut result = DocActorResult::new();
            result.stopped = true;
            return Ok(result);
        }
        let mut result = DocActorResult::new();
        let input = ActorInput::IoComplete(io_result);
        self.handle_input(now, input, &mut result);
        Ok(result)
    }

    /// Returns the document ID this actor manages.
    pub fn document_id(&self) -> &DocumentId {
        &self.document_id
    }

    fn local_peer_id(&self) -> PeerId {
        self.local_peer_id.clone()
    }

    pub fn document(&self) -> &Automerge {
        &self.doc
    }

    fn document_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    /// Provides mutable access to the document with automatic side effect handling.
    ///
    /// The closure receives a mutable reference to the Automerge document. Any modifications
    /// will be detected and appropriate side effects will be generated and returned in the
    /// `WithDocResult`.
    ///
    /// Returns an error if the document is not yet loaded or if there's an internal error.
    ///
    /// # Example
    ///
    /// ```rust,no_run
    /// use automerge::{AutomergeError, ObjId, transaction::Transactable, ObjType};
    /// use samod_core::UnixTimestamp;
    /// # let mut actor: samod_core::actors::document::DocumentActor = todo!(); // DocumentActor instance
    /// let now = UnixTimestamp::now();
    /// let result = actor.with_document::<_, ObjId>(now, |doc| {
    ///     doc.transact::<_, _, AutomergeError>(|tx| {
    ///         tx.put_object(automerge::ROOT, "key", ObjType::Text)
    ///     }).unwrap().result
    /// }).unwrap();
    ///
    /// // Get the closure result
    /// let object_id = result.value;
    ///
    /// // Execute any side effects
    /// for io_task in result.actor_result.io_tasks {
    ///     // storage.execute_document_io(io_task);
    /// }
    /// ```
    #[tracing::instrument(skip(self, f), fields(local_peer_id=tracing::field::Empty))]
    pub fn with_document<F, R>(
        &mut self,
        now: UnixTimestamp,
        f: F,
    ) -> Result<WithDocResult<R>, DocumentError>
    where
        F: FnOnce(&mut Automerge) -> R,
    {
        let mut guard = self.begin_modification()?;

        let closure_result = f(guard.doc());

        let actor_result = guard.commit(now);

        Ok(WithDocResult::with_side_effects(
            closure_result,
            actor_result,
        ))
    }

    /// Begin a modification of the document, returning a guard for safe access.
    ///
    /// In some scenarios it's not possible to express the modifications that
    /// you need to make to a document using the `with_document` method. In
    /// these cases you can use this method to obtain a guard that allows you to
    /// modify the document directly. Once you have finished you _must_ call
    /// `commit` on the guard to apply the changes and generate any necessary
    /// side effects. Failure to do so will result in a panic when the guard is
    /// dropped.
    ///
    /// # Example
    ///
    /// ```rust,no_run
    /// use automerge::{ROOT, AutomergeError, transaction::Transactable};
    /// # use std::error::Error;
    /// # use samod_core::UnixTimestamp;
    /// # fn example() -> Result<(), Box<dyn Error>> {
    /// # let mut actor: samod_core::actors::document::DocumentActor = todo!(); // DocumentActor instance
    ///
    /// let mut guard = actor.begin_modification()?;
    ///
    /// // Make multiple modifications to the document
    /// guard.doc().transact::<_, _, AutomergeError>(|tx| {
    ///     let list_id = tx.put_object(ROOT, "items", automerge::ObjType::List)?;
    ///     tx.insert(&list_id, 0, "first item")?;
    ///     tx.insert(&list_id, 1, "second item")?;
    ///     Ok(())
    /// }).unwrap();
    ///
    /// // Commit the changes and get the side effects
    /// let now = UnixTimestamp::now();
    /// let result = guard.commit(now);
    ///
    /// // Handle any I/O tasks that were generated
    /// for io_task in result.io_tasks {
    ///     // Execute the I/O task with your storage system
    ///     // storage.execute_document_io(io_task);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn begin_modification(&mut self) -> Result<WithDocGuard<'_>, DocumentError> {
        // Try to access the internal document
        tracing::Span::current().record("local_peer_id", self.local_peer_id.to_string());
        if !self.is_document_ready() {
            return Err(DocumentError::InvalidState(
                "document is not ready".to_string(),
            ));
        }
        Ok(WithDocGuard::new(self))
    }

    pub fn broadcast(&mut self, _now: UnixTimestamp, msg: Vec<u8>) -> DocActorResult {
        let mut result = DocActorResult::new();
        let broadcast_targets = self
            .peer_connections
            .iter()
            .filter_map(|(id, conn)| conn.can_send().then_some(*id))
            .collect();
        result
            .outgoing_messages
            .push(DocToHubMsg(DocToHubMsgPayload::Broadcast {
                connections: broadcast_targets,
                msg: Broadcast::New { msg },
            }));
        result
    }

    /// Returns true if the document is loaded and ready for operations.
    pub fn is_document_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready(_))
    }

    #[tracing::instrument(skip(self, input, out), fields(local_peer_id=%self.local_peer_id))]
    fn handle_input(&mut self, now: UnixTimestamp, input: ActorInput, out: &mut DocActorResult) {
        match input {
            ActorInput::UpdateSharePolicy { peer_id, config } => {
                let connections: HashSet<_> = self
                    .peer_connections
                    .iter()
                    .filter_map(|(id, conn)| (conn.peer_id == peer_id).then_some(*id))
                    .collect();
                // A delayed initial check must not overwrite a pushed update.
                self.check_policy_tasks
                    .retain(|_, (conn, _)| !connections.contains(conn));
                // The stream's decision is the policy's latest: what it
                // denies is refused.
                for conn in connections {
                    self.apply_share_policy(now, out, conn, config, Recheck::No);
                }
            }
            ActorInput::Terminate => {
                if self.run_state == RunState::Running {
                    self.run_state = RunState::Stopping;
                }
            }
            ActorInput::HandleDocMessage {
                connection_id,
                message,
                received_at,
            } => {
                match message {
                    DocMessage::Ephemeral(msg) => {
                        // Ephemera are best-effort: drop them while policy is
                        // pending or denied. Read-only peers may send presence.
                        if !self
                            .peer_connections
                            .get(&connection_id)
                            .is_some_and(|conn| conn.can_read())
                        {
                            return;
                        }
                        out.emit_ephemeral_message(msg.data.clone());
                        // Forward the message to all other connections
                        let targets = self
                            .peer_connections
                            .iter()
                            .filter_map(|(c, conn)| {
                                if conn.peer_id != msg.sender_id && conn.can_send() {
                                    Some(*c)
                                } else {
                                    None
                                }
                            })
                            .collect();
                        out.send_broadcast(targets, Broadcast::Gossip { msg });
                    }
                    DocMessage::Sync(msg) => self.handle_sync_message(
                        now,
                        out,
                        connection_id,
                        msg,
                        received_at,
                        Recheck::IfDenied,
                    ),
                };
            }
            ActorInput::NewConnection {
                connection_id,
                peer_id,
            } => {
                self.add_connection(connection_id, peer_id);
            }
            ActorInput::ConnectionClosed { connection_id } => {
                self.remove_connection(connection_id);
            }
            ActorInput::RetrySearch => {
                if let Phase::Requesting(request) = &mut self.phase {
                    request.retry(&self.peer_connections);
                    // Our policy's denial may be older than the peer's access
                    // (a grant made a moment ago): ask it again, even if a
                    // recheck a message asked for is on its way (it may have
                    // started before the grant).
                    for conn_id in request.blocked_by_policy() {
                        let Some(conn) = self.peer_connections.get_mut(&conn_id) else {
                            continue;
                        };
                        let task_id = out.recheck_share_policy(conn.peer_id.clone());
                        self.check_policy_tasks
                            .insert(task_id, (conn_id, Recheck::No));
                        conn.share_policy = SharePolicyState::Loading;
                        request.await_share_policy(conn_id);
                    }
                }
                // The hub has shown the retried peers as requested; report the
                // state as it really is even if nothing changed here.
                self.last_status_update = None;
            }
            ActorInput::IoComplete(io_result) => {
                match io_result.payload {
                    DocumentIoResult::Storage(storage_result) => {
                        if self.load_state.has_task(io_result.task_id) {
                            self.load_state
                                .handle_result(io_result.task_id, storage_result);
                        } else if self.on_disk_state.has_task(io_result.task_id) {
                            self.on_disk_state
                                .task_complete(io_result.task_id, storage_result);
                            let peer_connections = &mut self.peer_connections;
                            let released = &mut self.answers_released;
                            self.answers_held.retain(|conn_id, writes| {
                                writes.remove(&io_result.task_id);
                                if writes.is_empty()
                                    && let Some(conn) = peer_connections.get_mut(conn_id)
                                {
                                    conn.owe_answer();
                                    released.insert(*conn_id);
                                }
                                !writes.is_empty()
                            });
                        } else {
                            panic!("unexpected storage result");
                        }
                    }
                    DocumentIoResult::CheckSharePolicy(config) => {
                        let Some((conn_id, held)) =
                            self.check_policy_tasks.remove(&io_result.task_id)
                        else {
                            // A pushed update or closed connection superseded this lookup.
                            return;
                        };
                        self.apply_share_policy(now, out, conn_id, config, held);
                    }
                }
                if let Some(LoadComplete {
                    snapshots,
                    incrementals,
                }) = self.load_state.take_complete()
                {
                    self.handle_load(now, out, &snapshots, &incrementals);
                    self.on_disk_state
                        .add_keys(snapshots.into_keys().chain(incrementals.into_keys()));
                }
            }
            ActorInput::ObservePeerStates(observed) => {
                if observed && !self.hub_observes_peers {
                    // The hub's copy is stale, and what changed meanwhile may
                    // have gone to the caller's listeners only: the step below
                    // sends the hub every state.
                    for conn in self.peer_connections.values_mut() {
                        conn.mark_changed();
                    }
                }
                self.hub_observes_peers = observed;
            }
            ActorInput::Tick => {}
        }
        self.step(now, out);
    }

    fn step(&mut self, now: UnixTimestamp, out: &mut DocActorResult) {
        if self.run_state == RunState::Stopped {
            return;
        }
        if self.run_state == RunState::Stopping {
            // Written, compacted and superseded chunks deleted before stopping, so
            // the next load reads one snapshot.
            if self.saves {
                self.on_disk_state
                    .finish(out, &self.document_id, &self.doc);
            }
            if self.on_disk_state.is_settled() {
                self.run_state = RunState::Stopped;
                out.send_terminated();
                out.stopped = true;
            }
            return;
        }
        if let Phase::Requesting(request) = &mut self.phase
            && let RequestOutcome::Found = request.outcome(&self.doc)
        {
            self.phase = Phase::Ready(Ready::new());
        }
        self.enqueue_share_policy_checks(out);
        // Written first, so the peers whose changes these are can be answered
        // once the writes land rather than now.
        if self.saves {
            self.on_disk_state
                .save_new_changes(out, &self.document_id, &self.doc);
        }
        for conn_id in std::mem::take(&mut self.changed_by) {
            let writes: HashSet<IoTaskId> = self.on_disk_state.running_puts().collect();
            if !writes.is_empty() {
                self.answers_held.entry(conn_id).or_default().extend(writes);
            }
        }
        if self.defer_sync {
            self.sync_owed = true;
        } else {
            self.generate_sync_messages(now, out);
        }
        out.io_tasks.extend(
            self.load_state
                .step()
                .into_iter()
                .map(|s| s.map(DocumentIoTask::Storage)),
        );
        let status = self.doc_status();
        if Some(&status) != self.last_status_update.as_ref() {
            out.update_search_state(status.clone());
            self.last_status_update = Some(status);
        }
        // Copying every changed peer's state after every step is costly with
        // many peers, so it is done only for someone who reads the copies; the
        // states themselves stay current, and marked changed, meanwhile.
        if (self.hub_observes_peers || self.peer_state_listeners)
            && let Some(new_peer_states) = self.new_peer_states()
        {
            out.emit_peer_state_changes(new_peer_states, self.hub_observes_peers);
        }
        self.track_idle(now, out);
    }

    pub fn is_stopped(&self) -> bool {
        self.run_state == RunState::Stopped
    }

    /// Whether `message` is light: an acknowledgement (a sync message with no
    /// changes, asking for nothing, whose heads are the document's) or a small
    /// ephemeral message, from a peer this loaded document already exchanges
    /// sync messages with. Handling one updates the peer's sync state and finds
    /// nothing to send, or forwards the ephemeral message, so a runner may handle
    /// it on the thread it arrives on instead of handing it to the document's
    /// thread, which costs two thread wake-ups per message. Anything else may
    /// cost more than its size says: changes to apply (a few compressed bytes
    /// can be many operations), a peer behind the document or one that lost its
    /// data (the answer can be the whole history), a request.
    pub fn is_light(&self, message: &HubToDocMsg) -> bool {
        /// Presence and cursors are a few hundred bytes.
        const LIGHT_EPHEMERAL_BYTES: usize = 4096;
        let HubToDocMsgPayload::HandleDocMessage {
            connection_id,
            message,
            ..
        } = &message.0
        else {
            return false;
        };
        let from_a_syncing_peer = self.run_state == RunState::Running
            && matches!(self.phase, Phase::Ready(_))
            && self
                .peer_connections
                .get(connection_id)
                .is_some_and(|conn| {
                    conn.can_read()
                        && conn.pending_sync_messages.is_empty()
                        && conn.state().last_received.is_some()
                        && conn.state().last_sent.is_some()
                });
        if !from_a_syncing_peer {
            return false;
        }
        match message {
            DocMessage::Ephemeral(msg) => msg.data.len() <= LIGHT_EPHEMERAL_BYTES,
            DocMessage::Sync(SyncMessage::Sync { data }) => self.is_acknowledgement(data),
            DocMessage::Sync(SyncMessage::Request { .. } | SyncMessage::DocUnavailable) => false,
        }
    }

    /// Whether `data` is a sync message that only says the peer has the
    /// document's current heads: no changes, no needs, no reset.
    fn is_acknowledgement(&self, data: &[u8]) -> bool {
        /// An acknowledgement is its heads and a Bloom filter of the changes
        /// since the last sync: a few hundred bytes. Anything larger is not
        /// decoded here (decoding copies the changes).
        const ACKNOWLEDGEMENT_BYTES: usize = 4096;
        if data.len() > ACKNOWLEDGEMENT_BYTES {
            return false;
        }
        let Ok(message) = automerge::sync::Message::decode(data) else {
            return false;
        };
        let reset = message
            .flags
            .is_some_and(|flags| flags.contains(automerge::sync::MessageFlags::SYNC_RESET));
        if reset || !message.changes.is_empty() || !message.need.is_empty() {
            return false;
        }
        // As automerge compares them, in order: heads in another order make it
        // build a full answer. Empty heads mean a peer that lost its data.
        !message.heads.is_empty() && message.heads == self.doc.get_heads()
    }

    /// Holds back sync messages until [`flush_sync_messages`](Self::flush_sync_messages):
    /// inputs handled in between still apply their changes, save them and update
    /// the peers' states, but each peer's sync message is generated once, at the
    /// flush, and carries everything that changed since its last one.
    ///
    /// A runner that has several inputs queued for this actor calls this before
    /// handling them and flushes after the last: with N peers and K queued
    /// changes that is N messages instead of K x N. The caller must flush before
    /// it waits for more input, or the peers are not told.
    pub fn defer_sync_messages(&mut self) {
        self.defer_sync = true;
    }

    /// Ends [`defer_sync_messages`](Self::defer_sync_messages), generating the
    /// sync messages that were held back. `None` when nothing was held back.
    pub fn flush_sync_messages(&mut self, now: UnixTimestamp) -> Option<DocActorResult> {
        self.defer_sync = false;
        if !std::mem::take(&mut self.sync_owed) || self.run_state != RunState::Running {
            return None;
        }
        let mut out = DocActorResult::new();
        self.step(now, &mut out);
        Some(out)
    }

    /// While sync messages are held back (see
    /// [`defer_sync_messages`](Self::defer_sync_messages)), answers the peers
    /// whose held answer was released since (the storage writes holding their
    /// changes landed): each gets the message it would get at the flush, now,
    /// and the other peers stay held. A runner that holds messages for longer
    /// than one batch calls it so that a peer's own change is acknowledged as
    /// soon as it is stored. `None` when no answer was released.
    pub fn flush_released_answers(&mut self, now: UnixTimestamp) -> Option<DocActorResult> {
        if self.answers_released.is_empty() || self.run_state != RunState::Running {
            return None;
        }
        let released = std::mem::take(&mut self.answers_released);
        let mut out = DocActorResult::new();
        self.generate_sync_messages_for(now, &mut out, Some(&released));
        Some(out)
    }

    /// Whether sync messages were held back by [`defer_sync_messages`](Self::defer_sync_messages)
    /// since the last flush: a runner that keeps holding them must flush later.
    pub fn owes_sync_messages(&self) -> bool {
        self.sync_owed
    }

    /// How many sync messages this actor has generated: a runner that spaces
    /// out its flushes compares it before and after an input to learn whether
    /// the input sent anything.
    pub fn sync_messages_generated(&self) -> u64 {
        self.sync_messages_generated
    }

    /// Stops this actor if it has been idle for the configured time (see
    /// [`IdleUnload`]) and nothing is in flight, so that it can be dropped: its
    /// document is all in storage. Otherwise nothing changes.
    ///
    /// The caller must make sure no input is queued for this actor and none can
    /// arrive before it is dropped (the hub no longer routes to it once told with
    /// [`HubEvent::unload_outcome`](crate::actors::hub::HubEvent::unload_outcome)).
    pub fn unload(&mut self, now: UnixTimestamp) -> Unload {
        let (Some(config), Some(since)) = (self.idle_unload, self.idle_since) else {
            return Unload::InUse;
        };
        if self.run_state != RunState::Running || now < since + config.after || self.keeps_loaded()
        {
            return Unload::InUse;
        }
        if self.is_busy() || self.sync_owed {
            return Unload::Busy;
        }
        tracing::debug!(document_id=%self.document_id, actor_id=%self.id, "unloading idle document");
        self.run_state = RunState::Stopped;
        let mut out = DocActorResult::new();
        out.stopped = true;
        Unload::Unloaded(out)
    }

    /// Whether something keeps this document loaded: it is not loaded yet, it is
    /// half-way through a request, or a connected peer needs it.
    fn keeps_loaded(&self) -> bool {
        let Some(config) = self.idle_unload else {
            return true;
        };
        let heads = self.doc.get_heads();
        let phase = match &self.phase {
            Phase::Loading(_) => true,
            // Once no peer has it, a document we requested is as absent as before.
            Phase::Requesting(_) => !heads.is_empty(),
            Phase::Ready(_) => false,
        };
        phase
            || self
                .peer_connections
                .values()
                .any(|peer| peer.keeps_loaded(&self.doc, &heads, config.keep_for_peers))
    }

    /// Whether work is in flight: a load, a storage write, a share policy check.
    /// Being busy does not restart the idle period, it only defers unloading.
    fn is_busy(&self) -> bool {
        !self.load_state.is_idle()
            || !self.on_disk_state.is_settled()
            || !self.check_policy_tasks.is_empty()
            || self
                .peer_connections
                .values()
                .any(|peer| !peer.pending_sync_messages.is_empty())
    }

    /// Keeps `idle_since` and tells the hub when the document becomes idle or
    /// stops being idle. Use while idle (a peer in sync sending a change, say)
    /// restarts the period without telling the hub: when it offers the document
    /// too early, `unload` declines and the hub asks again a period later.
    fn track_idle(&mut self, now: UnixTimestamp, out: &mut DocActorResult) {
        if self.idle_unload.is_none() {
            return;
        }
        let used = std::mem::take(&mut self.recently_used);
        match (self.keeps_loaded(), self.idle_since) {
            (false, None) => {
                self.idle_since = Some(now);
                out.report_idle(self.idle_since);
            }
            (false, Some(_)) if used => self.idle_since = Some(now),
            (true, Some(_)) => {
                self.idle_since = None;
                out.report_idle(None);
            }
            _ => {}
        }
    }

    /// Whether the caller reads [`DocActorResult::peer_state_changes`]. On when
    /// the actor is created; a caller that only reads them while someone listens
    /// turns it off meanwhile, and reads [`peers`](Self::peers) for the states
    /// as they are when it turns it on again. (The hub's own copy is governed by
    /// [`HubEvent::observe_peer_states`](crate::actors::hub::HubEvent::observe_peer_states).)
    pub fn observe_peer_states(&mut self, observed: bool) {
        self.peer_state_listeners = observed;
    }

    /// How many connections this document is paired with.
    pub fn peer_count(&self) -> usize {
        self.peer_connections.len()
    }

    /// Changes whenever a connection is paired with this document or leaves
    /// it, so a caller can tell that [`peer_ids`](Self::peer_ids) is as it was
    /// without reading it.
    pub fn peers_version(&self) -> u64 {
        self.peers_version
    }

    /// The connections this document is paired with, and their peers.
    pub fn peer_ids(&self) -> impl Iterator<Item = (ConnectionId, &PeerId)> {
        self.peer_connections
            .iter()
            .map(|(conn_id, conn)| (*conn_id, &conn.peer_id))
    }

    pub fn peers(&self) -> HashMap<ConnectionId, PeerDocState> {
        self.peer_connections
            .iter()
            .map(|(k, v)| (*k, v.state().clone()))
            .collect()
    }

    pub fn conn_peer_id(&self, conn_id: ConnectionId) -> Option<PeerId> {
        self.peer_connections
            .get(&conn_id)
            .map(|pc| pc.peer_id.clone())
    }

    fn apply_share_policy(
        &mut self,
        now: UnixTimestamp,
        out: &mut DocActorResult,
        conn_id: ConnectionId,
        config: ShareConfig,
        held: Recheck,
    ) {
        let Some(peer_conn) = self.peer_connections.get_mut(&conn_id) else {
            return;
        };
        let previous = peer_conn.set_share_config(config);
        let pending = std::mem::take(&mut peer_conn.pending_sync_messages);
        if let Phase::Requesting(request) = &mut self.phase {
            request.share_policy_changed(conn_id, previous, config);
        }
        for (msg, received_at) in pending {
            self.handle_sync_message(now, out, conn_id, msg, received_at, held);
        }
    }

    fn enqueue_share_policy_checks(&mut self, out: &mut DocActorResult) {
        for peer_conn in self.peer_connections.values_mut() {
            if peer_conn.share_policy == SharePolicyState::Unknown {
                let task_id = out.check_share_policy(peer_conn.peer_id.clone());
                self.check_policy_tasks
                    .insert(task_id, (peer_conn.connection_id, Recheck::IfDenied));
                peer_conn.share_policy = SharePolicyState::Loading;
            }
        }
    }

    fn handle_sync_message(
        &mut self,
        now: UnixTimestamp,
        out: &mut DocActorResult,
        connection_id: ConnectionId,
        msg: SyncMessage,
        received_at: UnixTimestamp,
        recheck: Recheck,
    ) {
        let Some(peer_conn) = self.peer_connections.get_mut(&connection_id) else {
            tracing::warn!(?connection_id, "no sync state found for message");
            return;
        };
        tracing::debug!(?connection_id, peer_id=?peer_conn.peer_id, ?msg, "received msg");
        self.recently_used = true;

        if matches!(msg, SyncMessage::Request { .. } | SyncMessage::Sync { .. }) {
            peer_conn.mark_requested();
        }
        let Some(config) = peer_conn.share_config() else {
            if !peer_conn.buffer_sync_message(msg, received_at) {
                self.remove_connection(connection_id);
                out.outgoing_messages
                    .push(DocToHubMsg(DocToHubMsgPayload::Disconnect {
                        connection_id,
                        reason: "too many sync messages waiting for share policy".into(),
                    }));
            }
            return;
        };
        if !config.can_read() {
            if recheck == Recheck::IfDenied
                && matches!(msg, SyncMessage::Request { .. } | SyncMessage::Sync { .. })
            {
                // The denial may be older than the peer's access: a peer
                // granted access a moment ago can ask before the policy's
                // update arrives. Hold the message and ask the policy again;
                // its answer handles the message (and refuses it if the
                // denial stands).
                let task_id = out.recheck_share_policy(peer_conn.peer_id.clone());
                self.check_policy_tasks
                    .insert(task_id, (connection_id, Recheck::No));
                peer_conn.share_policy = SharePolicyState::Loading;
                peer_conn.pending_sync_messages.push((msg, received_at));
                return;
            }
            // Do not reveal whether the document exists, and let requestors
            // finish their search rather than waiting indefinitely.
            if !matches!(msg, SyncMessage::DocUnavailable) {
                out.send_sync_message(
                    connection_id,
                    self.document_id.clone(),
                    SyncMessage::DocUnavailable,
                );
            }
            return;
        }

        let bytes = match &msg {
            SyncMessage::Request { data } | SyncMessage::Sync { data } => data.len(),
            SyncMessage::DocUnavailable => 0,
        };

        let heads_before = self.doc.get_heads();
        let duration = match &mut self.phase {
            Phase::Loading(loading) => {
                loading.receive_sync_message(connection_id, msg);
                None
            }
            Phase::Requesting(request) => {
                request.receive_message(now, &mut self.doc, peer_conn, msg)
            }
            Phase::Ready(ready) => {
                let duration = ready.receive_sync_message(now, &mut self.doc, peer_conn, msg);
                let heads_after = self.doc.get_heads();
                if heads_before != heads_after {
                    out.emit_doc_changed(heads_after);
                }
                duration
            }
        };
        if self.doc.get_heads() != heads_before {
            self.changed_by.insert(connection_id);
        }

        if let Some(duration) = duration {
            let queue_duration = if now >= received_at {
                now - received_at
            } else {
                Duration::ZERO
            };
            if bytes > 0 {
                out.sync_message_stats.push(SyncMessageStat {
                    connection_id,
                    direction: SyncDirection::Received,
                    bytes,
                    duration,
                    queue_duration,
                });
            }
        }
    }

    pub fn handle_load(
        &mut self,
        now: UnixTimestamp,
        out: &mut DocActorResult,
        snapshots: &HashMap<StorageKey, Vec<u8>>,
        incrementals: &HashMap<StorageKey, Vec<u8>>,
    ) {
        tracing::trace!("handling load");
        for (key, snapshot) in snapshots {
            if let Err(e) = self.doc.load_incremental(snapshot) {
                tracing::warn!(err=?e, %key, "error loading snapshot chunk");
            }
        }
        for (key, incremental) in incrementals {
            if let Err(e) = self.doc.load_incremental(incremental) {
                tracing::warn!(err=?e, %key, "error loading incremental chunk");
            }
        }
        // Every change made in memory before the load finished was saved when
        // it was made (messages wait for the load), so what is in memory is in
        // storage: a document loaded again after being unloaded is not rewritten.
        self.on_disk_state.loaded(&self.doc);

        if let Phase::Loading(loading) = &mut self.phase {
            let pending_sync_messages = loading.take_pending_sync_messages();
            if self.doc.get_heads().is_empty() {
                tracing::debug!("no data found on disk, requesting document");
                let request =
                    Request::new(self.document_id.clone(), self.peer_connections.values());
                self.phase = Phase::Requesting(request);
            } else {
                tracing::trace!("load complete, transitioning to ready");
                self.phase = Phase::Ready(Ready::new())
            };

            for (conn_id, msgs) in pending_sync_messages {
                for msg in msgs {
                    self.handle_sync_message(now, out, conn_id, msg, now, Recheck::IfDenied);
                }
            }
        }
    }

    pub fn generate_sync_messages(&mut self, now: UnixTimestamp, out: &mut DocActorResult) {
        self.generate_sync_messages_for(now, out, None);
    }

    /// Generates sync messages for every peer, or only for those in `only`.
    fn generate_sync_messages_for(
        &mut self,
        now: UnixTimestamp,
        out: &mut DocActorResult,
        only: Option<&HashSet<ConnectionId>>,
    ) {
        out.pending_sync_messages = self
            .peer_connections
            .values()
            .map(|conn| conn.pending_sync_messages.len())
            .sum();
        if let Phase::Loading(loading) = &self.phase {
            out.pending_sync_messages += loading.pending_msg_count();
            return;
        }
        // Read once for every peer (a vector built from the change graph's heads).
        let heads = match self.phase {
            Phase::Ready(_) => self.doc.get_heads(),
            _ => Vec::new(),
        };
        for (conn_id, peer_conn) in &mut self.peer_connections {
            if self.answers_held.contains_key(conn_id)
                || only.is_some_and(|only| !only.contains(conn_id))
            {
                continue;
            }
            self.answers_released.remove(conn_id);
            peer_conn.unanswered = false;
            let generated = match &mut self.phase {
                Phase::Ready(ready) => {
                    ready.generate_sync_messages(now, &mut self.doc, &heads, peer_conn)
                }
                Phase::Requesting(request) => request.generate_messages(now, &self.doc, peer_conn),
                Phase::Loading(_) => unreachable!(),
            };

            for (msg, duration) in generated {
                self.recently_used = true;
                self.sync_messages_generated += 1;
                let bytes = match &msg {
                    SyncMessage::Request { data } | SyncMessage::Sync { data } => data.len(),
                    SyncMessage::DocUnavailable => 0,
                };
                if bytes > 0 {
                    out.sync_message_stats.push(SyncMessageStat {
                        connection_id: *conn_id,
                        direction: SyncDirection::Generated,
                        bytes,
                        duration,
                        queue_duration: Duration::ZERO,
                    });
                }
                tracing::debug!(?conn_id, peer_id=?peer_conn.peer_id, ?msg, "sending sync msg");
                out.send_sync_message(*conn_id, self.document_id.clone(), msg);
            }
        }
    }

    fn doc_status(&self) -> DocSearchPhase {
        match &self.phase {
            Phase::Loading(_) => DocSearchPhase::Loading,
            Phase::Requesting(request) => {
                let peer_states = request.peer_states().clone();
                DocSearchPhase::Searching(peer_states)
            }
            Phase::Ready(_) => DocSearchPhase::Ready,
        }
    }

    fn new_peer_states(&mut self) -> Option<HashMap<ConnectionId, PeerDocState>> {
        let mut new_states = HashMap::new();
        for (conn_id, peer) in &mut self.peer_connections {
            if let Some(new_state) = peer.pop() {
                new_states.insert(*conn_id, new_state);
            }
        }
        if new_states.is_empty() {
            None
        } else {
            Some(new_states)
        }
    }

    fn add_connection(&mut self, conn_id: ConnectionId, peer_id: PeerId) {
        assert!(
            !self.peer_connections.contains_key(&conn_id),
            "Connection ID already exists"
        );
        self.peer_connections
            .insert(conn_id, PeerDocConnection::new(peer_id, conn_id));
        self.peers_version += 1;
        if let Phase::Requesting(request) = &mut self.phase
            && let Some(conn) = self.peer_connections.get(&conn_id)
        {
            request.add_connection(conn);
        }
    }

    fn remove_connection(&mut self, conn_id: ConnectionId) {
        if self.peer_connections.remove(&conn_id).is_some() {
            self.peers_version += 1;
        }
        self.changed_by.remove(&conn_id);
        self.answers_held.remove(&conn_id);
        self.answers_released.remove(&conn_id);
        self.check_policy_tasks.retain(|_, (id, _)| *id != conn_id);
        if let Phase::Requesting(request) = &mut self.phase {
            request.remove_connection(conn_id);
        }
    }
}

enum DocGuardState<'a> {
    Modifying {
        actor: &'a mut DocumentActor,
        old_heads: Vec<ChangeHash>,
    },
    Complete,
}

/// The guard returned by [`DocumentActor::begin_modification`]
///
/// This guard provides mutable access to the document. Once you have finished
/// modifying you MUST call [`commit`](WithDocGuard::commit), otherwise a panic
/// will occur when the guard is dropped.
pub struct WithDocGuard<'a> {
    state: DocGuardState<'a>,
}

impl<'a> WithDocGuard<'a> {
    fn new(doc: &'a mut DocumentActor) -> Self {
        let old_heads = doc.document().get_heads();
        Self {
            state: DocGuardState::Modifying {
                actor: doc,
                old_heads,
            },
        }
    }

    /// Returns a mutable reference to the Automerge document.
    pub fn doc(&mut self) -> &mut Automerge {
        match &mut self.state {
            DocGuardState::Modifying {
                actor,
                old_heads: _,
            } => actor.document_mut(),
            DocGuardState::Complete => panic!("Document is already committed"),
        }
    }

    /// Commits the modifications made to the document and returns any side effects.
    pub fn commit(mut self, now: UnixTimestamp) -> DocActorResult {
        let mut out = DocGuardState::Complete;
        std::mem::swap(&mut self.state, &mut out);
        let (actor, old_heads) = match out {
            DocGuardState::Modifying { actor, old_heads } => (actor, old_heads),
            DocGuardState::Complete => {
                // Should never happen as this method takes ownership of the guard
                unreachable!()
            }
        };
        // Check if document was modified and generate side effects
        let new_heads = actor.document().get_heads();
        actor.recently_used |= old_heads != new_heads;

        // Make sure there's one turn of the loop
        let mut actor_result = DocActorResult::new();
        actor.handle_input(now, ActorInput::Tick, &mut actor_result);

        if old_heads != new_heads {
            tracing::debug!(doc_id=%actor.document_id(), "document was modified in actor");
            // Notify main hub that document changed
            actor_result
                .change_events
                .push(DocumentChanged { new_heads });
        }
        actor_result
    }
}

impl<'a> Drop for WithDocGuard<'a> {
    fn drop(&mut self) {
        if let DocGuardState::Modifying { .. } = &mut self.state {
            panic!("WithDocGuard dropped without comitting");
        }
    }
}

/// Whether a sync message its peer's current decision denies asks the share
/// policy again before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recheck {
    /// It came from the network, or waited for a first decision (which the
    /// IO loop may answer from its cache): the decision may be older than the
    /// peer's access.
    IfDenied,
    /// It waited for a recheck, or the decision is the stream's latest.
    No,
}
