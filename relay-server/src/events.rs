//! Domain events and their publisher. A change is published once its transaction has committed: the access
//! cache learns first, then the rooms fan it out. With other relay instances (`--nats-url`), changes of who
//! may reach what are announced to them too, and applied here when they announce theirs
//! ([`Events::apply_remote`]): the same two steps, access cache first, then the rooms.

use teamflow_protocol::api::integrations::ActivityItem;
use teamflow_protocol::api::messages::{Message, ReadState};
use teamflow_protocol::api::projects::Task;
use teamflow_protocol::api::teams::{DocumentEntry, Project};
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{DocumentUrl, ProjectId, Role, TaskId, TeamId, UserId};

use crate::access::{Access, AccessChange};
use crate::cluster::{AccessChangeNotice, AccessNotice, Cluster, InstanceId, RoomOp};
use crate::rooms::RoomsHandle;

#[derive(Debug, Clone)]
pub enum Event {
    MessagePosted(Message),
    /// A message's text was changed or the message deleted.
    MessageChanged(Message),
    ProjectUpdated(Project),
    ProjectDeleted {
        team: TeamId,
        project: ProjectId,
    },
    TaskUpdated(Task),
    TaskDeleted {
        team: TeamId,
        project: ProjectId,
        task: TaskId,
    },
    /// `before`/`after` are `None` when the user was not / is no longer a member.
    MembershipChanged {
        team: TeamId,
        user: UserId,
        before: Option<Role>,
        after: Option<Role>,
    },
    TeamDeleted {
        team: TeamId,
        members: Vec<UserId>,
    },
    TeamRenamed {
        team: TeamId,
        name: String,
    },
    DocumentRegistered(DocumentEntry),
    /// Renamed, or restored after a deletion.
    DocumentUpdated(DocumentEntry),
    DocumentDeleted {
        team: TeamId,
        document: DocumentUrl,
    },
    Activity(ActivityItem),
    /// A member's read position moved: for their own connections only.
    ReadMoved {
        user: UserId,
        state: ReadState,
    },
}

impl Event {
    /// Whether a membership change takes something away: removal, or a lower role.
    fn revokes(before: Option<Role>, after: Option<Role>) -> bool {
        match (before, after) {
            (Some(_), None) => true,
            (Some(before), Some(after)) => !after.at_least(before),
            _ => false,
        }
    }
}

/// Where committed changes are published: the access cache (and its feed), then the rooms.
#[derive(Clone, Debug)]
pub struct Events {
    access: Access,
    rooms: RoomsHandle,
    cluster: Cluster,
}

impl Events {
    pub fn new(access: Access, rooms: RoomsHandle, cluster: Cluster) -> Self {
        Self { access, rooms, cluster }
    }

    /// Call only after the change is committed: nothing is fanned out that could still roll back.
    pub async fn publish(&self, event: Event) {
        match &event {
            Event::MembershipChanged { team, user, .. } => {
                self.access.apply(AccessChange::Member { team: *team, user: *user }).await;
            }
            Event::TeamDeleted { team, members } => {
                for user in members {
                    self.access.apply(AccessChange::Member { team: *team, user: *user }).await;
                }
            }
            Event::DocumentRegistered(entry) | Event::DocumentUpdated(entry) => {
                self.access.apply(AccessChange::Document { url: entry.document_id.to_string() }).await;
            }
            Event::DocumentDeleted { document, .. } => {
                self.access.apply(AccessChange::Document { url: document.to_string() }).await;
            }
            Event::MessagePosted(_)
            | Event::MessageChanged(_)
            | Event::ProjectUpdated(_)
            | Event::ProjectDeleted { .. }
            | Event::TaskUpdated(_)
            | Event::TaskDeleted { .. }
            | Event::TeamRenamed { .. }
            | Event::Activity(_)
            | Event::ReadMoved { .. } => {}
        }
        if let Some(notice) = access_notice(&event) {
            self.cluster.announce_access(&notice);
        }
        self.fan_out(event).await;
    }

    /// Applies a change another instance announced: the access cache forgets what it affects (document
    /// sync connections re-check through it, as for a change made here), then the sockets here that lost
    /// access leave the room. The room frames themselves (`member_changed`, ...) come by the room subject.
    pub async fn apply_remote(&self, from: InstanceId, notice: AccessNotice) {
        let team = notice.team;
        match notice.change {
            AccessChangeNotice::Members { users, revoke } => {
                for user in users {
                    if revoke {
                        self.revoke_remote(team, from, user).await;
                    } else {
                        self.access.apply(AccessChange::Member { team, user }).await;
                    }
                }
            }
            AccessChangeNotice::TeamDeleted { members } => {
                for user in members {
                    self.access.apply(AccessChange::Member { team, user }).await;
                }
                self.rooms.remote(team, from, RoomOp::Close).await;
            }
            AccessChangeNotice::Document { url } => self.access.apply(AccessChange::Document { url }).await,
        }
    }

