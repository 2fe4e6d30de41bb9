//! A peer opening a document it has nothing of gets the relay's answer from a cache, built once for all
//! the peers opening it within a few seconds instead of once per peer.
//!
//! Why: for an empty peer automerge answers with the whole document (a full `save` plus a bloom filter of
//! every change), and samod regenerates every peer's message after every message it receives, while
//! automerge builds a message before finding it has nothing new to say. So N peers opening one large
//! document at once cost N² saves: 100 peers of the automerge-paper document took the relay 155 s of CPU
//! (docs/benchmarks.md, "Join storm").
//!
//! How: the relay's socket layer recognises a `request` from an empty peer, answers it with the whole
//! document as automerge would, less a bloom filter the peer cannot use (`first_answer`; cached per
//! document for a few seconds), then hands samod the request the peer will genuinely send once it has
//! applied that answer: "I have these heads". samod's
//! sync state for the peer is thus what it would be one round trip later, and everything it sends from
//! there on is ordinary sync. Only members who may write take this path (viewers' sync state carries a
//! read-only flag); anyone else's request goes to samod untouched, so the share policy's answer, including
//! "unavailable", is samod's as before. Documents the relay does not hold are not looked for.

use std::sync::Arc;

use automerge::Automerge;
use automerge::sync::{self, SyncDoc as _};
use futures::StreamExt as _;
use moka::future::Cache;
use prometheus::IntCounter;
use samod::{DocumentId, PeerId, Repo};
use teamflow_sync::wire::{DocMessage, Message};

use super::policy::TeamSharePolicy;

/// What the cache holds at most (encoded messages, each about a document's saved size).
const CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// An empty peer's request is a few hundred bytes; anything larger is not one.
const MAX_EMPTY_REQUEST_BYTES: usize = 4096;

/// "request" as a CBOR text string.
const REQUEST_TAG: &[u8] = b"\x67request";

/// How long an answer is served. An answer older than the document is still right: the peer is handed to
/// samod as holding the answer's heads, and samod sends what came after. Reading the document's heads to
/// key answers by them would cost more than that: every `with_document` makes samod regenerate the sync
/// message of every peer of the document.
const ANSWER_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// `(document, the empty peer's request)`: the request is part of the key because automerge's answer
/// depends on the capabilities it advertises.
type Key = (DocumentId, Vec<u8>);

/// What to do with one frame from a peer.
#[derive(Debug, PartialEq)]
pub(super) enum Routed {
    /// Hand the frame to samod as it is.
    Forward(Vec<u8>),
    /// Send `reply` to the peer first, then hand samod `forward` in place of the peer's frame.
    Answered { reply: Vec<u8>, forward: Vec<u8> },
}

/// The first-sync answers, shared by every sync connection.
#[derive(Clone)]
pub(super) struct FirstSync {
    repo: Repo,
    policy: TeamSharePolicy,
    answers: Cache<Key, Arc<Vec<u8>>>,
    /// Answers built (once per document state) and served (once per empty peer).
    pub(super) built: IntCounter,
    pub(super) served: IntCounter,
}

impl std::fmt::Debug for FirstSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstSync").field("cached", &self.answers.entry_count()).finish_non_exhaustive()
    }
}

/// An empty peer's `request`: as it came, and its sync message decoded.
struct EmptyRequest {
    wire: DocMessage,
    message: sync::Message,
}

impl FirstSync {
    pub(super) fn new(repo: Repo, policy: TeamSharePolicy) -> Self {
        let answers = Cache::builder()
            .max_capacity(CACHE_BYTES)
            .weigher(|_key: &Key, answer: &Arc<Vec<u8>>| u32::try_from(answer.len()).unwrap_or(u32::MAX))
            .time_to_live(ANSWER_TTL)
            .build();
        let counter = |name: &str, help: &str| {
            IntCounter::new(name, help).unwrap_or_else(|e| unreachable!("a valid metric definition: {e}"))
        };
        Self {
            repo,
            policy,
            answers,
            built: counter("sync_first_answers_built_total", "Answers to empty peers built"),
            served: counter("sync_first_answers_served_total", "Empty peers answered from the first-sync cache"),
        }
    }

