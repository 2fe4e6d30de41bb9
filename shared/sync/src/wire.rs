//! automerge-repo's wire messages, for code that speaks the sync protocol beneath samod: the relay answering
//! an empty peer's first `request` itself (`relay-server/src/sync/first_sync.rs`) and the join-storm
//! benchmark's hand-driven clients. A message is a CBOR map whose `type` names it, with automerge-repo's
//! field names; `data` carries an automerge sync message.
//!
//! Only the messages those callers use are modelled; any other type decodes as [`Message::Other`]. Fields
//! a message does not use are skipped, as samod and automerge-repo skip them.

use ciborium::Value;
use samod::{DocumentId, PeerId};

/// The protocol version automerge-repo and samod speak.
pub const PROTOCOL_VERSION: &str = "1";

/// One wire message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// The connecting peer's half of the handshake.
    Join { sender_id: PeerId, supported_protocol_versions: Vec<String>, metadata: Option<PeerMetadata> },
    /// The answer to `join`, completing the handshake.
    Peer { sender_id: PeerId, target_id: PeerId, selected_protocol_version: String, metadata: Option<PeerMetadata> },
    /// The sender asks for a document; `data` is its first sync message for it.
    Request(DocMessage),
    /// A sync message about a document.
    Sync(DocMessage),
    /// The sender has no such document (or will not share it).
    DocUnavailable { document_id: DocumentId, sender_id: PeerId, target_id: PeerId },
    /// A protocol error; the sender closes the connection after it.
    Error { message: String },
    /// Any other message (`ephemeral`, `leave`, `remote-heads-changed`, ...), by its `type`.
    Other(String),
}

/// The fields of `request` and `sync`.
#[derive(Debug, Clone, PartialEq)]
pub struct DocMessage {
    pub document_id: DocumentId,
    pub sender_id: PeerId,
    pub target_id: PeerId,
    /// An encoded `automerge::sync::Message`.
    pub data: Vec<u8>,
}

/// What a peer says about itself in the handshake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerMetadata {
    pub storage_id: Option<String>,
    /// Whether the peer will not come back with the same storage (so keeping sync state for it is pointless).
    pub is_ephemeral: bool,
}

/// Bytes that are not a message this module reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an automerge-repo message: {0}")]
pub struct DecodeError(String);

impl Message {
    /// The message as it goes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let text = |s: &str| Value::Text(s.to_owned());
        let peer = |p: &PeerId| Value::Text(p.as_str().to_owned());
        let document = |d: &DocumentId| Value::Text(d.to_string());
        let fields: Vec<(&str, Value)> = match self {
            Message::Join { sender_id, supported_protocol_versions, metadata } => [
                ("type", text("join")),
                ("senderId", peer(sender_id)),
                (
                    "supportedProtocolVersions",
                    Value::Array(supported_protocol_versions.iter().map(|v| text(v)).collect()),
                ),
            ]
            .into_iter()
            .chain(metadata.as_ref().map(|m| ("peerMetadata", m.to_value())))
            .collect(),
            Message::Peer { sender_id, target_id, selected_protocol_version, metadata } => [
                ("type", text("peer")),
                ("senderId", peer(sender_id)),
                ("selectedProtocolVersion", text(selected_protocol_version)),
                ("targetId", peer(target_id)),
            ]
            .into_iter()
            .chain(metadata.as_ref().map(|m| ("peerMetadata", m.to_value())))
            .collect(),
            Message::Request(m) | Message::Sync(m) => vec![
                ("type", text(if matches!(self, Message::Request(_)) { "request" } else { "sync" })),
                ("documentId", document(&m.document_id)),
                ("senderId", peer(&m.sender_id)),
                ("targetId", peer(&m.target_id)),
                ("data", Value::Bytes(m.data.clone())),
            ],
            Message::DocUnavailable { document_id, sender_id, target_id } => vec![
                ("type", text("doc-unavailable")),
                ("senderId", peer(sender_id)),
                ("targetId", peer(target_id)),
                ("documentId", document(document_id)),
            ],
            Message::Error { message } => vec![("type", text("error")), ("message", text(message))],
            Message::Other(kind) => vec![("type", text(kind))],
        };
        to_bytes(&map(fields))
    }

    /// Reads one message.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value: Value = ciborium::from_reader(bytes).map_err(|e| DecodeError(format!("not CBOR: {e}")))?;
        let Value::Map(entries) = value else { return Err(DecodeError("not a CBOR map".into())) };
        let fields = Fields(entries);
        Ok(match fields.text("type")? {
            "join" => Message::Join {
                sender_id: fields.peer("senderId")?,
                supported_protocol_versions: fields.texts("supportedProtocolVersions")?,
                metadata: fields.metadata()?,
            },
            "peer" => Message::Peer {
                sender_id: fields.peer("senderId")?,
                target_id: fields.peer("targetId")?,
                selected_protocol_version: fields.text("selectedProtocolVersion")?.to_owned(),
                metadata: fields.metadata()?,
            },
            "request" => Message::Request(fields.doc_message()?),
            "sync" => Message::Sync(fields.doc_message()?),
            "doc-unavailable" => Message::DocUnavailable {
                document_id: fields.document("documentId")?,
                sender_id: fields.peer("senderId")?,
                target_id: fields.peer("targetId")?,
            },
            "error" => Message::Error { message: fields.text("message")?.to_owned() },
            other => Message::Other(other.to_owned()),
        })
    }
}