    /// Sends the event to the rooms it concerns.
    async fn fan_out(&self, event: Event) {
        let rooms = &self.rooms;
        match event {
            Event::MessagePosted(message) => {
                let team = message.team_id;
                rooms.broadcast(team, &ServerMessage::NewMessage { message }, None).await;
            }
            Event::MessageChanged(message) => {
                let team = message.team_id;
                rooms.broadcast(team, &ServerMessage::MessageChanged { message }, None).await;
            }
            Event::ProjectUpdated(project) => {
                let team = project.team_id;
                rooms.broadcast(team, &ServerMessage::ProjectUpdated { project }, None).await;
            }
            Event::ProjectDeleted { team, project } => {
                rooms
                    .broadcast(team, &ServerMessage::ProjectDeleted { team_id: team, project_id: project }, None)
                    .await;
            }
            Event::TaskUpdated(task) => {
                let team = task.team_id;
                rooms.broadcast(team, &ServerMessage::TaskUpdated { task }, None).await;
            }
            Event::TaskDeleted { team, project, task } => {
                let deleted = ServerMessage::TaskDeleted { team_id: team, project_id: project, task_id: task };
                rooms.broadcast(team, &deleted, None).await;
            }
            Event::MembershipChanged { team, user, before, after } => {
                if Event::revokes(before, after) {
                    rooms.revoke(team, user).await;
                }
                let changed = ServerMessage::MemberChanged { team_id: team, user_id: user, role: after };
                rooms.broadcast(team, &changed, None).await;
            }
            Event::TeamDeleted { team, .. } => rooms.close_team(team).await,
            Event::TeamRenamed { team, name } => {
                rooms.broadcast(team, &ServerMessage::TeamRenamed { team_id: team, name }, None).await;
            }
            Event::Activity(item) => {
                let team = item.team_id;
                rooms.broadcast(team, &ServerMessage::Activity { item }, None).await;
            }
            Event::DocumentUpdated(document) => {
                let team = document.team_id;
                rooms.broadcast(team, &ServerMessage::DocumentUpdated { document }, None).await;
            }
            Event::DocumentDeleted { team, document } => {
                let deleted = ServerMessage::DocumentDeleted { team_id: team, document_id: document };
                rooms.broadcast(team, &deleted, None).await;
            }
            Event::ReadMoved { user, state } => {
                rooms.send_to_user(state.team_id, user, &ServerMessage::ReadMoved { state }).await;
            }
            Event::DocumentRegistered(_) => {}
        }
    }
}

impl Events {
    /// Back in touch with the other instances after losing them, when what they announced meanwhile is lost:
    /// the access cache forgets everything (document sync connections re-check), and every socket here
    /// whose user is no longer a member of its room's team is told `access_revoked`.
    pub(crate) async fn recheck_everything(&self) {
        self.access.apply(AccessChange::Everything).await;
        for (team, user) in self.rooms.present().await {
            match self.access.role(team, user).await {
                Ok(Some(_)) => {}
                Ok(None) => self.rooms.revoke_here(team, user).await,
                Err(e) => tracing::warn!(error = %e, %team, %user, "membership re-check failed"),
            }
        }
    }

    /// Another instance took `user`'s access to `team` away: the access cache forgets their role first, so
    /// by the time their sockets here are told (`access_revoked`) nothing here lets them in on the old one.
    /// Met twice per removal (the room's own operation, ordered with its frames, and the membership
    /// notice, which reaches instances without a socket of the team); the second finds nothing to do.
    pub(crate) async fn revoke_remote(&self, team: TeamId, from: InstanceId, user: UserId) {
        self.access.apply(AccessChange::Member { team, user }).await;
        self.rooms.remote(team, from, RoomOp::Revoke(user)).await;
    }
}

/// What the other instances must hear of an event beyond its room frames: changes of who may reach what.
fn access_notice(event: &Event) -> Option<AccessNotice> {
    let (team, change) = match event {
        Event::MembershipChanged { team, user, before, after } => {
            (*team, AccessChangeNotice::Members { users: vec![*user], revoke: Event::revokes(*before, *after) })
        }
        Event::TeamDeleted { team, members } => (*team, AccessChangeNotice::TeamDeleted { members: members.clone() }),
        Event::DocumentRegistered(entry) | Event::DocumentUpdated(entry) => {
            (entry.team_id, AccessChangeNotice::Document { url: entry.document_id.to_string() })
        }
        Event::DocumentDeleted { team, document } => {
            (*team, AccessChangeNotice::Document { url: document.to_string() })
        }
        Event::MessagePosted(_)
        | Event::MessageChanged(_)
        | Event::ProjectUpdated(_)
        | Event::ProjectDeleted { .. }
        | Event::TaskUpdated(_)
        | Event::TaskDeleted { .. }
        | Event::TeamRenamed { .. }
        | Event::Activity(_)
        | Event::ReadMoved { .. } => return None,
    };
    Some(AccessNotice { team, change })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_and_demotion_revoke_but_promotion_does_not() {
        assert!(Event::revokes(Some(Role::Member), None));
        assert!(Event::revokes(Some(Role::Admin), Some(Role::Viewer)));
        assert!(!Event::revokes(Some(Role::Viewer), Some(Role::Member)));
        assert!(!Event::revokes(None, Some(Role::Member)));
        assert!(!Event::revokes(Some(Role::Member), Some(Role::Member)));
    }
}
