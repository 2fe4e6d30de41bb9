//! Project edits that merge per field (`PATCH`), a project's task list, and its history of changes.
//!
//! Each field of a project or task carries a version. An edit names the versions it was made on (`base`);
//! an edit made on an older version than the current one is concurrent with another, and the later edit
//! (by `edited_at`, then by user id) wins, the other staying visible in the history (docs/api.md).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{ProjectId, TaskId, TeamId, UserId};

use super::teams::ProjectStatus;

/// A field that may be absent (keep it), `null` (clear it) or a value (set it): `Option<Option<T>>` on the
/// wire, an absent key being the outer `None`.
pub mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(value: &Option<Option<T>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// An optional RFC 3339 time read through a string: `time`'s own `option` module cannot read a `null`
/// buffered inside an internally tagged enum (the realtime `update_project` frame).
mod optional_rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub(super) fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&at.format(&Rfc3339).map_err(serde::ser::Error::custom)?),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The version of each of a project's mergeable fields: how many edits it has taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ProjectVersions {
    pub name: i64,
    pub description: i64,
    pub status: i64,
    pub document_id: i64,
    pub owner_id: i64,
    pub due_date: i64,
}

/// `PATCH /api/teams/{team_id}/projects/{project_id}` (and `PUT`, which means the same now): only the
/// fields present change. `null` clears `document_id`, `owner_id` or `due_date`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub status: Option<ProjectStatus>,
    /// An `automerge:` URL registered to the same team, or `null` to unlink.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, nullable))]
    #[cfg_attr(feature = "specta", specta(optional, type = Option<String>))]
    pub document_id: Option<Option<String>>,
    /// A member of the team, or `null` for nobody.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid, nullable))]
    #[cfg_attr(feature = "specta", specta(optional, type = Option<UserId>))]
    pub owner_id: Option<Option<UserId>>,
    /// `YYYY-MM-DD`, or `null` for none.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date, nullable))]
    #[cfg_attr(feature = "specta", specta(optional, type = Option<String>))]
    pub due_date: Option<Option<String>>,
    /// The project's `versions` when the edit was made. Without it the edit applies to whatever is current
    /// (what an online form means); with it, a field changed meanwhile by someone else is a conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub base: Option<ProjectVersions>,
    /// The client's id for this edit (1 to 64 letters, digits, `-` or `_`): a repeat is applied once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub client_id: Option<String>,
    /// When the edit was made (RFC 3339). Orders concurrent edits of one field; capped at the relay's
    /// clock, and the relay's clock when absent.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "optional_rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(optional, type = Option<String>))]
    pub edited_at: Option<OffsetDateTime>,
}

impl ProjectPatch {
    /// Whether the patch changes no field at all.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.status.is_none()
            && self.document_id.is_none()
            && self.owner_id.is_none()
            && self.due_date.is_none()
    }
}

/// The version of each of a task's fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TaskVersions {
    pub title: i64,
    pub done: i64,
    pub assignee_id: i64,
}

/// One entry of a project's task list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Task {
    pub id: TaskId,
    pub project_id: ProjectId,
    pub team_id: TeamId,
    pub title: String,
    pub done: bool,
    pub assignee_id: Option<UserId>,
    pub created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created_at: OffsetDateTime,
    pub versions: TaskVersions,
    /// True only in the answer to (and the `task_updated` event of) an edit of a task deleted meanwhile, the
    /// edit recorded as lost; lists never carry deleted tasks.
    #[serde(default)]
    pub deleted: bool,
}

/// `POST /api/teams/{team_id}/projects/{project_id}/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TaskInput {
    /// The task's id, chosen by the client (a UUID) so it can edit the task before the relay answers;
    /// creating again with the same id returns the task already created (200). The relay picks one when absent.
    #[serde(default)]
    pub id: Option<TaskId>,
    /// 1 to 500 characters, one line.
    pub title: String,
    #[serde(default)]
    pub done: bool,
    /// A member of the team.
    #[serde(default)]
    pub assignee_id: Option<UserId>,
}

/// `PATCH /api/teams/{team_id}/projects/{project_id}/tasks/{task_id}`: only the fields present change,
/// merged per field as project edits are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub done: Option<bool>,
    /// A member of the team, or `null` for nobody.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Uuid, nullable))]
    #[cfg_attr(feature = "specta", specta(optional, type = Option<UserId>))]
    pub assignee_id: Option<Option<UserId>>,
    /// The task's `versions` when the edit was made (see `ProjectPatch::base`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub base: Option<TaskVersions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "optional_rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(optional, type = Option<String>))]
    pub edited_at: Option<OffsetDateTime>,
}

impl TaskPatch {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.done.is_none() && self.assignee_id.is_none()
    }
}

/// Which field a history entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum HistoryField {
    Name,
    Description,
    Status,
    DocumentId,
    OwnerId,
    DueDate,
    TaskTitle,
    TaskDone,
    TaskAssigneeId,
    /// A task was added (`new_value` is its title).
    TaskCreated,
    /// A task was deleted (`old_value` is its title).
    TaskDeleted,
}