    /// Routes one frame `peer` sent. Anything that is not an empty peer's request for a document the
    /// relay holds, and that `peer` may write, is forwarded untouched.
    pub(super) async fn route(&self, peer: &PeerId, frame: Vec<u8>) -> Routed {
        let Some(request) = empty_request(peer, &frame) else { return Routed::Forward(frame) };
        let Some(routed) = self.answer(peer, &request).await.and_then(|answer| answered(&request, &answer)) else {
            return Routed::Forward(frame);
        };
        self.served.inc();
        routed
    }

    async fn answer(&self, peer: &PeerId, request: &EmptyRequest) -> Option<Arc<Vec<u8>>> {
        let user = super::peer_user(peer.as_str())?;
        let document = &request.wire.document_id;
        if !self.policy.may_write(&format!("automerge:{document}"), user).await {
            return None;
        }
        let handle = self.held(document.clone()).await?;
        let key = (document.clone(), request.wire.data.clone());
        let message = request.message.clone();
        let built = self.built.clone();
        let answer = self
            .answers
            .try_get_with(key, async move {
                // A full save of a large document, and `with_document` waits for the document's lock (its
                // thread may hold it a while): off the async runtime.
                tokio::task::spawn_blocking(move || {
                    let answer = handle.with_document(|doc| first_answer(doc, message));
                    built.inc();
                    answer.map(Arc::new).ok_or(())
                })
                .await
                .map_err(|_| ())?
            })
            .await;
        answer.ok()
    }

    /// The document, if the relay holds it (in memory or in storage); never asks other peers for it.
    async fn held(&self, document: DocumentId) -> Option<samod::DocHandle> {
        let (mut state, mut updates) = self.repo.search(document).ok()?;
        loop {
            match state {
                samod::SearchState::Found(handle) => return Some(handle),
                samod::SearchState::Loading => state = updates.next().await?,
                samod::SearchState::Requesting(_) => return None,
            }
        }
    }
}

/// The answer to an empty peer's first message, encoded.
///
/// To a peer that takes whole documents (its message carries flags, as every automerge since the v2
/// messages sends), this is what automerge answers such a peer, the whole document, except for what
/// automerge's answer also carries and an empty peer cannot use: a bloom filter of every change, which
/// tells a peer what of its own changes the relay lacks (it has none; for automerge-paper the filter is
/// 325 KB, more than twice the document, and building it walks all 260,000 changes), and a set of every
/// change's hash in a sync state thrown away right after. In their place the answer says "I have what
/// these heads hold" (the shape automerge's answer takes one round trip later), so a peer that made a
/// change since its request still sends it. Any other peer, and an empty document, get automerge's own
/// answer.
fn first_answer(doc: &mut Automerge, request: sync::Message) -> Option<Vec<u8>> {
    let heads = doc.get_heads();
    if request.flags.is_none() || heads.is_empty() {
        let mut state = sync::State::new();
        doc.receive_sync_message(&mut state, request).ok()?;
        return doc.generate_sync_message(&mut state).map(sync::Message::encode);
    }
    let mut flags = sync::MessageFlags::new();
    flags.set(sync::MessageFlags::SUPPORTS_SYNC_RESET);
    let answer = sync::Message {
        heads: heads.clone(),
        need: Vec::new(),
        have: vec![sync::Have { last_sync: heads, bloom: sync::BloomFilter::default() }],
        changes: sync::ChunkList::from(doc.save()),
        flags: Some(flags),
        version: sync::MessageVersion::V2,
    };
    Some(answer.encode())
}

