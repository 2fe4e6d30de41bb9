//! A team's projects: metadata in SQL, edited per field (`merge`), with a task list (`tasks`) and a history
//! of changes (`history`); the collaborative content lives in the linked Automerge document. Each change
//! publishes its event once committed.

pub mod history;
pub mod merge;
pub mod tasks;

use sqlx::AnyConnection;
use sqlx::any::AnyExecutor;
use teamflow_protocol::api::projects::{ChangeOutcome, HistoryField, ProjectPatch, ProjectVersions};
use teamflow_protocol::api::teams::{Project, ProjectInput, ProjectStatus};
use teamflow_protocol::{DocumentUrl, ProjectId, Role, TeamId, UserId};
use time::OffsetDateTime;

use crate::access::Membership;
use crate::db::{Db, begin_write, from_ms, now_ms, to_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::teams;
use crate::validate::{Lines, Validator};
use merge::Stamps;

const PROJECT_NOT_FOUND: &str = "no such project";

/// `YYYY-MM-DD`, as due dates travel and are stored.
const ISO_DATE: &[time::format_description::BorrowedFormatItem<'_>] =
    time::macros::format_description!("[year]-[month]-[day]");

#[derive(sqlx::FromRow)]
struct ProjectRow {
    #[sqlx(try_from = "String")]
    id: ProjectId,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    name: String,
    description: String,
    #[sqlx(try_from = "String")]
    status: ProjectStatus,
    document_id: Option<String>,
    owner_id: Option<String>,
    due_date: Option<String>,
    field_stamps: String,
    #[sqlx(try_from = "String")]
    created_by: UserId,
    created_at: i64,
    updated_at: i64,
}

fn corrupt(what: &str, value: &str) -> ApiError {
    ApiError::Internal(format!("{what} in database: {value}"))
}

impl ProjectRow {
    fn into_project(self) -> Result<Project, ApiError> {
        let document_id = match self.document_id {
            Some(url) => Some(url.parse().map_err(|_| corrupt("document url", &url))?),
            None => None,
        };
        let owner_id = match self.owner_id {
            Some(id) => Some(id.parse().map_err(|_| corrupt("owner id", &id))?),
            None => None,
        };
        let due_date = match self.due_date {
            Some(date) => Some(time::Date::parse(&date, ISO_DATE).map_err(|_| corrupt("due date", &date))?),
            None => None,
        };
        let stamps = Stamps::parse(&self.field_stamps)?;
        let versions = ProjectVersions {
            name: stamps.version("name"),
            description: stamps.version("description"),
            status: stamps.version("status"),
            document_id: stamps.version("document_id"),
            owner_id: stamps.version("owner_id"),
            due_date: stamps.version("due_date"),
        };
        Ok(Project {
            id: self.id,
            team_id: self.team_id,
            name: self.name,
            description: self.description,
            status: self.status,
            document_id,
            owner_id,
            due_date,
            versions,
            created_by: self.created_by,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        })
    }
}

const PROJECT_SELECT: &str =
    "SELECT id, team_id, name, description, status, document_id, owner_id, due_date, field_stamps,
     created_by, created_at, updated_at FROM projects";

pub async fn list<'e, E: AnyExecutor<'e>>(db: E, member: &Membership) -> Result<Vec<Project>, ApiError> {
    let rows: Vec<ProjectRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{PROJECT_SELECT} WHERE team_id = $1 ORDER BY created_at, id")))
            .bind(member.team().to_string())
            .fetch_all(db)
            .await?;
    rows.into_iter().map(ProjectRow::into_project).collect()
}

pub async fn get(db: &Db, member: &Membership, project: ProjectId) -> Result<Project, ApiError> {
    fetch(db.pool(), member.team(), project).await
}

async fn fetch<'e, E: AnyExecutor<'e>>(db: E, team: TeamId, project: ProjectId) -> Result<Project, ApiError> {
    fetch_row(db, team, project).await?.into_project()
}

async fn fetch_row<'e, E: AnyExecutor<'e>>(db: E, team: TeamId, project: ProjectId) -> Result<ProjectRow, ApiError> {
    let row: Option<ProjectRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{PROJECT_SELECT} WHERE team_id = $1 AND id = $2")))
            .bind(team.to_string())
            .bind(project.to_string())
            .fetch_optional(db)
            .await?;
    row.ok_or(ApiError::NotFound(PROJECT_NOT_FOUND))
}

/// Checks that `project` is one of the team's projects (`not_found` otherwise), in the caller's transaction.
pub(crate) async fn require_project(db: &mut AnyConnection, team: TeamId, project: ProjectId) -> Result<(), ApiError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM projects WHERE team_id = $1 AND id = $2")
        .bind(team.to_string())
        .bind(project.to_string())
        .fetch_optional(&mut *db)
        .await?;
    found.map(|_| ()).ok_or(ApiError::NotFound(PROJECT_NOT_FOUND))
}

/// Checks that `user` is a member of the team, for fields naming a person (owner, assignee).
pub(crate) async fn check_member(
    db: &Db,
    v: &mut Validator,
    field: &str,
    team: TeamId,
    user: Option<UserId>,
) -> Result<(), ApiError> {
    if let Some(user) = user {
        let role = crate::access::role_in(db.pool(), team, user).await?;
        v.check(field, role.is_some(), "must be a member of this team");
    }
    Ok(())
}

fn check_date(v: &mut Validator, field: &str, date: Option<&str>) -> Option<String> {
    let date = date?.trim();
    match time::Date::parse(date, ISO_DATE) {
        Ok(parsed) => Some(parsed.format(ISO_DATE).unwrap_or_else(|_| date.to_owned())),
        Err(_) => {
            v.fail(field, "must be a date as YYYY-MM-DD");
            None
        }
    }
}

async fn check_document(
    db: &Db,
    v: &mut Validator,
    team: TeamId,
    document: Option<&str>,
) -> Result<Option<DocumentUrl>, ApiError> {
    Ok(match document.map(str::parse::<DocumentUrl>) {
        None => None,
        Some(Ok(url)) => {
            let owner: Option<String> = sqlx::query_scalar("SELECT team_id FROM documents WHERE id = $1")
                .bind(url.as_str())
                .fetch_optional(db.pool())
                .await?;
            v.check("document_id", owner == Some(team.to_string()), "must be a document registered to this team");
            Some(url)
        }
        Some(Err(e)) => {
            v.fail("document_id", e.to_string());
            None
        }
    })
}

/// An edit's time for ordering concurrent edits: as the client says, but never past the relay's clock.
pub(crate) fn edit_time(edited_at: Option<OffsetDateTime>) -> i64 {
    let now = now_ms();
    edited_at.map_or(now, |t| to_ms(t).min(now))
}

/// Records that the author's edit `client_id` is applied; false when it already was (a replay).
pub(crate) async fn first_time(
    db: &mut AnyConnection,
    project: ProjectId,
    user: UserId,
    client_id: Option<&str>,
) -> Result<bool, ApiError> {
    let Some(client_id) = client_id else { return Ok(true) };
    let inserted = sqlx::query(
        "INSERT INTO project_edits (project_id, user_id, client_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(project.to_string())
    .bind(user.to_string())
    .bind(client_id)
    .execute(&mut *db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub(crate) fn valid_client_id(v: &mut Validator, client_id: Option<&str>) -> Option<String> {
    client_id.map(|id| v.client_id("client_id", id))
}

/// Whether `create` made the project or found it already made under the same client id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    Existing,
}

/// Creates a project. With a `client_id`, a repeat returns the project the first call made, so a client
/// may retry freely; reusing the id for a different name is a conflict.
pub async fn create(
    db: &Db,
    events: &Events,
    member: &Membership,
    input: ProjectInput,
) -> Result<(Project, Created), ApiError> {
    member.require(Role::Member)?;
    let (team, user) = (member.team(), member.user());
    let settings = teams::settings(db, member).await?;
    if member.role() == Role::Member && !settings.members_can_create_projects {
        return Err(ApiError::Forbidden("this team lets only owners and admins create projects"));
    }
    let mut v = Validator::new();
    let name = v.text("name", &input.name, 1, 200, Lines::Single);
    let description = v.text("description", &input.description, 0, 10_000, Lines::Multi);
    let document_id = check_document(db, &mut v, team, input.document_id.as_deref()).await?;
    check_member(db, &mut v, "owner_id", team, input.owner_id).await?;
    let due_date = check_date(&mut v, "due_date", input.due_date.as_deref());
    let client_id = valid_client_id(&mut v, input.client_id.as_deref());
    v.finish()?;
    let id = ProjectId::new();
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO projects (id, team_id, name, description, status, document_id, owner_id, due_date, created_by,
                               created_at, updated_at, client_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (team_id, created_by, client_id) WHERE client_id IS NOT NULL DO NOTHING",
    )
    .bind(id.to_string())
    .bind(team.to_string())
    .bind(&name)
    .bind(&description)
    .bind(input.status.unwrap_or(settings.default_project_status).as_str())
    .bind(document_id.as_ref().map(DocumentUrl::as_str))
    .bind(input.owner_id.map(|u| u.to_string()))
    .bind(&due_date)
    .bind(user.to_string())
    .bind(now)
    .bind(now)
    .bind(&client_id)
    .execute(db.pool())
    .await?;
    if inserted.rows_affected() == 1 {
        let project = fetch(db.pool(), team, id).await?;
        events.publish(Event::ProjectUpdated(project.clone())).await;
        return Ok((project, Created::New));
    }
    let row: ProjectRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PROJECT_SELECT} WHERE team_id = $1 AND created_by = $2 AND client_id = $3"
    )))
    .bind(team.to_string())
    .bind(user.to_string())
    .bind(&client_id)
    .fetch_one(db.pool())
    .await?;
    let existing = row.into_project()?;
    if existing.name != name {
        return Err(ApiError::Conflict("this client_id was already used for a different project"));
    }
    Ok((existing, Created::Existing))
}

