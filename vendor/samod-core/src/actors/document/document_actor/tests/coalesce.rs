//! Sync messages held back over a batch of inputs (`defer_sync_messages`), and peers waiting for an
//! answer skipped without building their message.

use super::*;
use crate::io::{IoResult, IoTask, StorageResult, StorageTask};
use automerge::{ActorId, transaction::CommitOptions};

/// A document actor serving several peers, each a real automerge replica with its own sync state.
pub(super) struct Hub {
    pub(super) actor: DocumentActor,
    pub(super) peers: Vec<Peer>,
    /// Messages the actor sent, as (peer index, message), oldest first.
    outbox: Vec<(usize, SyncMessage)>,
    io: Vec<IoTask<DocumentIoTask>>,
    /// The peer states the actor sent the hub, oldest first.
    pub(super) sent_to_hub: Vec<HashMap<ConnectionId, PeerDocState>>,
    /// The peer states the actor's results carried for its own listeners, oldest first.
    pub(super) reported: Vec<HashMap<ConnectionId, PeerDocState>>,
}

pub(super) struct Peer {
    pub(super) conn: ConnectionId,
    pub(super) doc: Automerge,
    state: sync::State,
}

impl Hub {
    pub(super) fn new(peers: usize) -> Self {
        Self::with_hub_observing(peers, true)
    }

    /// `observed`: whether the hub observes the peers' states when the actor is spawned.
    pub(super) fn with_hub_observing(peers: usize, observed: bool) -> Self {
        let mut content = Automerge::new().with_actor(ActorId::from(vec![0xff; 16]));
        commit(&mut content, "start");
        let peers: Vec<Peer> = (0..peers)
            .map(|i| Peer {
                conn: ConnectionId::new(),
                doc: Automerge::new().with_actor(ActorId::from(vec![i as u8; 16])),
                state: sync::State::new(),
            })
            .collect();
        let args = SpawnArgs {
            local_peer_id: "hub".into(),
            actor_id: DocumentActorId::new(),
            document_id: DocumentId::new(&mut rand::rng()),
            initial_content: Some(content),
            initial_connections: peers
                .iter()
                .enumerate()
                .map(|(i, p)| (p.conn, (format!("peer{i}").into(), None)))
                .collect(),
            idle_unload: None,
            saves: true,
            report_peer_states: observed,
        };
        let (actor, result) = DocumentActor::new(UnixTimestamp::now(), args);
        let mut hub = Hub {
            actor,
            peers,
            outbox: Vec::new(),
            io: Vec::new(),
            sent_to_hub: Vec::new(),
            reported: Vec::new(),
        };
        hub.absorb(result);
        hub.finish_io();
        hub
    }

    pub(super) fn absorb(&mut self, result: DocActorResult) {
        for msg in result.outgoing_messages {
            match msg.0 {
                DocToHubMsgPayload::SendSyncMessage {
                    connection_id,
                    message,
                    ..
                } => {
                    let peer = self.peers.iter().position(|p| p.conn == connection_id);
                    self.outbox.push((peer.unwrap(), message));
                }
                DocToHubMsgPayload::PeerStatesChanged(states) => self.sent_to_hub.push(states),
                _ => {}
            }
        }
        if !result.peer_state_changes.is_empty() {
            self.reported.push(result.peer_state_changes);
        }
        self.io.extend(result.io_tasks);
    }

    pub(super) fn finish_io(&mut self) {
        while let Some(task) = self.io.pop() {
            let payload = match task.action {
                DocumentIoTask::Storage(StorageTask::Put { .. }) => {
                    DocumentIoResult::Storage(StorageResult::Put)
                }
                DocumentIoTask::Storage(StorageTask::Delete { .. }) => {
                    DocumentIoResult::Storage(StorageResult::Delete)
                }
                DocumentIoTask::Storage(StorageTask::LoadRange { .. }) => {
                    DocumentIoResult::Storage(StorageResult::LoadRange {
                        values: HashMap::new(),
                    })
                }
                DocumentIoTask::Storage(StorageTask::Load { .. }) => {
                    DocumentIoResult::Storage(StorageResult::Load { value: None })
                }
                DocumentIoTask::CheckSharePolicy { .. }
                | DocumentIoTask::RecheckSharePolicy { .. } => {
                    DocumentIoResult::CheckSharePolicy(ShareConfig::read_write())
                }
            };
            let result = self
                .actor
                .handle_io_complete(
                    UnixTimestamp::now(),
                    IoResult {
                        task_id: task.task_id,
                        payload,
                    },
                )
                .unwrap();
            self.absorb(result);
        }
    }

    /// Peer `i` sends the actor what its replica has to say, if anything.
    pub(super) fn send_from(&mut self, i: usize) -> bool {
        let Some(message) = self.say(i) else {
            return false;
        };
        self.hand_over(i, message);
        true
    }

    /// What peer `i`'s replica has to say, not yet handed to the actor.
    pub(super) fn say(&mut self, i: usize) -> Option<sync::Message> {
        let peer = &mut self.peers[i];
        peer.doc.generate_sync_message(&mut peer.state)
    }