/// The frames for an answered request: the answer as a `sync` message to the peer, and for samod the
/// message the peer sends once it holds the answer's heads.
fn answered(request: &EmptyRequest, answer: &[u8]) -> Option<Routed> {
    let heads = sync::Message::decode(answer).ok()?.heads;
    let caught_up = sync::Message {
        heads: heads.clone(),
        need: Vec::new(),
        have: vec![sync::Have { last_sync: heads, bloom: sync::BloomFilter::default() }],
        changes: sync::ChunkList::empty(),
        flags: request.message.flags,
        version: request.message.version.clone(),
    };
    let asked = &request.wire;
    let reply = Message::Sync(DocMessage {
        document_id: asked.document_id.clone(),
        sender_id: PeerId::from(super::RELAY_PEER_ID),
        target_id: asked.sender_id.clone(),
        data: answer.to_vec(),
    });
    let forward = Message::Request(DocMessage { data: caught_up.encode(), ..asked.clone() });
    Some(Routed::Answered { reply: reply.encode(), forward: forward.encode() })
}

/// The frame as an empty peer's `request` to the relay, sent as `peer`: no heads, needs nothing, has
/// nothing, carries no changes.
fn empty_request(peer: &PeerId, frame: &[u8]) -> Option<EmptyRequest> {
    // Most frames are sync traffic: skip them without decoding. An empty peer's request is small and
    // holds the CBOR text "request".
    if frame.len() > MAX_EMPTY_REQUEST_BYTES || !frame.windows(REQUEST_TAG.len()).any(|w| w == REQUEST_TAG) {
        return None;
    }
    let Ok(Message::Request(wire)) = Message::decode(frame) else { return None };
    if wire.sender_id != *peer || wire.target_id.as_str() != super::RELAY_PEER_ID {
        return None;
    }
    let message = sync::Message::decode(&wire.data).ok()?;
    let has_nothing = message.have.iter().all(|have| have.last_sync.is_empty());
    if !message.heads.is_empty() || !message.need.is_empty() || !message.changes.is_empty() || !has_nothing {
        return None;
    }
    // A peer in read-only mode takes no changes: it would drop the document and ask again, so telling samod
    // it holds the answer's heads would be false. samod answers it as automerge would.
    if message.flags.is_some_and(|flags| flags.contains(sync::MessageFlags::READ_ONLY)) {
        return None;
    }
    Some(EmptyRequest { wire, message })
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable as _;
    use automerge::{ObjType, ROOT, ReadDoc as _};

    use super::*;

    fn request(peer: &str, document: &DocumentId, message: &sync::Message) -> Vec<u8> {
        Message::Request(DocMessage {
            document_id: document.clone(),
            sender_id: PeerId::from(peer),
            target_id: PeerId::from(super::super::RELAY_PEER_ID),
            data: message.clone().encode(),
        })
        .encode()
    }

    /// The frame with one byte of `part` changed.
    fn altered(mut frame: Vec<u8>, part: &str) -> Vec<u8> {
        let at = frame.windows(part.len()).position(|w| w == part.as_bytes()).expect("part present");
        frame[at] ^= 1;
        frame
    }

    fn first_message(doc: &Automerge) -> sync::Message {
        doc.generate_sync_message(&mut sync::State::new()).expect("a first message")
    }

    fn document() -> Automerge {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let text = tx.put_object(ROOT, "text", ObjType::Text).expect("text");
        tx.splice_text(&text, 0, 0, "hello").expect("splice");
        tx.commit();
        doc
    }

    #[test]
    fn only_an_empty_peers_own_request_to_the_relay_is_recognised() {
        let peer = PeerId::from("user:laptop");
        let id = DocumentId::try_from(vec![7u8; 16]).expect("a document id");
        let empty = first_message(&Automerge::new());
        let own = request("user:laptop", &id, &empty);
        assert!(empty_request(&peer, &own).is_some());
        // Someone else's id, a peer that has something, garbage, a broken document id, a different target.
        assert!(empty_request(&peer, &request("other:laptop", &id, &empty)).is_none());
        assert!(empty_request(&peer, &request("user:laptop", &id, &first_message(&document()))).is_none());
        assert!(empty_request(&peer, b"\xff\x00garbage").is_none());
        assert!(empty_request(&peer, &altered(own.clone(), &id.to_string())).is_none());
        assert!(empty_request(&peer, &altered(own, super::super::RELAY_PEER_ID)).is_none());
    }

    #[test]
    fn the_answer_gives_an_empty_peer_the_document_and_samod_its_caught_up_request() {
        let mut relay_doc = document();
        let (mut client, mut client_state, request) = empty_client();
        let answer = first_answer(&mut relay_doc, request.message.clone()).expect("an answer");
        let Some(Routed::Answered { reply, forward }) = answered(&request, &answer) else { panic!("answered") };

        // The peer applies the reply and reaches the relay's heads.
        client.receive_sync_message(&mut client_state, data_of(&reply)).expect("applies");
        assert_eq!(client.get_heads(), relay_doc.get_heads());

        // samod is told the peer has those heads, and nothing more is owed to it.
        let caught_up = data_of(&forward);
        assert_eq!(caught_up.heads, relay_doc.get_heads());
        let mut relay_state = sync::State::new();
        relay_doc.receive_sync_message(&mut relay_state, caught_up).expect("receives");
        let next = relay_doc.generate_sync_message(&mut relay_state).expect("the relay still says hello");
        assert!(next.changes.is_empty(), "the document is not sent twice");
    }

    #[test]
    fn a_peer_given_an_answer_older_than_the_document_is_sent_what_came_after() {
        let mut relay_doc = document();
        let (mut client, mut client_state, request) = empty_client();
        let stale = first_answer(&mut relay_doc, request.message.clone()).expect("an answer");
        // The document moves on after the answer was cached.
        let mut tx = relay_doc.transaction();
        let text = tx.get(ROOT, "text").expect("get").expect("text").1;
        tx.splice_text(&text, 5, 0, " world").expect("splice");
        tx.commit();
        let Some(Routed::Answered { reply, forward }) = answered(&request, &stale) else { panic!("answered") };

        client.receive_sync_message(&mut client_state, data_of(&reply)).expect("applies");
        let mut relay_state = sync::State::new();
        relay_doc.receive_sync_message(&mut relay_state, data_of(&forward)).expect("receives");
        // Ordinary sync from there: the relay sends the edit the answer lacked.
        for _ in 0..4 {
            if let Some(m) = relay_doc.generate_sync_message(&mut relay_state) {
                client.receive_sync_message(&mut client_state, m).expect("client receives");
            }
            if let Some(m) = client.generate_sync_message(&mut client_state) {
                relay_doc.receive_sync_message(&mut relay_state, m).expect("relay receives");
            }
        }
        assert_eq!(client.get_heads(), relay_doc.get_heads());
        assert_eq!(client.text(client.get(ROOT, "text").expect("get").expect("text").1).expect("text"), "hello world");
    }

    #[test]
    fn an_empty_peer_gets_the_document_without_a_bloom_filter_of_every_change() {
        let mut relay_doc = document_of(200);
        let (_, _, request) = empty_client();
        let ours = first_answer(&mut relay_doc, request.message.clone()).expect("an answer");
        let mut state = sync::State::new();
        relay_doc.receive_sync_message(&mut state, request.message.clone()).expect("receives");
        let automerges = relay_doc.generate_sync_message(&mut state).expect("automerge's answer");

        let answer = sync::Message::decode(&ours).expect("decodes");
        let heads = relay_doc.get_heads();
        assert_eq!(answer.heads, heads);
        assert_eq!(answer.have, vec![sync::Have { last_sync: heads.clone(), bloom: sync::BloomFilter::default() }]);
        assert!(answer.need.is_empty());
        // The same document automerge sends, as one chunk.
        assert_eq!(answer.changes, automerges.changes);
        assert_eq!((answer.version, answer.flags), (automerges.version.clone(), automerges.flags));
        assert_eq!(automerges.heads, heads);
        assert!(ours.len() < automerges.encode().len(), "the bloom filter of 201 changes is left out");
    }

    #[test]
    fn a_peer_that_edited_after_asking_sends_only_its_own_edit() {
        // Enough changes that the client's one is not worth sending as a whole document.
        let mut relay_doc = document_of(20);
        let (mut client, mut client_state, request) = empty_client();
        let answer = first_answer(&mut relay_doc, request.message.clone()).expect("an answer");
        let mut tx = client.transaction();
        tx.put(ROOT, "note", "mine").expect("put");
        tx.commit();
        let Some(Routed::Answered { reply, forward }) = answered(&request, &answer) else { panic!("answered") };

        client.receive_sync_message(&mut client_state, data_of(&reply)).expect("applies");
        let next = client.generate_sync_message(&mut client_state).expect("the client's edit");
        let sent: Vec<Automerge> = next.changes.iter().map(|c| Automerge::load(c).expect("a chunk")).collect();
        assert_eq!(sent.iter().map(|d| d.get_changes(&[]).len()).sum::<usize>(), 1, "not the relay's own changes back");

        let mut relay_state = sync::State::new();
        relay_doc.receive_sync_message(&mut relay_state, data_of(&forward)).expect("receives");
        relay_doc.receive_sync_message(&mut relay_state, next).expect("receives the edit");
        assert_eq!(
            relay_doc.get(ROOT, "note").expect("get").map(|(v, _)| v.as_str().map(str::to_owned)),
            Some(Some("mine".to_owned()))
        );
    }

    #[test]
    fn a_peer_that_does_not_take_whole_documents_gets_automerges_own_answer() {
        let mut relay_doc = document_of(20);
        let (_, _, request) = empty_client();
        let mut v1 = request.message.clone();
        v1.flags = None;
        let ours = first_answer(&mut relay_doc, v1.clone()).expect("an answer");
        let mut state = sync::State::new();
        relay_doc.receive_sync_message(&mut state, v1).expect("receives");
        let automerges = relay_doc.generate_sync_message(&mut state).expect("automerge's answer");
        assert_eq!(sync::Message::decode(&ours).expect("decodes"), automerges);
    }

    #[test]
    fn a_read_only_peers_request_is_left_to_samod() {
        let peer = PeerId::from("user:laptop");
        let id = DocumentId::try_from(vec![7u8; 16]).expect("a document id");
        let first = Automerge::new().generate_sync_message(&mut sync::State::new_read_only()).expect("first");
        assert!(first.flags.is_some_and(|flags| flags.contains(sync::MessageFlags::READ_ONLY)));
        assert!(empty_request(&peer, &request("user:laptop", &id, &first)).is_none());
    }

    /// `document()` and `edits` more changes.
    fn document_of(edits: usize) -> Automerge {
        let mut doc = document();
        for i in 0..edits {
            let mut tx = doc.transaction();
            let text = tx.get(ROOT, "text").expect("get").expect("text").1;
            tx.splice_text(&text, 5 + i, 0, "!").expect("splice");
            tx.commit();
        }
        doc
    }

    /// An empty client, and its first request to the relay as the relay recognises it.
    fn empty_client() -> (Automerge, sync::State, EmptyRequest) {
        let peer = PeerId::from("user:laptop");
        let id = DocumentId::try_from(vec![7u8; 16]).expect("a document id");
        let client = Automerge::new();
        let mut state = sync::State::new();
        let first = client.generate_sync_message(&mut state).expect("first");
        let request = empty_request(&peer, &request("user:laptop", &id, &first)).expect("recognised");
        (client, state, request)
    }

    fn data_of(frame: &[u8]) -> sync::Message {
        let (Ok(Message::Sync(m)) | Ok(Message::Request(m))) = Message::decode(frame) else {
            panic!("sync or request")
        };
        sync::Message::decode(&m.data).expect("a sync message")
    }
}
