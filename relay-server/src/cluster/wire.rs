//! What relay instances tell each other over NATS: the subjects, the headers and the payloads, encoded and
//! decoded in one place.
//!
//! A room message carries the frame exactly as the publishing instance's sockets got it (JSON text, made
//! once), so a receiving instance forwards bytes without parsing them; which operation it is and for whom
//! ride in headers. Every message names the instance that published it (`TeamFlow-Instance`), which is how
//! an instance recognises, and ignores, its own.

use async_nats::HeaderMap;
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use teamflow_protocol::{TeamId, UserId};

/// Which relay instance published a message: random per process start.
pub type InstanceId = uuid::Uuid;

pub(super) const INSTANCE: &str = "TeamFlow-Instance";
const OP: &str = "TeamFlow-Op";
const USER: &str = "TeamFlow-User";

/// Every membership notice (`teamflow.team.<team>.members`).
pub(super) const ALL_MEMBERS: &str = "teamflow.team.*.members";
/// Every document-registry notice (`teamflow.team.<team>.documents`).
pub(super) const ALL_DOCUMENTS: &str = "teamflow.team.*.documents";
/// Every ended-sessions notice (`teamflow.account.<user>`).
pub(super) const ALL_ACCOUNTS: &str = "teamflow.account.*";
/// "Re-check what you hold": sent by an instance whose connection came back, since notices it published
/// while cut off may never have left it.
pub(super) const RECHECK: &str = "teamflow.cluster.recheck";
/// "I am still here", every [`super::task::HEARTBEAT`]: the users online through an instance that falls
/// silent are taken as gone.
pub(super) const ALIVE: &str = "teamflow.cluster.alive";
/// "I am stopping": the users online through the instance are gone at once.
pub(super) const GONE: &str = "teamflow.cluster.gone";
/// Served by no one: a request to it is answered by the server itself ("no responders"), which is how an
/// instance learns that the server has taken what it sent before (`super::round_trip`).
pub(super) const ROUND_TRIP: &str = "teamflow.cluster.round-trip";

pub(super) fn room_subject(team: TeamId) -> String {
    format!("teamflow.room.{team}")
}

pub(super) fn access_subject(notice: &AccessNotice) -> String {
    match notice.change {
        AccessChangeNotice::Document { .. } => format!("teamflow.team.{}.documents", notice.team),
        _ => format!("teamflow.team.{}.members", notice.team),
    }
}

/// A document's changes, as instances holding it publish them (docs/scale-out.md, "Documents across
/// instances"). Document ids are base58: no dots, spaces or wildcards.
pub(super) fn document_subject(document: &str) -> String {
    format!("teamflow.doc.{document}")
}

/// What instances say on a document's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentMessage {
    /// Changes: their raw bytes concatenated, as automerge's `load_incremental` takes them.
    Changes(Bytes),
    /// "I hold these heads" (32-byte hashes concatenated), said by an instance that just began following
    /// the document: the others answer with the changes since.
    Heads(Bytes),
    /// "Changes up to these heads (32-byte hashes concatenated) are in the database; read them there": said
    /// instead of a change too large for one NATS message.
    Stored(Bytes),
}

const HEADS: &str = "heads";
const STORED: &str = "stored";

pub(super) fn encode_document(instance: InstanceId, message: DocumentMessage) -> (HeaderMap, Bytes) {
    let mut headers = headers_from(instance);
    match message {
        DocumentMessage::Changes(changes) => (headers, changes),
        DocumentMessage::Heads(heads) => {
            headers.insert(OP, HEADS);
            (headers, heads)
        }
        DocumentMessage::Stored(heads) => {
            headers.insert(OP, STORED);
            (headers, heads)
        }
    }
}

pub(super) fn decode_document(
    headers: Option<&HeaderMap>,
    payload: Bytes,
) -> Result<(InstanceId, DocumentMessage), WireError> {
    let from = sender(headers)?;
    match headers.and_then(|h| h.get(OP)).map(|v| v.as_str()) {
        None => Ok((from, DocumentMessage::Changes(payload))),
        Some(HEADS) if payload.len().is_multiple_of(32) => Ok((from, DocumentMessage::Heads(payload))),
        Some(STORED) if !payload.is_empty() && payload.len().is_multiple_of(32) => {
            Ok((from, DocumentMessage::Stored(payload)))
        }
        Some(HEADS | STORED) => Err(WireError::Payload("heads are 32-byte hashes".into())),
        Some(_) => Err(WireError::Invalid(OP)),
    }
}

pub(super) fn account_subject(user: UserId) -> String {
    format!("teamflow.account.{user}")
}

