//! The realtime rooms protocol on `/api/ws`: JSON text frames, one object each, tagged by `type`.
//!
//! The server's first frame is `welcome` carrying [`PROTOCOL_VERSION`]; a client that needs another
//! version asks for it with `?protocol=N` and is refused before the upgrade if the relay lacks it.

use serde::{Deserialize, Serialize};

use crate::api::messages::{Message, MessageKind};
use crate::api::projects::{ProjectPatch, Task};
use crate::api::teams::{Member, Project, Team};
use crate::{ErrorCode, ProjectId, Role, TaskId, TeamId, UserId};

pub const PROTOCOL_VERSION: u32 = 1;

/// Close code of a live connection (`/api/ws` or `/sync`) whose access token expired: on `/api/ws`, renew
/// it in-band (`renew`) before then; on `/sync`, redial with a fresh token.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;

/// Close code of a live connection whose sign-in ended: signed out (here or everywhere), password changed,
/// refresh token reused, account disabled or deleted. The close reason names which (`signed_out`,
/// `signed_out_everywhere`, `password_changed`, `refresh_token_reused`, `account_disabled`,
/// `account_deleted`). Redialing is refused until the person signs in again.
pub const CLOSE_SESSION_ENDED: u16 = 4003;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Start receiving a team's traffic; answered with `team_state`.
    JoinTeam {
        team_id: TeamId,
    },
    LeaveTeam {
        team_id: TeamId,
    },
    /// Same rules and idempotency as `POST /api/teams/{team_id}/messages`; answered with `message_ack`.
    SendMessage {
        team_id: TeamId,
        client_msg_id: String,
        content: String,
        #[serde(default = "text_kind")]
        kind: MessageKind,
    },
    /// Same rules as `PATCH /api/teams/{team_id}/projects/{project_id}`.
    UpdateProject {
        team_id: TeamId,
        project_id: ProjectId,
        project: ProjectPatch,
    },
    /// "I am typing" in a team's chat; relayed to the others, never stored.
    Typing {
        team_id: TeamId,
    },
    Ping {
        #[serde(default)]
        nonce: Option<u64>,
    },
    /// A fresh access token of the same sign-in, sent before the current one expires, so the connection
    /// outlives it; answered with `renewed`. Without it the relay closes with `CLOSE_TOKEN_EXPIRED`.
    Renew {
        token: String,
    },
}

fn text_kind() -> MessageKind {
    MessageKind::Text
}

/// Members per frame in the answer to `join_team` (`team_state`, then `team_members`).
pub const MEMBERS_PER_FRAME: usize = 25;

/// Projects per frame in the answer to `join_team` (`team_state`, then `team_projects`).
pub const PROJECTS_PER_FRAME: usize = 25;

