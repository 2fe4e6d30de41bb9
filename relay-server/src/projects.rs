//! A team's projects: metadata in SQL; the collaborative content lives in the linked Automerge document.
//! Each change publishes its event once committed.

use sqlx::{SqliteExecutor, SqlitePool};
use teamflow_protocol::api::teams::{Project, ProjectInput, ProjectStatus};
use teamflow_protocol::{DocumentUrl, ProjectId, Role, TeamId, UserId};

use crate::access::Membership;
use crate::db::{from_ms, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::teams;
use crate::validate::{Lines, Validator};

const PROJECT_NOT_FOUND: &str = "no such project";

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
    #[sqlx(try_from = "String")]
    created_by: UserId,
    created_at: i64,
    updated_at: i64,
}

impl ProjectRow {
    fn into_project(self) -> Result<Project, ApiError> {
        let document_id = match self.document_id {
            Some(url) => Some(url.parse().map_err(|_| ApiError::Internal(format!("document url in database: {url}")))?),
            None => None,
        };
        Ok(Project {
            id: self.id,
            team_id: self.team_id,
            name: self.name,
            description: self.description,
            status: self.status,
            document_id,
            created_by: self.created_by,
            created_at: from_ms(self.created_at),
            updated_at: from_ms(self.updated_at),
        })
    }
}

const PROJECT_SELECT: &str =
    "SELECT id, team_id, name, description, status, document_id, created_by, created_at, updated_at FROM projects";

pub async fn list<'e, E: SqliteExecutor<'e>>(db: E, member: &Membership) -> Result<Vec<Project>, ApiError> {
    let rows: Vec<ProjectRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{PROJECT_SELECT} WHERE team_id = ? ORDER BY created_at, id")))
            .bind(member.team().to_string())
            .fetch_all(db)
            .await?;
    rows.into_iter().map(ProjectRow::into_project).collect()
}

pub async fn get(db: &SqlitePool, member: &Membership, project: ProjectId) -> Result<Project, ApiError> {
    fetch(db, member.team(), project).await
}

async fn fetch(db: &SqlitePool, team: TeamId, project: ProjectId) -> Result<Project, ApiError> {
    let row: Option<ProjectRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{PROJECT_SELECT} WHERE team_id = ? AND id = ?")))
            .bind(team.to_string())
            .bind(project.to_string())
            .fetch_optional(db)
            .await?;
    row.ok_or(ApiError::NotFound(PROJECT_NOT_FOUND))?.into_project()
}

struct ValidProject {
    name: String,
    description: String,
    document_id: Option<DocumentUrl>,
}

async fn validate(db: &SqlitePool, team: TeamId, input: &ProjectInput) -> Result<ValidProject, ApiError> {
    let mut v = Validator::new();
    let name = v.text("name", &input.name, 1, 200, Lines::Single);
    let description = v.text("description", &input.description, 0, 10_000, Lines::Multi);
    let document_id = match input.document_id.as_deref().map(str::parse::<DocumentUrl>) {
        None => None,
        Some(Ok(url)) => {
            let owner: Option<String> = sqlx::query_scalar("SELECT team_id FROM documents WHERE id = ?")
                .bind(url.as_str())
                .fetch_optional(db)
                .await?;
            v.check("document_id", owner == Some(team.to_string()), "must be a document registered to this team");
            Some(url)
        }
        Some(Err(e)) => {
            v.fail("document_id", e.to_string());
            None
        }
    };
    v.finish()?;
    Ok(ValidProject { name, description, document_id })
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
    db: &SqlitePool,
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
    let valid = validate(db, team, &input).await?;
    let client_id = match input.client_id.as_deref() {
        Some(id) => {
            let mut v = Validator::new();
            let id = v.client_id("client_id", id);
            v.finish()?;
            Some(id)
        }
        None => None,
    };
    let id = ProjectId::new();
    let now = now_ms();
    let inserted = sqlx::query(
        "INSERT INTO projects (id, team_id, name, description, status, document_id, created_by, created_at, updated_at, client_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (team_id, created_by, client_id) WHERE client_id IS NOT NULL DO NOTHING",
    )
    .bind(id.to_string())
    .bind(team.to_string())
    .bind(&valid.name)
    .bind(&valid.description)
    .bind(input.status.unwrap_or(settings.default_project_status).as_str())
    .bind(valid.document_id.as_ref().map(DocumentUrl::as_str))
    .bind(user.to_string())
    .bind(now)
    .bind(now)
    .bind(&client_id)
    .execute(db)
    .await?;
    if inserted.rows_affected() == 1 {
        let project = fetch(db, team, id).await?;
        events.publish(Event::ProjectUpdated(project.clone())).await;
        return Ok((project, Created::New));
    }
    let row: ProjectRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PROJECT_SELECT} WHERE team_id = ? AND created_by = ? AND client_id = ?"
    )))
    .bind(team.to_string())
    .bind(user.to_string())
    .bind(&client_id)
    .fetch_one(db)
    .await?;
    let existing = row.into_project()?;
    if existing.name != valid.name {
        return Err(ApiError::Conflict("this client_id was already used for a different project"));
    }
    Ok((existing, Created::Existing))
}

/// Replaces a project's fields. An omitted `status` keeps the current one.
pub async fn update(
    db: &SqlitePool,
    events: &Events,
    member: &Membership,
    project: ProjectId,
    input: ProjectInput,
) -> Result<Project, ApiError> {
    member.require(Role::Member)?;
    let team = member.team();
    if input.client_id.is_some() {
        let mut v = Validator::new();
        v.fail("client_id", "is only for creating a project");
        v.finish()?;
    }
    let valid = validate(db, team, &input).await?;
    let updated = sqlx::query(
        "UPDATE projects SET name = ?, description = ?, status = COALESCE(?, status), document_id = ?, updated_at = ?
         WHERE team_id = ? AND id = ?",
    )
    .bind(&valid.name)
    .bind(&valid.description)
    .bind(input.status.map(ProjectStatus::as_str))
    .bind(valid.document_id.as_ref().map(DocumentUrl::as_str))
    .bind(now_ms())
    .bind(team.to_string())
    .bind(project.to_string())
    .execute(db)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(ApiError::NotFound(PROJECT_NOT_FOUND));
    }
    let project = fetch(db, team, project).await?;
    events.publish(Event::ProjectUpdated(project.clone())).await;
    Ok(project)
}

/// Deletes a project (owners and admins: members may create projects, when the team allows, but deleting
/// one loses its metadata for everyone and cannot be undone).
pub async fn delete(db: &SqlitePool, events: &Events, member: &Membership, project: ProjectId) -> Result<(), ApiError> {
    member.require(Role::Admin)?;
    let deleted = sqlx::query("DELETE FROM projects WHERE team_id = ? AND id = ?")
        .bind(member.team().to_string())
        .bind(project.to_string())
        .execute(db)
        .await?;
    if deleted.rows_affected() == 0 {
        return Err(ApiError::NotFound(PROJECT_NOT_FOUND));
    }
    events.publish(Event::ProjectDeleted { team: member.team(), project }).await;
    Ok(())
}