/// One operation on a team's room, as the rooms hub applies it.
#[derive(Debug, Clone)]
pub enum RoomOp {
    /// A frame for every socket in the room.
    Frame(Utf8Bytes),
    /// A frame for one user's sockets in the room.
    ToUser(UserId, Utf8Bytes),
    /// The user's first socket in the room on the publishing instance.
    Joined(UserId),
    /// The user's last socket in the room on the publishing instance left.
    Left(UserId),
    /// The user lost access to the team: their sockets leave the room, told why.
    Revoke(UserId),
    /// The team is gone: every socket leaves the room, told why.
    Close,
    /// The publishing instance just began following the room: the others say who is online through them.
    Hello,
}

impl RoomOp {
    fn name(&self) -> &'static str {
        match self {
            RoomOp::Frame(_) => "frame",
            RoomOp::ToUser(..) => "to_user",
            RoomOp::Joined(_) => "joined",
            RoomOp::Left(_) => "left",
            RoomOp::Revoke(_) => "revoke",
            RoomOp::Close => "close",
            RoomOp::Hello => "hello",
        }
    }

    fn user(&self) -> Option<UserId> {
        match self {
            RoomOp::ToUser(user, _) | RoomOp::Joined(user) | RoomOp::Left(user) | RoomOp::Revoke(user) => Some(*user),
            RoomOp::Frame(_) | RoomOp::Close | RoomOp::Hello => None,
        }
    }
}

/// A change to who may reach what in one team, for every instance's access cache and connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessNotice {
    pub team: TeamId,
    pub change: AccessChangeNotice,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccessChangeNotice {
    /// The users' roles changed (or they joined or left); `revoke`: something was taken away, so their
    /// sockets leave the room.
    Members { users: Vec<UserId>, revoke: bool },
    /// The team was deleted: its room closes, and these were its members.
    TeamDeleted { members: Vec<UserId> },
    /// A document was registered, renamed, deleted or restored: who may sync it may have changed.
    Document { url: String },
}

/// Sign-ins of one user that ended (`sessions::end_sessions`), for every instance's live connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsNotice {
    pub user: UserId,
    pub sessions: Vec<String>,
    pub reason: String,
}

/// Why a message from another instance was not understood (it is then ignored, and logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("no {0} header")]
    Missing(&'static str),
    #[error("the {0} header is not valid")]
    Invalid(&'static str),
    #[error("the payload is not valid: {0}")]
    Payload(String),
}

fn header<'a>(headers: Option<&'a HeaderMap>, name: &'static str) -> Result<&'a str, WireError> {
    headers.and_then(|h| h.get(name)).map(|v| v.as_str()).ok_or(WireError::Missing(name))
}

/// The instance that published a message.
pub(super) fn sender(headers: Option<&HeaderMap>) -> Result<InstanceId, WireError> {
    header(headers, INSTANCE)?.parse().map_err(|_| WireError::Invalid(INSTANCE))
}

fn headers_from(instance: InstanceId) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(INSTANCE, instance.to_string().as_str());
    headers
}

pub(super) fn encode_room(instance: InstanceId, op: &RoomOp) -> (HeaderMap, Bytes) {
    let mut headers = headers_from(instance);
    headers.insert(OP, op.name());
    if let Some(user) = op.user() {
        headers.insert(USER, user.to_string().as_str());
    }
    let payload = match op {
        RoomOp::Frame(frame) | RoomOp::ToUser(_, frame) => Bytes::from(frame.clone()),
        _ => Bytes::new(),
    };
    (headers, payload)
}

pub(super) fn decode_room(headers: Option<&HeaderMap>, payload: Bytes) -> Result<(InstanceId, RoomOp), WireError> {
    let from = sender(headers)?;
    let user = || header(headers, USER)?.parse::<UserId>().map_err(|_| WireError::Invalid(USER));
    let frame = || Utf8Bytes::try_from(payload.clone()).map_err(|e| WireError::Payload(e.to_string()));
    let op = match header(headers, OP)? {
        "frame" => RoomOp::Frame(frame()?),
        "to_user" => RoomOp::ToUser(user()?, frame()?),
        "joined" => RoomOp::Joined(user()?),
        "left" => RoomOp::Left(user()?),
        "revoke" => RoomOp::Revoke(user()?),
        "close" => RoomOp::Close,
        "hello" => RoomOp::Hello,
        _ => return Err(WireError::Invalid(OP)),
    };
    Ok((from, op))
}

/// A notice that is only its sender (re-check, alive, gone).
pub(super) fn encode_recheck(instance: InstanceId) -> (HeaderMap, Bytes) {
    (headers_from(instance), Bytes::new())
}

/// A notice as JSON, with its sender's header.
pub(super) fn encode_notice(instance: InstanceId, notice: &impl Serialize) -> Option<(HeaderMap, Bytes)> {
    match serde_json::to_vec(notice) {
        Ok(json) => Some((headers_from(instance), Bytes::from(json))),
        Err(e) => {
            tracing::error!(error = %e, "cluster notice did not serialise");
            None
        }
    }
}

