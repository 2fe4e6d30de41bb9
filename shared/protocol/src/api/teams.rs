//! Teams and everything under `/api/teams/{team_id}`: members, projects, settings, analytics, documents.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::{DocumentUrl, ProjectId, Role, TeamId, UserId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// The caller's role in this team.
    pub role: Role,
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created_at: OffsetDateTime,
}

/// `POST /api/teams` and `PUT /api/teams/{team_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Member {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub joined_at: OffsetDateTime,
}

/// `POST /api/teams/{team_id}/members`: add someone who already has an account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub email: String,
    pub role: Role,
}

/// `PATCH /api/teams/{team_id}/members/{user_id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    Planned,
    Active,
    Paused,
    Completed,
    Archived,
}

impl ProjectStatus {
    pub const ALL: [ProjectStatus; 5] = [
        ProjectStatus::Planned,
        ProjectStatus::Active,
        ProjectStatus::Paused,
        ProjectStatus::Completed,
        ProjectStatus::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Planned => "planned",
            ProjectStatus::Active => "active",
            ProjectStatus::Paused => "paused",
            ProjectStatus::Completed => "completed",
            ProjectStatus::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<ProjectStatus> {
        ProjectStatus::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

// Dates travel as `YYYY-MM-DD`, not `time`'s default `[year, ordinal]`.
time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// An optional `YYYY-MM-DD` date, read through a string: `time`'s own `option` module cannot read a `null`
/// buffered inside an internally tagged enum (a room frame).
mod optional_iso_date {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
        time::macros::format_description!("[year]-[month]-[day]");

    pub(super) fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match date {
            Some(date) => s.serialize_str(&date.format(FORMAT).map_err(serde::ser::Error::custom)?),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|text| Date::parse(&text, FORMAT).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Project {
    pub id: ProjectId,
    pub team_id: TeamId,
    pub name: String,
    pub description: String,
    pub status: ProjectStatus,
    /// The project's collaborative document, registered to the same team.
    pub document_id: Option<DocumentUrl>,
    /// The member responsible for the project.
    pub owner_id: Option<UserId>,
    /// `YYYY-MM-DD`.
    #[serde(with = "optional_iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub due_date: Option<Date>,
    /// Each field's version, to name as `base` in an edit made offline (`PATCH`).
    pub versions: crate::api::projects::ProjectVersions,
    pub created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub updated_at: OffsetDateTime,
}

/// `POST /api/teams/{team_id}/projects`. Edits are `PATCH` (`ProjectPatch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Defaults to the team's `default_project_status` setting.
    #[serde(default)]
    pub status: Option<ProjectStatus>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub document_id: Option<String>,
    /// A member of the team.
    #[serde(default)]
    pub owner_id: Option<UserId>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = Date))]
    pub due_date: Option<String>,
    /// The client's id for this project (1 to 64 letters, digits, `-` or `_`; a UUID works).
    /// Creating again with the same id returns the project already created (200) instead of a second one.
    #[serde(default)]
    pub client_id: Option<String>,
}

/// A team's settings. `PUT` replaces them whole; every field is required there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct TeamSettings {
    /// Shown to members; up to 500 characters.
    pub description: String,
    /// Status a new project gets when none is given.
    pub default_project_status: ProjectStatus,
    /// Whether plain members (not only admins) may create projects.
    pub members_can_create_projects: bool,
    /// How long raw webhook payloads are kept, 1 to 365 days.
    pub webhook_payload_retention_days: u32,
}

impl Default for TeamSettings {
    fn default() -> Self {
        Self {
            description: String::new(),
            default_project_status: ProjectStatus::Active,
            members_can_create_projects: true,
            webhook_payload_retention_days: 30,
        }
    }
}

/// `GET /api/teams/{team_id}/analytics?from=&to=`: both dates inclusive, `YYYY-MM-DD`, UTC.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// First day; defaults to 29 days before `to`.
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, format = Date))]
    pub from: Option<String>,
    /// Last day; defaults to today.
    #[cfg_attr(feature = "openapi", param(value_type = Option<String>, format = Date))]
    pub to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DayCount {
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub date: Date,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Analytics {
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub from: Date,
    #[serde(with = "iso_date")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Date))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub to: Date,
    /// One entry per day in the range, zero-filled.
    pub messages_per_day: Vec<DayCount>,
    pub total_messages: i64,
    /// Members who posted at least one message in the range.
    pub active_members: i64,
    pub member_count: i64,
    /// Every status, zero-filled.
    pub projects_by_status: BTreeMap<ProjectStatus, i64>,
    /// Webhook events received in the range, per service, zero-filled.
    pub activity_by_service: BTreeMap<crate::api::integrations::Service, i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DocumentEntry {
    pub document_id: DocumentUrl,
    pub team_id: TeamId,
    pub title: String,
    pub project_id: Option<ProjectId>,
    pub created_by: UserId,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub created_at: OffsetDateTime,
}

/// How long a deleted document can be restored before the relay purges it for good; devices keep its
/// content as long, then purge it too.
pub const DELETED_DOCUMENT_KEPT: std::time::Duration = std::time::Duration::from_secs(30 * 86_400);

/// `GET /api/teams/{team_id}/documents/deleted`: a deleted document the caller may restore, while it can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct DeletedDocument {
    pub document: DocumentEntry,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub deleted_at: OffsetDateTime,
    /// Who deleted it (their id stays when they leave the team or delete their account; absent only for a
    /// deletion recorded without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "specta", specta(optional))]
    pub deleted_by: Option<UserId>,
    /// When it is purged for good, unless restored before.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub restorable_until: OffsetDateTime,
}

/// `POST /api/teams/{team_id}/documents`: register an Automerge document to the team.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct RegisterDocument {
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub document_id: String,
    pub title: String,
    #[serde(default)]
    pub project_id: Option<ProjectId>,
}

/// `PATCH /api/teams/{team_id}/documents/{document_id}`: rename a document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(deny_unknown_fields)]
pub struct RenameDocument {
    /// 1 to 200 characters on one line, trimmed.
    pub title: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_travel_as_iso_strings() {
        let day = DayCount { date: time::macros::date!(2026 - 11 - 23), count: 4 };
        let json = serde_json::to_value(&day).expect("serialize");
        assert_eq!(json, serde_json::json!({ "date": "2026-11-23", "count": 4 }));
        assert_eq!(serde_json::from_value::<DayCount>(json).expect("deserialize"), day);
    }
}
