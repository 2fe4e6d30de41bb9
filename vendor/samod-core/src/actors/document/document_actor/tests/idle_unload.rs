use std::time::Duration;

use super::*;
use crate::io::{IoResult, IoTask, StorageResult, StorageTask};
use crate::{IdleUnload, KeepForPeers};

const AFTER: Duration = Duration::from_secs(60);

/// A document actor with unloading configured, its outputs collected.
struct Doc {
    actor: DocumentActor,
    conn: ConnectionId,
    /// Idle reports to the hub, oldest first.
    reports: Vec<Option<UnixTimestamp>>,
    /// Sync messages for the peer, oldest first.
    outbox: Vec<SyncMessage>,
    io: Vec<IoTask<DocumentIoTask>>,
}

impl Doc {
    fn new(now: UnixTimestamp, idle_unload: Option<IdleUnload>, with_peer: bool) -> Self {
        let conn = ConnectionId::new();
        let mut content = Automerge::new();
        content
            .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "local", true))
            .unwrap();
        let args = SpawnArgs {
            local_peer_id: "local".into(),
            actor_id: DocumentActorId::new(),
            document_id: DocumentId::new(&mut rand::rng()),
            initial_content: Some(content),
            initial_connections: if with_peer {
                HashMap::from([(conn, ("remote".into(), None))])
            } else {
                HashMap::new()
            },
            idle_unload,
            saves: true,
            report_peer_states: true,
        };
        let (actor, result) = DocumentActor::new(now, args);
        let mut doc = Doc {
            actor,
            conn,
            reports: Vec::new(),
            outbox: Vec::new(),
            io: Vec::new(),
        };
        doc.absorb(result);
        doc
    }

    fn absorb(&mut self, result: DocActorResult) {
        for msg in result.outgoing_messages {
            match msg.0 {
                DocToHubMsgPayload::Idle { since } => self.reports.push(since),
                DocToHubMsgPayload::SendSyncMessage { message, .. } => self.outbox.push(message),
                _ => {}
            }
        }
        self.io.extend(result.io_tasks);
    }

    /// Completes every storage and policy task, and those they lead to.
    fn finish_io(&mut self, now: UnixTimestamp, policy: ShareConfig) {
        while let Some(task) = self.io.pop() {
            let payload = match task.action {
                DocumentIoTask::Storage(StorageTask::LoadRange { .. }) => {
                    DocumentIoResult::Storage(StorageResult::LoadRange {
                        values: HashMap::new(),
                    })
                }
                DocumentIoTask::Storage(StorageTask::Put { .. }) => {
                    DocumentIoResult::Storage(StorageResult::Put)
                }
                DocumentIoTask::Storage(StorageTask::Delete { .. }) => {
                    DocumentIoResult::Storage(StorageResult::Delete)
                }
                DocumentIoTask::Storage(StorageTask::Load { .. }) => {
                    DocumentIoResult::Storage(StorageResult::Load { value: None })
                }
                DocumentIoTask::CheckSharePolicy { .. }
                | DocumentIoTask::RecheckSharePolicy { .. } => {
                    DocumentIoResult::CheckSharePolicy(policy)
                }
            };
            let result = self
                .actor
                .handle_io_complete(
                    now,
                    IoResult {
                        task_id: task.task_id,
                        payload,
                    },
                )
                .unwrap();
            self.absorb(result);
        }
    }

    fn hub(&mut self, now: UnixTimestamp, msg: HubToDocMsgPayload) {
        let result = self.actor.handle_message(now, HubToDocMsg(msg)).unwrap();
        self.absorb(result);
    }

    fn receive(&mut self, now: UnixTimestamp, message: SyncMessage) {
        self.hub(
            now,
            HubToDocMsgPayload::HandleDocMessage {
                connection_id: self.conn,
                message: DocMessage::Sync(message),
                received_at: now,
            },
        );
    }

    /// Syncs with `peer` until neither side has anything to send.
    fn sync_with(&mut self, now: UnixTimestamp, peer: &mut Automerge, state: &mut sync::State) {
        for _ in 0..10 {
            let mut quiet = true;
            for message in std::mem::take(&mut self.outbox) {
                if let SyncMessage::Sync { data } | SyncMessage::Request { data } = message {
                    peer.receive_sync_message(state, sync::Message::decode(&data).unwrap())
                        .unwrap();
                    quiet = false;
                }
            }
            if let Some(reply) = peer.generate_sync_message(state) {
                self.receive(now, SyncMessage::Sync { data: reply.encode() });
                quiet = false;
            }
            self.finish_io(now, ShareConfig::read_write());
            if quiet {
                return;
            }
        }
        panic!("sync never settled");
    }

    fn unload(&mut self, now: UnixTimestamp) -> &'static str {
        match self.actor.unload(now) {
            Unload::Unloaded(result) => {
                assert!(result.stopped);
                assert!(self.actor.is_stopped());
                "unloaded"
            }
            Unload::InUse => "in use",
            Unload::Busy => "busy",
        }
    }
}