/// The mergeable fields of a project as stored, each as the text the history records.
struct Fields {
    name: String,
    description: String,
    status: String,
    document_id: Option<String>,
    owner_id: Option<String>,
    due_date: Option<String>,
}

impl Fields {
    fn get(&self, field: HistoryField) -> Option<String> {
        match field {
            HistoryField::Name => Some(self.name.clone()),
            HistoryField::Description => Some(self.description.clone()),
            HistoryField::Status => Some(self.status.clone()),
            HistoryField::DocumentId => self.document_id.clone(),
            HistoryField::OwnerId => self.owner_id.clone(),
            HistoryField::DueDate => self.due_date.clone(),
            _ => None,
        }
    }

    fn set(&mut self, field: HistoryField, value: Option<String>) {
        match field {
            HistoryField::Name => self.name = value.unwrap_or_default(),
            HistoryField::Description => self.description = value.unwrap_or_default(),
            HistoryField::Status => self.status = value.unwrap_or_default(),
            HistoryField::DocumentId => self.document_id = value,
            HistoryField::OwnerId => self.owner_id = value,
            HistoryField::DueDate => self.due_date = value,
            _ => {}
        }
    }
}

fn base_of(base: &ProjectVersions, field: HistoryField) -> i64 {
    match field {
        HistoryField::Name => base.name,
        HistoryField::Description => base.description,
        HistoryField::Status => base.status,
        HistoryField::DocumentId => base.document_id,
        HistoryField::OwnerId => base.owner_id,
        _ => base.due_date,
    }
}