/// The fields that say what a message is about, read without decoding (or copying) the rest: enough to
/// route a frame before samod sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub kind: String,
    pub document_id: Option<String>,
    pub sender_id: Option<String>,
}

impl Header {
    /// The header of a message, or `None` for bytes that are not a message (not a map of text keys, no
    /// text `type`, a routing field twice or of another type). Read with minicbor, which skips the other
    /// fields (the sync data) in place: the relay reads every frame's header, and serde through ciborium
    /// cost 2% of its CPU under live typing (docs/benchmarks.md).
    pub fn read(bytes: &[u8]) -> Option<Header> {
        use minicbor::data::Type;
        let mut decoder = minicbor::Decoder::new(bytes);
        let mut fields = HeaderFields::default();
        match decoder.map().ok()? {
            Some(len) => {
                for _ in 0..len {
                    fields.read(&mut decoder)?;
                }
            }
            None => {
                while decoder.datatype().ok()? != Type::Break {
                    fields.read(&mut decoder)?;
                }
            }
        }
        Some(Header {
            kind: fields.kind?,
            document_id: fields.document_id.flatten(),
            sender_id: fields.sender_id.flatten(),
        })
    }
}

/// The routing fields seen so far; `Some(None)` is a field that was there as null.
#[derive(Default)]
struct HeaderFields {
    kind: Option<String>,
    document_id: Option<Option<String>>,
    sender_id: Option<Option<String>>,
}

impl HeaderFields {
    /// Reads one key and its value; `None` when the map cannot be a message's.
    fn read(&mut self, decoder: &mut minicbor::Decoder<'_>) -> Option<()> {
        fn text(decoder: &mut minicbor::Decoder<'_>) -> Option<String> {
            decoder.str().ok().map(str::to_owned)
        }
        fn optional_text(decoder: &mut minicbor::Decoder<'_>) -> Option<Option<String>> {
            if decoder.datatype().ok()? == minicbor::data::Type::Null {
                decoder.skip().ok()?;
                return Some(None);
            }
            text(decoder).map(Some)
        }
        fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
            if slot.is_some() {
                return None;
            }
            *slot = Some(value?);
            Some(())
        }
        match decoder.str().ok()? {
            "type" => once(&mut self.kind, text(decoder)),
            "documentId" => once(&mut self.document_id, optional_text(decoder)),
            "senderId" => once(&mut self.sender_id, optional_text(decoder)),
            _ => decoder.skip().ok(),
        }
    }
}

impl PeerMetadata {
    fn to_value(&self) -> Value {
        let storage = self.storage_id.as_ref().map(|id| ("storageId", Value::Text(id.clone())));
        map(storage.into_iter().chain([("isEphemeral", Value::Bool(self.is_ephemeral))]).collect())
    }
}

