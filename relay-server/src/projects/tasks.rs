//! A project's task list: tasks created under the client's id (so a device can edit one offline before the
//! relay has it), edited per field as projects are, deleted as tombstones.

use sqlx::AnyConnection;
use teamflow_protocol::api::projects::{ChangeOutcome, HistoryField, Task, TaskInput, TaskPatch, TaskVersions};
use teamflow_protocol::{ProjectId, Role, TaskId, TeamId, UserId};

use super::history::{self, Entry};
use super::merge::Stamps;
use super::{Created, check_member, edit_time, first_time, require_project, valid_client_id};
use crate::access::Membership;
use crate::db::{Db, begin_write, from_ms, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::validate::{Lines, Validator};

const TASK_NOT_FOUND: &str = "no such task";
const TITLE_MAX: usize = 500;

#[derive(sqlx::FromRow)]
struct TaskRow {
    #[sqlx(try_from = "String")]
    id: TaskId,
    #[sqlx(try_from = "String")]
    project_id: ProjectId,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    title: String,
    /// 0 or 1 (`Any` reads flags as integers).
    done: i64,
    assignee_id: Option<String>,
    #[sqlx(try_from = "String")]
    created_by: UserId,
    created_at: i64,
    field_stamps: String,
    deleted_at: Option<i64>,
}

impl TaskRow {
    fn into_task(self) -> Result<Task, ApiError> {
        let assignee_id = match self.assignee_id {
            Some(id) => Some(id.parse().map_err(|_| ApiError::Internal(format!("assignee in database: {id}")))?),
            None => None,
        };
        let stamps = Stamps::parse(&self.field_stamps)?;
        Ok(Task {
            id: self.id,
            project_id: self.project_id,
            team_id: self.team_id,
            title: self.title,
            done: self.done != 0,
            assignee_id,
            created_by: self.created_by,
            created_at: from_ms(self.created_at),
            versions: TaskVersions {
                title: stamps.version("title"),
                done: stamps.version("done"),
                assignee_id: stamps.version("assignee_id"),
            },
            deleted: self.deleted_at.is_some(),
        })
    }
}

const TASK_SELECT: &str =
    "SELECT id, project_id, team_id, title, done, assignee_id, created_by, created_at, field_stamps,
     deleted_at FROM project_tasks";

async fn fetch_row(
    db: &mut AnyConnection,
    team: TeamId,
    project: ProjectId,
    task: TaskId,
) -> Result<TaskRow, ApiError> {
    let row: Option<TaskRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TASK_SELECT} WHERE team_id = $1 AND project_id = $2 AND id = $3"
    )))
    .bind(team.to_string())
    .bind(project.to_string())
    .bind(task.to_string())
    .fetch_optional(&mut *db)
    .await?;
    row.ok_or(ApiError::NotFound(TASK_NOT_FOUND))
}

/// The project's tasks, oldest first (deleted ones left out).
pub async fn list(db: &Db, member: &Membership, project: ProjectId) -> Result<Vec<Task>, ApiError> {
    let mut conn = db.pool().acquire().await?;
    require_project(&mut conn, member.team(), project).await?;
    let rows: Vec<TaskRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TASK_SELECT} WHERE project_id = $1 AND deleted_at IS NULL ORDER BY created_at, id"
    )))
    .bind(project.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(TaskRow::into_task).collect()
}

