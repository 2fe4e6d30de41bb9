//! Domain events, published after their transaction commits: the cache learns first, then live rooms.

use teamflow_protocol::api::integrations::ActivityItem;
use teamflow_protocol::api::messages::Message;
use teamflow_protocol::api::teams::{DocumentEntry, Project};
use teamflow_protocol::{ProjectId, Role, TeamId, UserId};

use crate::AppState;
use crate::access::AccessChange;

#[derive(Debug, Clone)]
pub enum Event {
    MessagePosted(Message),
    ProjectUpdated(Project),
    ProjectDeleted {
        team: TeamId,
        project: ProjectId,
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
    Activity(ActivityItem),
}

impl Event {
    /// Whether a membership change takes something away: removal, or a lower role.
    pub fn revokes(before: Option<Role>, after: Option<Role>) -> bool {
        match (before, after) {
            (Some(_), None) => true,
            (Some(before), Some(after)) => !after.at_least(before),
            _ => false,
        }
    }
}

impl AppState {
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
            Event::DocumentRegistered(entry) => {
                self.access.apply(AccessChange::Document { url: entry.document_id.to_string() }).await;
            }
            Event::MessagePosted(_) | Event::ProjectUpdated(_) | Event::ProjectDeleted { .. } | Event::Activity(_) => {}
        }
        self.rooms.publish(event).await;
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