fn map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(fields.into_iter().map(|(k, v)| (Value::Text(k.to_owned()), v)).collect())
}

fn to_bytes(value: &Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing into memory cannot fail, and every value built above is plain CBOR.
    ciborium::into_writer(value, &mut bytes).unwrap_or_else(|e| unreachable!("CBOR into a Vec: {e}"));
    bytes
}

/// A message's map, read by field name.
struct Fields(Vec<(Value, Value)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k.as_text() == Some(name)).map(|(_, v)| v)
    }

    fn field(&self, name: &str) -> Result<&Value, DecodeError> {
        self.get(name).ok_or_else(|| DecodeError(format!("no `{name}`")))
    }

    fn text(&self, name: &str) -> Result<&str, DecodeError> {
        self.field(name)?.as_text().ok_or_else(|| DecodeError(format!("`{name}` is not text")))
    }

    fn texts(&self, name: &str) -> Result<Vec<String>, DecodeError> {
        let not_texts = || DecodeError(format!("`{name}` is not a list of text"));
        let items = self.field(name)?.as_array().ok_or_else(not_texts)?;
        items.iter().map(|v| v.as_text().map(str::to_owned).ok_or_else(not_texts)).collect()
    }

    fn peer(&self, name: &str) -> Result<PeerId, DecodeError> {
        self.text(name).map(PeerId::from)
    }

    fn document(&self, name: &str) -> Result<DocumentId, DecodeError> {
        self.text(name)?.parse().map_err(|_| DecodeError(format!("`{name}` is not a document id")))
    }

    fn doc_message(&self) -> Result<DocMessage, DecodeError> {
        Ok(DocMessage {
            document_id: self.document("documentId")?,
            sender_id: self.peer("senderId")?,
            target_id: self.peer("targetId")?,
            data: self.field("data")?.as_bytes().ok_or_else(|| DecodeError("`data` is not bytes".into()))?.clone(),
        })
    }

    fn metadata(&self) -> Result<Option<PeerMetadata>, DecodeError> {
        let Some(value) = self.get("peerMetadata") else { return Ok(None) };
        let Value::Map(entries) = value else { return Err(DecodeError("`peerMetadata` is not a map".into())) };
        let fields = Fields(entries.clone());
        Ok(Some(PeerMetadata {
            // automerge-repo in a browser sends `undefined` for a peer without storage.
            storage_id: fields.get("storageId").and_then(Value::as_text).map(str::to_owned),
            is_ephemeral: fields.get("isEphemeral").and_then(Value::as_bool).unwrap_or(false),
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use automerge::sync::{self, SyncDoc as _};
    use automerge::transaction::Transactable as _;
    use automerge::{Automerge, ObjType, ROOT};
    use futures::StreamExt as _;
    use futures::channel::mpsc;

    use super::*;

    fn document_id() -> DocumentId {
        DocumentId::try_from(vec![7u8; 16]).expect("a document id")
    }

    fn doc_message() -> DocMessage {
        DocMessage {
            document_id: document_id(),
            sender_id: PeerId::from("user:laptop"),
            target_id: PeerId::from("teamflow-relay"),
            data: vec![1, 2, 3],
        }
    }

    #[test]
    fn every_message_reads_back_as_written() {
        let metadata = Some(PeerMetadata { storage_id: Some("storage".into()), is_ephemeral: false });
        for message in [
            Message::Join {
                sender_id: PeerId::from("a"),
                supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
                metadata: Some(PeerMetadata { storage_id: None, is_ephemeral: true }),
            },
            Message::Join { sender_id: PeerId::from("a"), supported_protocol_versions: vec![], metadata: None },
            Message::Peer {
                sender_id: PeerId::from("b"),
                target_id: PeerId::from("a"),
                selected_protocol_version: PROTOCOL_VERSION.into(),
                metadata,
            },
            Message::Request(doc_message()),
            Message::Sync(doc_message()),
            Message::DocUnavailable {
                document_id: document_id(),
                sender_id: PeerId::from("b"),
                target_id: PeerId::from("a"),
            },
            Message::Error { message: "no".into() },
            Message::Other("leave".into()),
        ] {
            assert_eq!(Message::decode(&message.encode()), Ok(message.clone()), "{message:?}");
        }
    }

    #[test]
    fn unknown_fields_are_skipped_and_broken_messages_refused() {
        let with_extra = map(vec![
            ("type", Value::Text("doc-unavailable".into())),
            ("senderId", Value::Text("b".into())),
            ("targetId", Value::Text("a".into())),
            ("documentId", Value::Text(document_id().to_string())),
            ("surprise", Value::Integer(1.into())),
        ]);
        assert!(matches!(Message::decode(&to_bytes(&with_extra)), Ok(Message::DocUnavailable { .. })));

        let no_data = map(vec![
            ("type", Value::Text("sync".into())),
            ("documentId", Value::Text(document_id().to_string())),
            ("senderId", Value::Text("a".into())),
            ("targetId", Value::Text("b".into())),
        ]);
        let bad_document = map(vec![
            ("type", Value::Text("doc-unavailable".into())),
            ("senderId", Value::Text("b".into())),
            ("targetId", Value::Text("a".into())),
            ("documentId", Value::Text("not a document id".into())),
        ]);
        let untyped = map(vec![("senderId", Value::Text("a".into()))]);
        for broken in [to_bytes(&no_data), to_bytes(&bad_document), to_bytes(&untyped), to_bytes(&Value::Bool(true))] {
            assert!(Message::decode(&broken).is_err(), "{broken:?}");
        }
        assert!(Message::decode(b"\xff\x00garbage").is_err());
    }

    /// What `Header::read` replaced: serde through ciborium, the oracle for the cases below.
    #[derive(Debug, serde::Deserialize)]
    struct SerdeHeader {
        #[serde(rename = "type")]
        kind: String,
        #[serde(rename = "documentId", default)]
        document_id: Option<String>,
        #[serde(rename = "senderId", default)]
        sender_id: Option<String>,
    }

    fn serde_header(bytes: &[u8]) -> Option<Header> {
        let h: SerdeHeader = ciborium::from_reader(bytes).ok()?;
        Some(Header { kind: h.kind, document_id: h.document_id, sender_id: h.sender_id })
    }

    #[test]
    fn headers_read_as_serde_read_them() {
        let text = |t: &str| Value::Text(t.into());
        let document = document_id().to_string();
        let mut frames: Vec<Vec<u8>> = [
            Message::Request(doc_message()),
            Message::Sync(DocMessage { data: vec![9; 70_000], ..doc_message() }),
            Message::Join {
                sender_id: PeerId::from("a"),
                supported_protocol_versions: vec!["1".into()],
                metadata: None,
            },
            Message::Other("leave".into()),
        ]
        .iter()
        .map(Message::encode)
        .collect();
        let odd = [
            // Routing fields after a nested map, an array, bytes and numbers, which are skipped.
            vec![
                ("data", Value::Bytes(vec![0; 300])),
                (
                    "nested",
                    map(vec![("type", text("not this one")), ("x", Value::Array(vec![Value::Null, text("y")]))]),
                ),
                ("count", Value::Integer((-5).into())),
                ("type", text("ephemeral")),
                ("senderId", text("u:d")),
                ("documentId", text(&document)),
            ],
            vec![("type", text("sync")), ("documentId", Value::Null)],
            // Not messages: no type, a type that is not text, a field twice, a routing field not text.
            vec![("senderId", text("a"))],
            vec![("type", Value::Integer(1.into()))],
            vec![("type", text("sync")), ("type", text("request"))],
            vec![("type", text("sync")), ("documentId", text("a")), ("documentId", text("b"))],
            vec![("type", text("sync")), ("documentId", Value::Bytes(vec![1]))],
        ];
        frames.extend(odd.into_iter().map(|fields| to_bytes(&map(fields))));
        // A map whose key is not text, and things that are not maps.
        frames.push(to_bytes(&Value::Map(vec![(Value::Integer(1.into()), text("x")), (text("type"), text("sync"))])));
        frames.extend([to_bytes(&Value::Bool(true)), to_bytes(&text("type")), vec![], b"\xff\x00garbage".to_vec()]);
        // Cut short anywhere.
        let whole = Message::Request(doc_message()).encode();
        frames.extend((0..whole.len()).map(|end| whole[..end].to_vec()));
        for frame in &frames {
            assert_eq!(Header::read(frame), serde_header(frame), "{frame:02x?}");
        }
        let read = Header::read(&frames[0]).expect("a request's header");
        assert_eq!(read.kind, "request");
        assert_eq!(read.document_id.as_deref(), Some(document.as_str()));
        assert_eq!(read.sender_id.as_deref(), Some("user:laptop"));
    }

    #[test]
    fn a_header_in_an_indefinite_map_reads_too() {
        // CBOR's indefinite-length map: 0xbf, pairs, 0xff. JavaScript encoders do not write it, others may.
        let mut frame = vec![0xbf];
        frame.extend(to_bytes(&Value::Text("type".into())));
        frame.extend(to_bytes(&Value::Text("sync".into())));
        frame.extend(to_bytes(&Value::Text("data".into())));
        frame.extend(to_bytes(&Value::Bytes(vec![1, 2])));
        frame.push(0xff);
        let read = Header::read(&frame).expect("a header");
        assert_eq!((read.kind.as_str(), read.document_id), ("sync", None));
        assert_eq!(Header::read(&frame[..frame.len() - 1]), None, "no break: cut short");
    }

    /// The messages, spoken to a real samod repo: it accepts our `join` and `request` and we read its `peer`,
    /// `sync` and `doc-unavailable`.
    #[tokio::test]
    async fn samod_understands_us_and_we_understand_samod() {
        let server = PeerId::from("server");
        let repo = samod::Repo::build_tokio()
            .with_peer_id(server.clone())
            .with_share_policy(samod::ShareConfig::read_write().with_announce(false))
            .load()
            .await;
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let text = tx.put_object(ROOT, "text", ObjType::Text).expect("text");
        tx.splice_text(&text, 0, 0, "hello").expect("splice");
        tx.commit();
        let heads = doc.get_heads();
        let handle = repo.create(doc).await.expect("created");
        let acceptor = repo.make_acceptor(url::Url::parse("test://wire").expect("url")).expect("acceptor");
        let (to_repo, from_client) = mpsc::unbounded::<Result<Vec<u8>, Infallible>>();
        let (to_client, mut from_repo) = mpsc::unbounded::<Vec<u8>>();
        acceptor.accept(samod::Transport::new(from_client, to_client)).expect("accepted");
        let mut next = async || Message::decode(&from_repo.next().await.expect("a message")).expect("decodes");

        let client = PeerId::from("client");
        let join = Message::Join {
            sender_id: client.clone(),
            supported_protocol_versions: vec![PROTOCOL_VERSION.into()],
            metadata: Some(PeerMetadata { storage_id: None, is_ephemeral: true }),
        };
        to_repo.unbounded_send(Ok(join.encode())).expect("sent");
        let Message::Peer { sender_id, target_id, selected_protocol_version, .. } = next().await else {
            panic!("a peer message")
        };
        assert_eq!((sender_id, target_id, selected_protocol_version.as_str()), (server.clone(), client.clone(), "1"));

        let first = Automerge::new().generate_sync_message(&mut sync::State::new()).expect("a first message");
        let request = |document_id| {
            Message::Request(DocMessage {
                document_id,
                sender_id: client.clone(),
                target_id: server.clone(),
                data: first.clone().encode(),
            })
        };
        to_repo.unbounded_send(Ok(request(handle.document_id().clone()).encode())).expect("sent");
        let Message::Sync(answer) = next().await else { panic!("a sync message") };
        assert_eq!((&answer.document_id, &answer.sender_id), (handle.document_id(), &server));
        let mut received = Automerge::new();
        let message = sync::Message::decode(&answer.data).expect("a sync message");
        received.receive_sync_message(&mut sync::State::new(), message).expect("applies");
        assert_eq!(received.get_heads(), heads);

        to_repo.unbounded_send(Ok(request(document_id()).encode())).expect("sent");
        assert_eq!(
            next().await,
            Message::DocUnavailable { document_id: document_id(), sender_id: server, target_id: client }
        );
        repo.stop().await;
    }
}
