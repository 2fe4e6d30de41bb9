//! Domain events and their publisher. A change is published once its transaction has committed: the access
//! cache learns first, then the rooms fan it out.

use teamflow_protocol::api::integrations::ActivityItem;
use teamflow_protocol::api::messages::{Message, ReadState};
use teamflow_protocol::api::projects::Task;
use teamflow_protocol::api::teams::{DocumentEntry, Project};
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{DocumentUrl, ProjectId, Role, TaskId, TeamId, UserId};

use crate::access::{Access, AccessChange};
use crate::rooms::RoomsHandle;

#[derive(Debug, Clone)]
pub enum Event {
    MessagePosted(Message),
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
}

impl Events {
    pub fn new(access: Access, rooms: RoomsHandle) -> Self {
        Self { access, rooms }
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
            | Event::ProjectUpdated(_)
            | Event::ProjectDeleted { .. }
            | Event::TaskUpdated(_)
            | Event::TaskDeleted { .. }
            | Event::Activity(_)
            | Event::ReadMoved { .. } => {}
        }
        self.fan_out(event).await;
    }

    /// Sends the event to the rooms it concerns.
    async fn fan_out(&self, event: Event) {
        let rooms = &self.rooms;
        match event {
            Event::MessagePosted(message) => {
                let team = message.team_id;
                rooms.broadcast(team, &ServerMessage::NewMessage { message }, None).await;
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