fn first_request() -> SyncMessage {
    let request = Automerge::new()
        .generate_sync_message(&mut sync::State::new())
        .unwrap();
    SyncMessage::Request {
        data: request.encode(),
    }
}

#[test]
fn an_idle_document_is_unloaded_once_stored_and_idle_for_the_period() {
    let t0 = UnixTimestamp::now();
    let mut doc = Doc::new(t0, Some(IdleUnload::after(AFTER)), false);
    assert_eq!(doc.reports, vec![Some(t0)], "idle from the start");
    assert!(!doc.io.is_empty(), "the new document is being written");
    assert_eq!(doc.unload(t0 + AFTER), "busy", "never before it is stored");

    doc.finish_io(t0, ShareConfig::read_write());
    assert_eq!(doc.unload(t0 + AFTER - Duration::from_millis(1)), "in use");
    assert_eq!(doc.unload(t0 + AFTER), "unloaded");
    let late = doc
        .actor
        .handle_message(t0 + AFTER, HubToDocMsg(HubToDocMsgPayload::Terminate))
        .unwrap();
    assert!(late.stopped);
}

#[test]
fn a_peer_that_opened_the_document_keeps_it_loaded_until_it_leaves() {
    let t0 = UnixTimestamp::now();
    let mut doc = Doc::new(t0, Some(IdleUnload::after(AFTER)), true);
    // A server's policy: the peer may write, nothing is announced.
    doc.finish_io(t0, ShareConfig::read_write().with_announce(false));
    assert_eq!(doc.reports, vec![Some(t0)], "a silent peer holds nothing");

    doc.receive(t0, first_request());
    doc.finish_io(t0, ShareConfig::read_write());
    assert!(!doc.outbox.is_empty(), "the peer is answered");
    assert_eq!(doc.reports, vec![Some(t0), None]);
    assert_eq!(doc.unload(t0 + AFTER * 10), "in use");

    let t1 = t0 + Duration::from_secs(5);
    doc.hub(t1, HubToDocMsgPayload::ConnectionClosed { connection_id: doc.conn });
    assert_eq!(doc.reports.last(), Some(&Some(t1)), "the period starts when it leaves");
    assert_eq!(doc.unload(t0 + AFTER), "in use");
    assert_eq!(doc.unload(t1 + AFTER), "unloaded");
}

#[test]
fn a_peer_denied_the_document_does_not_keep_it_loaded() {
    let t0 = UnixTimestamp::now();
    let mut doc = Doc::new(t0, Some(IdleUnload::after(AFTER)), true);
    doc.receive(t0, first_request());
    assert_eq!(doc.unload(t0 + AFTER), "in use", "its request waits for the policy");
    doc.finish_io(t0, ShareConfig::none());
    assert!(matches!(doc.outbox[..], [SyncMessage::DocUnavailable]));
    assert_eq!(doc.unload(t0 + AFTER), "unloaded");
}