impl HistoryField {
    pub const ALL: [HistoryField; 11] = [
        HistoryField::Name,
        HistoryField::Description,
        HistoryField::Status,
        HistoryField::DocumentId,
        HistoryField::OwnerId,
        HistoryField::DueDate,
        HistoryField::TaskTitle,
        HistoryField::TaskDone,
        HistoryField::TaskAssigneeId,
        HistoryField::TaskCreated,
        HistoryField::TaskDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HistoryField::Name => "name",
            HistoryField::Description => "description",
            HistoryField::Status => "status",
            HistoryField::DocumentId => "document_id",
            HistoryField::OwnerId => "owner_id",
            HistoryField::DueDate => "due_date",
            HistoryField::TaskTitle => "task_title",
            HistoryField::TaskDone => "task_done",
            HistoryField::TaskAssigneeId => "task_assignee_id",
            HistoryField::TaskCreated => "task_created",
            HistoryField::TaskDeleted => "task_deleted",
        }
    }

    pub fn parse(s: &str) -> Option<HistoryField> {
        HistoryField::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// How an edit of one field came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ChangeOutcome {
    /// An edit made on the current value: `old_value` became `new_value`.
    Applied,
    /// A concurrent edit that won: `old_value` (someone else's concurrent edit) was overwritten.
    Overwrote,
    /// A concurrent edit that lost: `new_value` never took effect; `old_value` stayed.
    Lost,
}

impl ChangeOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeOutcome::Applied => "applied",
            ChangeOutcome::Overwrote => "overwrote",
            ChangeOutcome::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<ChangeOutcome> {
        [ChangeOutcome::Applied, ChangeOutcome::Overwrote, ChangeOutcome::Lost].into_iter().find(|o| o.as_str() == s)
    }
}

/// One entry of `GET /api/teams/{team_id}/projects/{project_id}/history`: a field's change, or an edit
/// that lost to a concurrent one. Values are as the API writes them (ids, `YYYY-MM-DD`, `true`/`false`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ProjectChange {
    /// Increasing: later changes have larger ids.
    pub id: i64,
    pub project_id: ProjectId,
    /// The task, for `task_*` fields.
    pub task_id: Option<TaskId>,
    pub field: HistoryField,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub outcome: ChangeOutcome,
    pub changed_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub changed_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_field_null_and_a_value_are_three_different_patches() {
        let absent: ProjectPatch = serde_json::from_value(serde_json::json!({ "name": "N" })).expect("parse");
        assert_eq!(absent.document_id, None);
        let null: ProjectPatch = serde_json::from_value(serde_json::json!({ "document_id": null })).expect("parse");
        assert_eq!(null.document_id, Some(None));
        let set: ProjectPatch = serde_json::from_value(serde_json::json!({ "due_date": "2027-01-31" })).expect("parse");
        assert_eq!(set.due_date, Some(Some("2027-01-31".into())));
        for patch in [absent, null, set] {
            let back: ProjectPatch =
                serde_json::from_value(serde_json::to_value(&patch).expect("write")).expect("read");
            assert_eq!(back, patch, "round trip keeps absent and null apart");
        }
        assert!(serde_json::from_value::<ProjectPatch>(serde_json::json!({ "owner": "x" })).is_err());
        // Inside a room frame too, where `null` arrives buffered.
        let frame: crate::realtime::ClientMessage = serde_json::from_value(serde_json::json!({
            "type": "update_project", "team_id": crate::TeamId::new(), "project_id": crate::ProjectId::new(),
            "project": { "due_date": null, "edited_at": null, "owner_id": null }
        }))
        .expect("parse");
        let crate::realtime::ClientMessage::UpdateProject { project, .. } = frame else { panic!("{frame:?}") };
        assert_eq!((project.due_date, project.owner_id, project.edited_at), (Some(None), Some(None), None));
    }
}

#[cfg(test)]
mod frame_tests {
    use crate::api::teams::{Project, ProjectStatus};
    use crate::realtime::ServerMessage;
    use crate::{ProjectId, TeamId, UserId};

    #[test]
    fn a_project_with_every_field_travels_in_a_room_frame() {
        let project = Project {
            id: ProjectId::new(),
            team_id: TeamId::new(),
            name: "P".into(),
            description: String::new(),
            status: ProjectStatus::Active,
            document_id: None,
            owner_id: Some(UserId::new()),
            due_date: Some(time::macros::date!(2027 - 03 - 31)),
            versions: super::ProjectVersions { name: 2, ..Default::default() },
            created_by: UserId::new(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            updated_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        let undated = Project { due_date: None, owner_id: None, ..project.clone() };
        let frame = ServerMessage::ProjectUpdated { project };
        let json = serde_json::to_string(&frame).expect("write");
        assert!(json.contains("\"due_date\":\"2027-03-31\""), "{json}");
        assert_eq!(serde_json::from_str::<ServerMessage>(&json).expect("read"), frame);
        let frame = ServerMessage::ProjectUpdated { project: undated };
        let json = serde_json::to_string(&frame).expect("write");
        assert_eq!(serde_json::from_str::<ServerMessage>(&json).expect("read"), frame);
    }
}