/// A member as the room sees them: who, what role, and whether any of their devices is connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PresentMember {
    #[serde(flatten)]
    pub member: Member,
    pub online: bool,
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Welcome {
        protocol: u32,
        user_id: UserId,
    },
    /// The answer to `renew`: the connection now lasts as long as the new token, `expires_in` seconds.
    Renewed {
        expires_in: u64,
    },
    /// The answer to `join_team`: everything needed to draw the team, and where chat stands.
    TeamState {
        team: Team,
        members: Vec<PresentMember>,
        projects: Vec<Project>,
        latest_seq: i64,
    },
    /// More of the team's members, right after `team_state` when the team has more than
    /// `MEMBERS_PER_FRAME`: `team_state` carries the first ones, each `team_members` up to as many more.
    /// Small frames keep a connection's buffers small for as long as it stays open.
    TeamMembers {
        team_id: TeamId,
        members: Vec<PresentMember>,
    },
    /// More of the team's projects, after `team_state` (and any `team_members`) when the team has more
    /// than `PROJECTS_PER_FRAME`, in the same order, for the same reason as `TeamMembers`.
    TeamProjects {
        team_id: TeamId,
        projects: Vec<Project>,
    },
    /// A user's first connection joined the team's room.
    UserJoined {
        team_id: TeamId,
        user_id: UserId,
    },
    /// A user's last connection left the room or dropped.
    UserLeft {
        team_id: TeamId,
        user_id: UserId,
    },
    NewMessage {
        message: Message,
    },
    /// A message's text was changed by its author, or it was deleted (`deleted`, its text gone).
    MessageChanged {
        message: Message,
    },
    /// The sender's own message is stored (sent after the commit, before or after `new_message`).
    MessageAck {
        team_id: TeamId,
        client_msg_id: String,
        message_id: crate::MessageId,
        seq: i64,
    },
    ProjectUpdated {
        project: Project,
    },
    ProjectDeleted {
        team_id: TeamId,
        project_id: ProjectId,
    },
    /// A document was renamed, or restored after a deletion: the team's list shows it as given.
    DocumentUpdated {
        document: crate::api::teams::DocumentEntry,
    },
    /// A document was deleted (it can be restored for a while: `POST .../documents/{id}/restore`).
    DocumentDeleted {
        team_id: TeamId,
        document_id: crate::DocumentUrl,
    },
    /// A task was added or changed (or an edit of it was recorded in the project's history).
    TaskUpdated {
        task: Task,
    },
    TaskDeleted {
        team_id: TeamId,
        project_id: ProjectId,
        task_id: TaskId,
    },
    /// The team was renamed (by an owner or admin): every member's app shows the new name.
    TeamRenamed {
        team_id: TeamId,
        name: String,
    },
    /// A membership changed; `role` is absent when the user left or was removed.
    MemberChanged {
        team_id: TeamId,
        user_id: UserId,
        role: Option<Role>,
    },
    Typing {
        team_id: TeamId,
        user_id: UserId,
    },
    /// Something happened in a connected service (a push, a card moved, ...).
    Activity {
        item: crate::api::integrations::ActivityItem,
    },
    /// The recipient's read position in the team moved (on this device or another one of theirs); sent only
    /// to that person's own connections.
    ReadMoved {
        state: crate::api::messages::ReadState,
    },
    /// The recipient lost access to the team (removed, or role lowered): no more of its traffic.
    AccessRevoked {
        team_id: TeamId,
    },
    Pong {
        nonce: Option<u64>,
    },
    /// A request failed. `ref` names what failed: the `client_msg_id` of a message, else the request type.
    Error {
        code: ErrorCode,
        message: String,
        #[serde(rename = "ref", default, skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_tagged_by_type() {
        let team_id = TeamId::new();
        let join: ClientMessage =
            serde_json::from_value(serde_json::json!({ "type": "join_team", "team_id": team_id })).expect("parse");
        assert_eq!(join, ClientMessage::JoinTeam { team_id });
        let send: ClientMessage = serde_json::from_value(serde_json::json!({
            "type": "send_message", "team_id": team_id, "client_msg_id": "c1", "content": "hi"
        }))
        .expect("parse");
        assert!(matches!(send, ClientMessage::SendMessage { kind: MessageKind::Text, .. }));
        let error =
            ServerMessage::Error { code: ErrorCode::Forbidden, message: "no".into(), reference: Some("c1".into()) };
        let json = serde_json::to_value(&error).expect("serialize");
        assert_eq!(json["type"], "error");
        assert_eq!(json["ref"], "c1");
        assert_eq!(json["code"], "forbidden");
    }

    #[test]
    fn unknown_types_and_fields_are_refused() {
        for bad in [
            serde_json::json!({ "type": "shout", "team_id": TeamId::new() }),
            serde_json::json!({ "type": "join_team" }),
            serde_json::json!({ "type": "join_team", "team_id": TeamId::new(), "extra": 1 }),
            serde_json::json!({ "team_id": TeamId::new() }),
        ] {
            assert!(serde_json::from_value::<ClientMessage>(bad.clone()).is_err(), "{bad}");
        }
    }
}