    /// The actor handles a message peer `i` said earlier.
    pub(super) fn hand_over(&mut self, i: usize, message: sync::Message) {
        let conn = self.peers[i].conn;
        let result = self
            .actor
            .handle_message(
                UnixTimestamp::now(),
                HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
                    connection_id: conn,
                    message: DocMessage::Sync(SyncMessage::Sync {
                        data: message.encode(),
                    }),
                    received_at: UnixTimestamp::now(),
                }),
            )
            .unwrap();
        self.absorb(result);
        self.check_skips_agree_with_automerge();
    }

    /// Delivers the actor's messages to the peers' replicas; the number delivered.
    pub(super) fn deliver(&mut self) -> usize {
        let outbox = std::mem::take(&mut self.outbox);
        for (i, message) in &outbox {
            if let SyncMessage::Sync { data } | SyncMessage::Request { data } = message {
                let peer = &mut self.peers[*i];
                peer.doc
                    .receive_sync_message(&mut peer.state, sync::Message::decode(data).unwrap())
                    .unwrap();
            }
        }
        outbox.len()
    }

    /// Runs the exchange until nobody has anything to say.
    pub(super) fn settle(&mut self) {
        for _ in 0..20 {
            let mut quiet = self.deliver() == 0;
            for i in 0..self.peers.len() {
                quiet &= !self.send_from(i);
            }
            self.finish_io();
            if quiet {
                return;
            }
        }
        panic!("sync never settled");
    }

    /// Every peer the actor would skip is one automerge itself has nothing for.
    fn check_skips_agree_with_automerge(&self) {
        let heads = self.actor.doc.get_heads();
        for conn in self.actor.peer_connections.values() {
            if conn.nothing_to_send(&self.actor.doc, &heads) {
                let mut state = conn.sync_state.clone();
                assert!(
                    self.actor.doc.generate_sync_message(&mut state).is_none(),
                    "skipped a peer automerge had a message for"
                );
            }
        }
    }

    pub(super) fn type_on(&mut self, i: usize, key: &str) {
        commit(&mut self.peers[i].doc, key);
    }
}

/// Sets `key` in one change. The replicas' actors and the changes' times are fixed, so every change's hash,
/// and with them the sync messages' Bloom filters, are the same on every run: a filter's false positive
/// (automerge then holds a change back for a round) happens on every run or never.
fn commit(doc: &mut Automerge, key: &str) {
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| CommitOptions::default().with_time(0),
        |tx| tx.put(ROOT, key, true),
    )
    .unwrap();
}

#[test]
fn changes_handled_in_one_batch_reach_every_peer_in_one_message_each() {
    let mut hub = Hub::new(4);
    hub.settle();
    let heads = hub.actor.doc.get_heads();
    assert!(hub.peers.iter().all(|p| p.doc.get_heads() == heads));

    hub.actor.defer_sync_messages();
    // Peer 0 types five keystrokes, each its own message; peer 1 types one.
    for k in 0..5 {
        hub.type_on(0, &format!("zero{k}"));
        assert!(hub.send_from(0));
    }
    hub.type_on(1, "one");
    assert!(hub.send_from(1));
    assert!(hub.outbox.is_empty(), "held back until the flush");
    assert!(
        hub.io
            .iter()
            .any(|t| matches!(t.action, DocumentIoTask::Storage(StorageTask::Put { .. }))),
        "the changes are saved without waiting for the flush"
    );

    let result = hub.actor.flush_sync_messages(UnixTimestamp::now()).unwrap();
    hub.absorb(result);
    let per_peer = |hub: &Hub| {
        let mut per_peer = [0; 4];
        for (i, _) in &hub.outbox {
            per_peer[*i] += 1;
        }
        per_peer
    };
    // The authors' answers wait until their changes are stored; the others
    // get the changes at once, from memory.
    assert_eq!(per_peer(&hub), [0, 0, 1, 1], "one message per reader");
    hub.finish_io();
    assert_eq!(
        per_peer(&hub),
        [1, 1, 1, 1],
        "one message per peer for six changes"
    );
    hub.deliver();
    // Peer 0's bloom filter may tell the hub, about once in a hundred runs,
    // that it has peer 1's change already (a false positive, with random
    // hashes); automerge's next round repairs that. So the heads are checked
    // once the exchange settles, and the messages above are what is counted.
    hub.settle();
    let heads = hub.actor.doc.get_heads();
    for (i, peer) in hub.peers.iter().enumerate() {
        assert_eq!(peer.doc.get_heads(), heads, "peer {i} has every change");
    }
    assert!(
        hub.actor
            .flush_sync_messages(UnixTimestamp::now())
            .is_none()
    );

    // Once flushed, inputs answer at once again.
    hub.type_on(2, "two");
    assert!(hub.send_from(2));
    assert!(hub.outbox.iter().any(|(i, _)| *i == 3));
    hub.settle();
    let heads = hub.actor.doc.get_heads();
    assert!(hub.peers.iter().all(|p| p.doc.get_heads() == heads));
}