/// Checks a patch's values; the changes it asks for, field by field, as the history writes them.
async fn validate_patch(
    db: &Db,
    team: TeamId,
    patch: &ProjectPatch,
) -> Result<Vec<(HistoryField, Option<String>)>, ApiError> {
    let mut v = Validator::new();
    let mut changes = Vec::new();
    if let Some(name) = &patch.name {
        changes.push((HistoryField::Name, Some(v.text("name", name, 1, 200, Lines::Single))));
    }
    if let Some(description) = &patch.description {
        changes.push((HistoryField::Description, Some(v.text("description", description, 0, 10_000, Lines::Multi))));
    }
    if let Some(status) = patch.status {
        changes.push((HistoryField::Status, Some(status.as_str().to_owned())));
    }
    if let Some(document) = &patch.document_id {
        let url = check_document(db, &mut v, team, document.as_deref()).await?;
        changes.push((HistoryField::DocumentId, url.map(|u| u.as_str().to_owned())));
    }
    if let Some(owner) = patch.owner_id {
        check_member(db, &mut v, "owner_id", team, owner).await?;
        changes.push((HistoryField::OwnerId, owner.map(|u| u.to_string())));
    }
    if let Some(date) = &patch.due_date {
        changes.push((HistoryField::DueDate, check_date(&mut v, "due_date", date.as_deref())));
    }
    valid_client_id(&mut v, patch.client_id.as_deref());
    v.finish()?;
    Ok(changes)
}