pub(super) fn decode_notice<T: for<'de> Deserialize<'de>>(
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<(InstanceId, T), WireError> {
    let from = sender(headers)?;
    let notice = serde_json::from_slice(payload).map_err(|e| WireError::Payload(e.to_string()))?;
    Ok((from, notice))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_operations_round_trip_with_their_sender() {
        let me = InstanceId::new_v4();
        let user = UserId::new();
        let frame = Utf8Bytes::from(r#"{"type":"typing"}"#);
        let ops = [
            RoomOp::Frame(frame.clone()),
            RoomOp::ToUser(user, frame.clone()),
            RoomOp::Joined(user),
            RoomOp::Left(user),
            RoomOp::Revoke(user),
            RoomOp::Close,
            RoomOp::Hello,
        ];
        for op in ops {
            let (headers, payload) = encode_room(me, &op);
            let (from, decoded) = decode_room(Some(&headers), payload).expect("decodes");
            assert_eq!(from, me);
            assert_eq!(format!("{decoded:?}"), format!("{op:?}"));
        }
    }

    #[test]
    fn malformed_room_messages_are_refused_not_guessed() {
        let me = InstanceId::new_v4();
        assert_eq!(decode_room(None, Bytes::new()).expect_err("no sender"), WireError::Missing(INSTANCE));
        let (mut headers, _) = encode_room(me, &RoomOp::Close);
        headers.insert(OP, "explode");
        assert_eq!(decode_room(Some(&headers), Bytes::new()).expect_err("unknown op"), WireError::Invalid(OP));
        let (mut headers, _) = encode_room(me, &RoomOp::Revoke(UserId::new()));
        headers.insert(USER, "not-a-user");
        assert_eq!(decode_room(Some(&headers), Bytes::new()).expect_err("bad user"), WireError::Invalid(USER));
        let (headers, _) = encode_room(me, &RoomOp::Frame(Utf8Bytes::from("{}")));
        assert!(matches!(decode_room(Some(&headers), Bytes::from_static(&[0xff, 0xfe])), Err(WireError::Payload(_))));
        let mut headers = HeaderMap::new();
        headers.insert(INSTANCE, "instance-7");
        assert_eq!(decode_room(Some(&headers), Bytes::new()).expect_err("bad sender"), WireError::Invalid(INSTANCE));
    }

    #[test]
    fn notices_round_trip_and_name_their_subjects() {
        let me = InstanceId::new_v4();
        let team = TeamId::new();
        let removed =
            AccessNotice { team, change: AccessChangeNotice::Members { users: vec![UserId::new()], revoke: true } };
        let (headers, payload) = encode_notice(me, &removed).expect("encodes");
        assert_eq!(decode_notice::<AccessNotice>(Some(&headers), &payload), Ok((me, removed.clone())));
        assert_eq!(access_subject(&removed), format!("teamflow.team.{team}.members"));
        let document = AccessNotice { team, change: AccessChangeNotice::Document { url: "automerge:x".into() } };
        assert_eq!(access_subject(&document), format!("teamflow.team.{team}.documents"));
        assert!(matches!(decode_notice::<SessionsNotice>(Some(&headers), b"[1, 2]"), Err(WireError::Payload(_))));
    }

    #[test]
    fn document_messages_round_trip_with_their_sender_and_bad_heads_are_refused() {
        let me = InstanceId::new_v4();
        let changes = DocumentMessage::Changes(Bytes::from_static(b"\x85\x6f\x4a\x83 raw change bytes"));
        let heads = DocumentMessage::Heads(Bytes::from(vec![7_u8; 64]));
        let stored = DocumentMessage::Stored(Bytes::from(vec![9_u8; 32]));
        for message in [changes, heads, stored] {
            let (headers, payload) = encode_document(me, message.clone());
            assert_eq!(decode_document(Some(&headers), payload), Ok((me, message)));
        }
        let (headers, _) = encode_document(me, DocumentMessage::Heads(Bytes::new()));
        assert!(matches!(decode_document(Some(&headers), Bytes::from(vec![1_u8; 33])), Err(WireError::Payload(_))));
        // "Stored" names at least one head: there is nothing to read for none.
        let (headers, _) = encode_document(me, DocumentMessage::Stored(Bytes::new()));
        assert!(matches!(decode_document(Some(&headers), Bytes::new()), Err(WireError::Payload(_))));
        assert_eq!(decode_document(None, Bytes::new()), Err(WireError::Missing(INSTANCE)));
        assert_eq!(document_subject("2xzyPvJbUqQJ7ZpCDrUojpiFTEgz"), "teamflow.doc.2xzyPvJbUqQJ7ZpCDrUojpiFTEgz");
    }
}
