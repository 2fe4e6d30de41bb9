//! A project's history: every change of its fields and tasks, with the values that concurrent edits
//! overwrote and the edits that lost, so a merge never loses work without a trace.

use sqlx::AnyConnection;
use teamflow_protocol::api::projects::{ChangeOutcome, HistoryField, ProjectChange};
use teamflow_protocol::{ProjectId, TaskId, UserId};

use crate::access::Membership;
use crate::db::{Db, from_ms};
use crate::error::ApiError;

/// How many entries `list` returns, newest first.
pub const HISTORY_LIMIT: i64 = 200;

/// One entry to record: `field` of `project` (or of its `task`) went from `old_value` to `new_value`, or
/// (`outcome` lost) an edit to `new_value` lost.
#[derive(Debug)]
pub(crate) struct Entry {
    pub project: ProjectId,
    pub task: Option<TaskId>,
    pub field: HistoryField,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub outcome: ChangeOutcome,
    pub by: UserId,
    pub at: i64,
}

/// Appends one entry, in the caller's transaction.
pub(crate) async fn record(db: &mut AnyConnection, entry: Entry) -> Result<(), ApiError> {
    let Entry { project, task, field, old_value, new_value, outcome, by, at } = entry;
    sqlx::query(
        "INSERT INTO project_history (project_id, task_id, field, old_value, new_value, outcome, changed_by, changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(project.to_string())
    .bind(task.map(|t| t.to_string()))
    .bind(field.as_str())
    .bind(old_value)
    .bind(new_value)
    .bind(outcome.as_str())
    .bind(by.to_string())
    .bind(at)
    .execute(&mut *db)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    #[sqlx(try_from = "String")]
    project_id: ProjectId,
    task_id: Option<String>,
    #[sqlx(try_from = "String")]
    field: HistoryField,
    old_value: Option<String>,
    new_value: Option<String>,
    #[sqlx(try_from = "String")]
    outcome: ChangeOutcome,
    #[sqlx(try_from = "String")]
    changed_by: UserId,
    changed_at: i64,
}

/// The project's latest `HISTORY_LIMIT` changes, newest first.
pub async fn list(db: &Db, member: &Membership, project: ProjectId) -> Result<Vec<ProjectChange>, ApiError> {
    let mut conn = db.pool().acquire().await?;
    super::require_project(&mut conn, member.team(), project).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, project_id, task_id, field, old_value, new_value, outcome, changed_by, changed_at
         FROM project_history WHERE project_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(project.to_string())
    .bind(HISTORY_LIMIT)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let task_id = match row.task_id {
                Some(id) => Some(id.parse().map_err(|_| ApiError::Internal(format!("task id in database: {id}")))?),
                None => None,
            };
            Ok(ProjectChange {
                id: row.id,
                project_id: row.project_id,
                task_id,
                field: row.field,
                old_value: row.old_value,
                new_value: row.new_value,
                outcome: row.outcome,
                changed_by: row.changed_by,
                changed_at: from_ms(row.changed_at),
            })
        })
        .collect()
}