/// Adds a task (members and up). Creating again with the same id returns the task the first call made.
pub async fn create(
    db: &Db,
    events: &Events,
    member: &Membership,
    project: ProjectId,
    input: TaskInput,
) -> Result<(Task, Created), ApiError> {
    member.require(Role::Member)?;
    let (team, user) = (member.team(), member.user());
    let mut v = Validator::new();
    let title = v.text("title", &input.title, 1, TITLE_MAX, Lines::Single);
    check_member(db, &mut v, "assignee_id", team, input.assignee_id).await?;
    v.finish()?;
    let id = input.id.unwrap_or_default();
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    require_project(&mut tx, team, project).await?;
    let inserted = sqlx::query(
        "INSERT INTO project_tasks (id, project_id, team_id, title, done, assignee_id, created_by, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id.to_string())
    .bind(project.to_string())
    .bind(team.to_string())
    .bind(&title)
    .bind(i64::from(input.done))
    .bind(input.assignee_id.map(|u| u.to_string()))
    .bind(user.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        let existing: Option<TaskRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{TASK_SELECT} WHERE id = $1")))
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        return match existing {
            Some(row) if row.project_id == project && row.team_id == team && row.created_by == user => {
                Ok((row.into_task()?, Created::Existing))
            }
            _ => Err(ApiError::Conflict("this task id is already taken")),
        };
    }
    let entry = Entry {
        project,
        task: Some(id),
        field: HistoryField::TaskCreated,
        old_value: None,
        new_value: Some(title),
        outcome: ChangeOutcome::Applied,
        by: user,
        at: now,
    };
    history::record(&mut tx, entry).await?;
    let task = fetch_row(&mut tx, team, project, id).await?.into_task()?;
    tx.commit().await?;
    events.publish(Event::TaskUpdated(task.clone())).await;
    Ok((task, Created::New))
}

/// Changes the fields a patch names, merged per field as project edits are. An edit of a deleted task
/// changes nothing and is recorded as lost.
pub async fn patch(
    db: &Db,
    events: &Events,
    member: &Membership,
    project: ProjectId,
    task: TaskId,
    patch: TaskPatch,
) -> Result<Task, ApiError> {
    member.require(Role::Member)?;
    let (team, user) = (member.team(), member.user());
    let mut v = Validator::new();
    let mut changes = Vec::new();
    if let Some(title) = &patch.title {
        changes.push((HistoryField::TaskTitle, Some(v.text("title", title, 1, TITLE_MAX, Lines::Single))));
    }
    if let Some(done) = patch.done {
        changes.push((HistoryField::TaskDone, Some(done.to_string())));
    }
    if let Some(assignee) = patch.assignee_id {
        check_member(db, &mut v, "assignee_id", team, assignee).await?;
        changes.push((HistoryField::TaskAssigneeId, assignee.map(|u| u.to_string())));
    }
    valid_client_id(&mut v, patch.client_id.as_deref());
    v.finish()?;
    let at = edit_time(patch.edited_at);
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    // As project patches: queued on the team's lock, so concurrent patches merge rather than overwrite.
    db.lock_team(&mut tx, &team.to_string()).await?;
    require_project(&mut tx, team, project).await?;
    let row = fetch_row(&mut tx, team, project, task).await?;
    if !first_time(&mut tx, project, user, patch.client_id.as_deref().map(str::trim)).await? {
        let current = row.into_task()?;
        tx.commit().await?;
        return Ok(current);
    }
    let deleted = row.deleted_at.is_some();
    let mut stamps = Stamps::parse(&row.field_stamps)?;
    let (mut title, mut done, mut assignee) = (row.title.clone(), row.done != 0, row.assignee_id.clone());
    let mut recorded = 0;
    for (field, value) in changes {
        let (name, old) = match field {
            HistoryField::TaskTitle => ("title", Some(title.clone())),
            HistoryField::TaskDone => ("done", Some(done.to_string())),
            _ => ("assignee_id", assignee.clone()),
        };
        if old == value {
            continue;
        }
        let base = patch.base.map(|b| match field {
            HistoryField::TaskTitle => b.title,
            HistoryField::TaskDone => b.done,
            _ => b.assignee_id,
        });
        let outcome = match (deleted, stamps.resolve(name, base, at, user)) {
            (false, Some(outcome)) => {
                match field {
                    HistoryField::TaskTitle => title = value.clone().unwrap_or_default(),
                    HistoryField::TaskDone => done = value.as_deref() == Some("true"),
                    _ => assignee = value.clone(),
                }
                outcome
            }
            _ => ChangeOutcome::Lost,
        };
        let entry =
            Entry { project, task: Some(task), field, old_value: old, new_value: value, outcome, by: user, at: now };
        history::record(&mut tx, entry).await?;
        recorded += 1;
    }
    if recorded > 0 && !deleted {
        sqlx::query(
            "UPDATE project_tasks SET title = $1, done = $2, assignee_id = $3, field_stamps = $4 WHERE id = $5",
        )
        .bind(&title)
        .bind(i64::from(done))
        .bind(&assignee)
        .bind(stamps.to_json())
        .bind(task.to_string())
        .execute(&mut *tx)
        .await?;
    }
    let updated = fetch_row(&mut tx, team, project, task).await?.into_task()?;
    tx.commit().await?;
    if recorded > 0 {
        events.publish(Event::TaskUpdated(updated.clone())).await;
    }
    Ok(updated)
}

/// Deletes a task (members and up). Deleting it again is answered as the first time.
pub async fn delete(
    db: &Db,
    events: &Events,
    member: &Membership,
    project: ProjectId,
    task: TaskId,
) -> Result<(), ApiError> {
    member.require(Role::Member)?;
    let (team, user) = (member.team(), member.user());
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    // As project patches: queued on the team's lock, so concurrent patches merge rather than overwrite.
    db.lock_team(&mut tx, &team.to_string()).await?;
    require_project(&mut tx, team, project).await?;
    let row = fetch_row(&mut tx, team, project, task).await?;
    if row.deleted_at.is_some() {
        tx.commit().await?;
        return Ok(());
    }
    sqlx::query("UPDATE project_tasks SET deleted_at = $1 WHERE id = $2")
        .bind(now)
        .bind(task.to_string())
        .execute(&mut *tx)
        .await?;
    let entry = Entry {
        project,
        task: Some(task),
        field: HistoryField::TaskDeleted,
        old_value: Some(row.title),
        new_value: None,
        outcome: ChangeOutcome::Applied,
        by: user,
        at: now,
    };
    history::record(&mut tx, entry).await?;
    tx.commit().await?;
    events.publish(Event::TaskDeleted { team, project, task }).await;
    Ok(())
}