/// Changes the fields a patch names and keeps the others (`PATCH`, and `PUT` too). Concurrent edits of one
/// field are decided by `merge`; every change, and every edit that lost, goes into the project's history.
/// A patch repeated under the same `client_id` is applied once.
pub async fn patch(
    db: &Db,
    events: &Events,
    member: &Membership,
    project: ProjectId,
    patch: ProjectPatch,
) -> Result<Project, ApiError> {
    member.require(Role::Member)?;
    let (team, user) = (member.team(), member.user());
    let changes = validate_patch(db, team, &patch).await?;
    let at = edit_time(patch.edited_at);
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    // Patches of one team's projects and tasks queue on the team's lock (PostgreSQL), so one patch merges
    // into the row the other wrote instead of both writing their own copy of it.
    db.lock_team(&mut tx, &team.to_string()).await?;
    let row = fetch_row(&mut *tx, team, project).await?;
    if !first_time(&mut tx, project, user, patch.client_id.as_deref().map(str::trim)).await? {
        let current = row.into_project()?;
        tx.commit().await?;
        return Ok(current);
    }
    let mut stamps = Stamps::parse(&row.field_stamps)?;
    let mut fields = Fields {
        name: row.name,
        description: row.description,
        status: row.status.as_str().to_owned(),
        document_id: row.document_id,
        owner_id: row.owner_id,
        due_date: row.due_date,
    };
    let mut recorded = 0;
    for (field, value) in changes {
        let old = fields.get(field);
        if old == value {
            continue;
        }
        let base = patch.base.as_ref().map(|b| base_of(b, field));
        let outcome = match stamps.resolve(field.as_str(), base, at, user) {
            Some(outcome) => {
                fields.set(field, value.clone());
                outcome
            }
            None => ChangeOutcome::Lost,
        };
        let entry =
            history::Entry { project, task: None, field, old_value: old, new_value: value, outcome, by: user, at: now };
        history::record(&mut tx, entry).await?;
        recorded += 1;
    }
    if recorded > 0 {
        sqlx::query(
            "UPDATE projects SET name = $1, description = $2, status = $3, document_id = $4, owner_id = $5, due_date = $6,
                                 field_stamps = $7, updated_at = $8
             WHERE team_id = $9 AND id = $10",
        )
        .bind(&fields.name)
        .bind(&fields.description)
        .bind(&fields.status)
        .bind(&fields.document_id)
        .bind(&fields.owner_id)
        .bind(&fields.due_date)
        .bind(stamps.to_json())
        .bind(now)
        .bind(team.to_string())
        .bind(project.to_string())
        .execute(&mut *tx)
        .await?;
    }
    let updated = fetch(&mut *tx, team, project).await?;
    tx.commit().await?;
    if recorded > 0 {
        // Also when every edit lost: the project's history changed, and open views refresh it.
        events.publish(Event::ProjectUpdated(updated.clone())).await;
    }
    Ok(updated)
}

/// Deletes a project (owners and admins: members may create projects, when the team allows, but deleting
/// one loses its metadata for everyone and cannot be undone).
pub async fn delete(db: &Db, events: &Events, member: &Membership, project: ProjectId) -> Result<(), ApiError> {
    member.require(Role::Admin)?;
    // Its description and history go with it, erased.
    let mut tx = db.begin_erasing().await?;
    let deleted = sqlx::query("DELETE FROM projects WHERE team_id = $1 AND id = $2")
        .bind(member.team().to_string())
        .bind(project.to_string())
        .execute(&mut **tx)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::NotFound(PROJECT_NOT_FOUND));
    }
    tx.commit().await?;
    events.publish(Event::ProjectDeleted { team: member.team(), project }).await;
    Ok(())
}