#[test]
fn a_peer_waiting_for_an_answer_is_skipped_until_our_heads_move() {
    let mut hub = Hub::new(3);
    hub.settle();
    hub.type_on(0, "a");
    assert!(hub.send_from(0));
    // Peers 1 and 2 were sent the change and have not answered: they are waiting.
    let waiting: Vec<usize> = hub.outbox.iter().map(|(i, _)| *i).collect();
    assert!(waiting.contains(&1) && waiting.contains(&2));
    let sent = hub.outbox.len();
    let heads = hub.actor.doc.get_heads();
    for i in [1, 2] {
        let conn = &hub.actor.peer_connections[&hub.peers[i].conn];
        assert!(conn.nothing_to_send(&hub.actor.doc, &heads));
    }
    // A step that changes nothing for them sends them nothing.
    let mut result = DocActorResult::new();
    hub.actor.step(UnixTimestamp::now(), &mut result);
    hub.absorb(result);
    hub.check_skips_agree_with_automerge();
    assert_eq!(hub.outbox.len(), sent);

    // A new change moves our heads: they are sent it although still waiting.
    hub.type_on(0, "b");
    assert!(hub.send_from(0));
    let to_waiting = hub.outbox[sent..].iter().filter(|(i, _)| *i != 0).count();
    assert_eq!(to_waiting, 2);
    hub.settle();
    let heads = hub.actor.doc.get_heads();
    assert!(hub.peers.iter().all(|p| p.doc.get_heads() == heads));
}

#[test]
fn many_peers_typing_in_batches_converge_and_skips_always_agree_with_automerge() {
    let mut hub = Hub::new(6);
    hub.settle();
    for round in 0..20 {
        let batch = round % 3 != 0;
        if batch {
            hub.actor.defer_sync_messages();
        }
        for i in 0..6 {
            if (round + i) % 2 == 0 {
                hub.type_on(i, &format!("p{i}r{round}"));
            }
            hub.send_from(i);
        }
        if batch && let Some(result) = hub.actor.flush_sync_messages(UnixTimestamp::now()) {
            hub.absorb(result);
        }
        hub.check_skips_agree_with_automerge();
        // Deliver only half the time, so messages are in flight while others arrive.
        if round % 2 == 0 {
            hub.deliver();
        }
        hub.finish_io();
    }
    hub.settle();
    let heads = hub.actor.doc.get_heads();
    for (i, peer) in hub.peers.iter().enumerate() {
        assert_eq!(peer.doc.get_heads(), heads, "peer {i} converged");
    }
    assert_eq!(hub.actor.doc.keys(ROOT).count(), 1 + 60);
}

/// Two messages from one peer in one batch, the second saying nothing new: automerge's
/// `receive_sync_message` takes a message that carries no changes and our own heads as proof that the
/// peer already knows our heads (it records them as sent), so after the second message automerge has
/// nothing to say. But the first message brought the peer's change and was owed an answer, held until
/// the change is stored. Without it the peer never learns that its change arrived and waits forever
/// (TeamFlow's "upload to the relay" after a reconnect). The released hold owes the answer
/// (`PeerDocConnection::owe_answer`), however many of the peer's messages the batch took in meanwhile.
#[test]
fn a_peer_whose_two_messages_share_a_batch_still_gets_the_answer_to_the_first() {
    // A bloom filter false positive (about 1% per change) can keep peer 0's change out of its first
    // message, which is not the case under test: then the case is built again with new hashes.
    let (mut hub, first, second) = (0..10)
        .find_map(|_| two_messages_from_peer_0())
        .expect("ten bloom filter false positives in a row");

    hub.actor.defer_sync_messages();
    hub.hand_over(0, first);
    hub.hand_over(0, second);
    if let Some(result) = hub.actor.flush_sync_messages(UnixTimestamp::now()) {
        hub.absorb(result);
    }
    // Its answer waits for the change to be stored.
    hub.finish_io();
    assert!(
        hub.outbox.iter().any(|(i, _)| *i == 0),
        "peer 0 is told that its change arrived"
    );
    hub.settle();

    let heads = hub.actor.doc.get_heads();
    for (i, peer) in hub.peers.iter().enumerate() {
        assert_eq!(peer.doc.get_heads(), heads, "peer {i} converged");
        let mut shared = peer.state.shared_heads.clone();
        shared.sort();
        assert_eq!(
            shared, heads,
            "peer {i} knows the actor has all its changes"
        );
    }
}

/// Peer 1's change reaches the actor and is on its way to peer 0, while peer 0 sends its own change
/// (first message), then hears of peer 1's change and tells the actor its new heads (second message: no
/// changes, heads equal to the actor's once it has applied the first). `None` when a bloom filter false
/// positive kept peer 0's change out of the first message.
fn two_messages_from_peer_0() -> Option<(Hub, sync::Message, sync::Message)> {
    let mut hub = Hub::new(2);
    hub.settle();
    hub.type_on(1, "one");
    assert!(hub.send_from(1));
    hub.type_on(0, "zero");
    let first = hub.say(0).expect("peer 0 sends its change");
    if first.changes.is_empty() {
        return None;
    }
    hub.deliver();
    let second = hub.say(0).expect("peer 0 tells its new heads");
    assert!(second.changes.is_empty());
    Some((hub, first, second))
}