#[test]
fn a_syncing_peer_keeps_the_document_only_until_both_sides_are_in_sync() {
    let t0 = UnixTimestamp::now();
    let config = IdleUnload::after(AFTER).keep_for_peers(KeepForPeers::WhileSyncing);
    let mut doc = Doc::new(t0, Some(config), true);
    // A client's policy: announce to the peer.
    doc.finish_io(t0, ShareConfig::read_write());
    assert_eq!(doc.reports, vec![Some(t0), None], "announcing holds it");

    let (mut peer, mut state) = (Automerge::new(), sync::State::new());
    let t1 = t0 + Duration::from_secs(1);
    doc.sync_with(t1, &mut peer, &mut state);
    assert_eq!(peer.get_heads(), doc.actor.document().get_heads());
    assert_eq!(doc.reports.last(), Some(&Some(t1)), "in sync: idle");

    // The peer edits: in sync again at once, but the period restarts.
    peer.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "remote", true))
        .unwrap();
    let t2 = t0 + Duration::from_secs(2);
    // The peer's first message may hold the edit back: the document's bloom
    // filter can claim it (a false positive, about once in a hundred runs with
    // random hashes), and automerge's next round sends it.
    while doc.actor.document().get(ROOT, "remote").unwrap().is_none() {
        for message in std::mem::take(&mut doc.outbox) {
            if let SyncMessage::Sync { data } = message {
                peer.receive_sync_message(&mut state, sync::Message::decode(&data).unwrap())
                    .unwrap();
            }
        }
        let edit = peer.generate_sync_message(&mut state).unwrap();
        doc.receive(t2, SyncMessage::Sync { data: edit.encode() });
    }
    assert_eq!(doc.unload(t2 + AFTER), "busy", "the edit is being stored");
    doc.finish_io(t2, ShareConfig::read_write());
    doc.sync_with(t2, &mut peer, &mut state);
    assert!(doc.actor.document().get(ROOT, "remote").unwrap().is_some());
    assert_eq!(doc.unload(t1 + AFTER), "in use", "used since t1");
    assert_eq!(doc.unload(t2 + AFTER), "unloaded", "while the peer stays connected");
}

#[test]
fn with_peers_kept_while_connected_a_synced_peer_still_holds_the_document() {
    let t0 = UnixTimestamp::now();
    let mut doc = Doc::new(t0, Some(IdleUnload::after(AFTER)), true);
    doc.finish_io(t0, ShareConfig::read_write());
    let (mut peer, mut state) = (Automerge::new(), sync::State::new());
    doc.sync_with(t0, &mut peer, &mut state);
    assert_eq!(peer.get_heads(), doc.actor.document().get_heads());
    assert_eq!(doc.reports.last(), Some(&None));
    assert_eq!(doc.unload(t0 + AFTER * 10), "in use");
}

#[test]
fn without_idle_unload_nothing_is_reported_or_unloaded() {
    let t0 = UnixTimestamp::now();
    let mut doc = Doc::new(t0, None, false);
    doc.finish_io(t0, ShareConfig::read_write());
    assert!(doc.reports.is_empty());
    assert_eq!(doc.unload(t0 + AFTER * 10), "in use");
}

#[test]
fn loading_a_stored_document_does_not_write_it_again() {
    // What an earlier actor stored: more than ten changes, enough for compaction.
    let mut stored = Automerge::new();
    for n in 0..20 {
        stored
            .transact::<_, _, automerge::AutomergeError>(|tx| tx.put(ROOT, "n", n))
            .unwrap();
    }
    let chunk = stored.save();
    let t0 = UnixTimestamp::now();
    let args = SpawnArgs {
        local_peer_id: "local".into(),
        actor_id: DocumentActorId::new(),
        document_id: DocumentId::new(&mut rand::rng()),
        initial_content: None,
        initial_connections: HashMap::new(),
        idle_unload: Some(IdleUnload::after(AFTER)),
        saves: true,
        report_peer_states: true,
    };
    let (mut actor, result) = DocumentActor::new(t0, args);
    let mut writes = 0;
    let mut io = result.io_tasks;
    while let Some(task) = io.pop() {
        let payload = match task.action {
            DocumentIoTask::Storage(StorageTask::LoadRange { prefix }) => {
                let mut values = HashMap::new();
                if prefix.to_string().contains("snapshot") {
                    values.insert(prefix, chunk.clone());
                }
                DocumentIoResult::Storage(StorageResult::LoadRange { values })
            }
            DocumentIoTask::Storage(StorageTask::Put { .. }) => {
                writes += 1;
                DocumentIoResult::Storage(StorageResult::Put)
            }
            DocumentIoTask::Storage(StorageTask::Delete { .. }) => {
                writes += 1;
                DocumentIoResult::Storage(StorageResult::Delete)
            }
            other => panic!("unexpected task {other:?}"),
        };
        let result = actor
            .handle_io_complete(
                t0,
                IoResult {
                    task_id: task.task_id,
                    payload,
                },
            )
            .unwrap();
        io.extend(result.io_tasks);
    }
    assert_eq!(actor.document().get_heads(), stored.get_heads());
    assert_eq!(writes, 0);
    assert!(matches!(actor.unload(t0 + AFTER), Unload::Unloaded(_)));
}
