//! Projects as the node offers them: per-field edits and task changes queued in the outbox (so they work
//! offline and merge on the relay), reads through the cache with queued changes laid over them, the
//! project's history, and the cache kept current from room frames.
//!
//! Each queued edit carries the field versions it was made on (`base`), taken from what this device last
//! saw; when one is delivered, the device's later queued edits of the same fields are moved onto the new
//! versions, so a device's own edits follow each other instead of competing.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use teamflow_protocol::api::projects::{ProjectChange, ProjectPatch, Task, TaskInput, TaskPatch, TaskVersions};
use teamflow_protocol::api::teams::Project;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{ProjectId, TaskId, TeamId};

use crate::outbox::OutboxEntry;
use crate::{Node, NodeError};

/// A queued edit of a project or of its task list, as the outbox stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum ProjectEdit {
    Patch(QueuedProjectPatch),
    TaskCreate(QueuedTaskCreate),
    TaskPatch(QueuedTaskPatch),
    TaskDelete(QueuedTaskDelete),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueuedProjectPatch {
    pub project_id: ProjectId,
    pub patch: ProjectPatch,
    /// What the outbox shows: the project's name.
    pub label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueuedTaskCreate {
    pub project_id: ProjectId,
    pub task: TaskInput,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueuedTaskPatch {
    pub project_id: ProjectId,
    pub task_id: TaskId,
    pub patch: TaskPatch,
    /// The task's title.
    pub label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueuedTaskDelete {
    pub project_id: ProjectId,
    pub task_id: TaskId,
    pub label: String,
}

impl ProjectEdit {
    pub(crate) fn label(&self) -> &str {
        match self {
            ProjectEdit::Patch(p) => &p.label,
            ProjectEdit::TaskCreate(t) => &t.task.title,
            ProjectEdit::TaskPatch(t) => &t.label,
            ProjectEdit::TaskDelete(t) => &t.label,
        }
    }

    fn project(&self) -> ProjectId {
        match self {
            ProjectEdit::Patch(p) => p.project_id,
            ProjectEdit::TaskCreate(t) => t.project_id,
            ProjectEdit::TaskPatch(t) => t.project_id,
            ProjectEdit::TaskDelete(t) => t.project_id,
        }
    }

    /// Where and how the relay takes it.
    pub(crate) fn request(&self, team: &str) -> (Method, String) {
        let project = self.project();
        let base = format!("/api/teams/{team}/projects/{project}");
        match self {
            ProjectEdit::Patch(_) => (Method::PATCH, base),
            ProjectEdit::TaskCreate(_) => (Method::POST, format!("{base}/tasks")),
            ProjectEdit::TaskPatch(t) => (Method::PATCH, format!("{base}/tasks/{}", t.task_id)),
            ProjectEdit::TaskDelete(t) => (Method::DELETE, format!("{base}/tasks/{}", t.task_id)),
        }
    }
}

/// What the relay answered to a delivered edit, to keep in the cache.
#[derive(Debug)]
pub(crate) enum EditAnswer {
    Project(Project),
    Task(Task),
    Deleted,
}

fn projects_key(team: TeamId) -> String {
    format!("/api/teams/{team}/projects")
}

/// Where the views of one project are kept (its tasks, its history): what a deleted project leaves.
fn project_views(team: TeamId, project: ProjectId) -> String {
    format!("/api/teams/{team}/projects/{project}/")
}

/// Deletes what this device kept of deleted projects, besides the team's list: their own views and their
/// search entries (in the caller's transaction, erasing: the relay erased them).
async fn forget_projects(tx: &mut SqliteConnection, team: TeamId, projects: &[ProjectId]) -> Result<(), NodeError> {
    for project in projects {
        crate::store::forget_views_under(tx, &project_views(team, *project)).await?;
        crate::search::remove(tx, "project", team, &project.to_string()).await?;
    }
    Ok(())
}

fn tasks_key(team: TeamId, project: ProjectId) -> String {
    format!("/api/teams/{team}/projects/{project}/tasks")
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

/// Lays a queued project patch over a project as this device shows it (versions stay as the relay said).
fn apply_patch(project: &mut Project, patch: &ProjectPatch) {
    if let Some(name) = &patch.name {
        project.name = name.trim().to_owned();
    }
    if let Some(description) = &patch.description {
        project.description = description.trim().to_owned();
    }
    if let Some(status) = patch.status {
        project.status = status;
    }
    if let Some(document) = &patch.document_id {
        project.document_id = document.as_deref().and_then(|d| d.parse().ok());
    }
    if let Some(owner) = patch.owner_id {
        project.owner_id = owner;
    }
    if let Some(date) = &patch.due_date {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        project.due_date = date.as_deref().and_then(|d| time::Date::parse(d.trim(), format).ok());
    }
}

fn apply_task_patch(task: &mut Task, patch: &TaskPatch) {
    if let Some(title) = &patch.title {
        task.title = title.trim().to_owned();
    }
    if let Some(done) = patch.done {
        task.done = done;
    }
    if let Some(assignee) = patch.assignee_id {
        task.assignee_id = assignee;
    }
}

/// A cached list under `key`, changed by `change` in the caller's transaction (nothing when none is kept).
async fn change_kept_list<T: Serialize + serde::de::DeserializeOwned>(
    db: &mut SqliteConnection,
    key: &str,
    change: impl FnOnce(&mut Vec<T>),
) -> Result<(), NodeError> {
    let json: Option<String> =
        sqlx::query_scalar("SELECT json FROM cached_views WHERE key = ?").bind(key).fetch_optional(&mut *db).await?;
    let Some(json) = json else { return Ok(()) };
    let mut list: Vec<T> = serde_json::from_str(&json).map_err(NodeError::corrupt)?;
    change(&mut list);
    sqlx::query("UPDATE cached_views SET json = ? WHERE key = ?")
        .bind(serde_json::to_string(&list).map_err(NodeError::corrupt)?)
        .bind(key)
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// Puts `project` in its team's cached list (replacing the one with its id), if a list is kept.
pub(crate) async fn keep_project(db: &mut SqliteConnection, project: &Project) -> Result<(), NodeError> {
    change_kept_list(db, &projects_key(project.team_id), |list: &mut Vec<Project>| {
        match list.iter_mut().find(|p| p.id == project.id) {
            Some(kept) => *kept = project.clone(),
            None => list.push(project.clone()),
        }
    })
    .await
}

async fn keep_task(db: &mut SqliteConnection, task: &Task) -> Result<(), NodeError> {
    change_kept_list(db, &tasks_key(task.team_id, task.project_id), |list: &mut Vec<Task>| {
        let at = list.iter().position(|t| t.id == task.id);
        match (at, task.deleted) {
            (Some(at), true) => {
                list.remove(at);
            }
            (Some(at), false) => list[at] = task.clone(),
            (None, false) => list.push(task.clone()),
            (None, true) => {}
        }
    })
    .await
}

async fn forget_task(
    db: &mut SqliteConnection,
    team: TeamId,
    project: ProjectId,
    task: TaskId,
) -> Result<(), NodeError> {
    change_kept_list(db, &tasks_key(team, project), |list: &mut Vec<Task>| list.retain(|t| t.id != task)).await
}

/// Keeps the relay's answer to a delivered edit (unless `keep` is false: its team was forgotten since it was
/// sent) and moves this device's later queued edits of the same fields onto the versions it made, in the
/// transaction that removes the delivered entry. An edit that lost is not followed: the later edits stay
/// concurrent with the winner, as they were made.
pub(crate) async fn after_delivery(
    db: &mut SqliteConnection,
    position: i64,
    edit: &ProjectEdit,
    answer: &EditAnswer,
    keep: bool,
) -> Result<(), NodeError> {
    match (edit, answer) {
        (ProjectEdit::Patch(sent), EditAnswer::Project(project)) => {
            if keep {
                keep_project(db, project).await?;
            }
            let mut shown = project.clone();
            apply_patch(&mut shown, &sent.patch);
            let took = |field: &str| match field {
                "name" => shown.name == project.name,
                "description" => shown.description == project.description,
                "status" => shown.status == project.status,
                "document_id" => shown.document_id == project.document_id,
                "owner_id" => shown.owner_id == project.owner_id,
                _ => shown.due_date == project.due_date,
            };
            let Some(sent_base) = sent.patch.base else { return Ok(()) };
            rebase(db, position, "project_patch", |later: &mut ProjectEdit| {
                let ProjectEdit::Patch(later) = later else { return };
                if later.project_id != sent.project_id {
                    return;
                }
                let (now, p) = (project.versions, &sent.patch);
                if let Some(base) = later.patch.base.as_mut() {
                    let follow = |present: bool, field: &str, b: &mut i64, sent_b: i64, now_v: i64| {
                        if present && *b == sent_b && took(field) {
                            *b = now_v;
                        }
                    };
                    follow(p.name.is_some(), "name", &mut base.name, sent_base.name, now.name);
                    follow(
                        p.description.is_some(),
                        "description",
                        &mut base.description,
                        sent_base.description,
                        now.description,
                    );
                    follow(p.status.is_some(), "status", &mut base.status, sent_base.status, now.status);
                    follow(
                        p.document_id.is_some(),
                        "document_id",
                        &mut base.document_id,
                        sent_base.document_id,
                        now.document_id,
                    );
                    follow(p.owner_id.is_some(), "owner_id", &mut base.owner_id, sent_base.owner_id, now.owner_id);
                    follow(p.due_date.is_some(), "due_date", &mut base.due_date, sent_base.due_date, now.due_date);
                }
            })
            .await
        }
        (ProjectEdit::TaskCreate(_), EditAnswer::Task(task)) if keep => keep_task(db, task).await,
        (ProjectEdit::TaskPatch(sent), EditAnswer::Task(task)) => {
            if keep {
                keep_task(db, task).await?;
            }
            let mut shown = task.clone();
            apply_task_patch(&mut shown, &sent.patch);
            let sent_base = sent.patch.base.unwrap_or_default();
            let p = &sent.patch;
            rebase(db, position, "task_update", |later: &mut ProjectEdit| {
                let ProjectEdit::TaskPatch(later) = later else { return };
                if later.task_id != sent.task_id {
                    return;
                }
                let base = later.patch.base.get_or_insert_with(TaskVersions::default);
                if p.title.is_some() && base.title == sent_base.title && shown.title == task.title {
                    base.title = task.versions.title;
                }
                if p.done.is_some() && base.done == sent_base.done && shown.done == task.done {
                    base.done = task.versions.done;
                }
                if p.assignee_id.is_some()
                    && base.assignee_id == sent_base.assignee_id
                    && shown.assignee_id == task.assignee_id
                {
                    base.assignee_id = task.versions.assignee_id;
                }
            })
            .await
        }
        (ProjectEdit::TaskDelete(sent), _) => {
            let team: String = sqlx::query_scalar("SELECT team_id FROM outbox WHERE position = ?")
                .bind(position)
                .fetch_one(&mut *db)
                .await?;
            let team: TeamId = team.parse().map_err(|e: uuid::Error| NodeError::Corrupt(e.to_string()))?;
            forget_task(db, team, sent.project_id, sent.task_id).await
        }
        _ => Ok(()),
    }
}

/// Rewrites the pending outbox entries of `kind` queued after `position` with `change`.
async fn rebase(
    db: &mut SqliteConnection,
    position: i64,
    kind: &str,
    mut change: impl FnMut(&mut ProjectEdit),
) -> Result<(), NodeError> {
    let later: Vec<(i64, String)> = sqlx::query_as(
        "SELECT position, body_json FROM outbox WHERE kind = ? AND position > ? AND state = 'pending' ORDER BY position",
    )
    .bind(kind)
    .bind(position)
    .fetch_all(&mut *db)
    .await?;
    for (at, json) in later {
        let mut edit = crate::outbox::decode_edit(kind, &json)?;
        change(&mut edit);
        sqlx::query("UPDATE outbox SET body_json = ? WHERE position = ?")
            .bind(serde_json::to_string(&edit).map_err(NodeError::corrupt)?)
            .bind(at)
            .execute(&mut *db)
            .await?;
    }
    Ok(())
}

impl Node {
    /// A team's projects (the last known list while offline, with this device's queued edits laid over it;
    /// queued creates are in `outbox`).
    pub async fn projects(&self, team: TeamId) -> Result<Vec<Project>, NodeError> {
        let key = projects_key(team);
        let asked = self.asking();
        let kept: Option<Vec<Project>> = self.kept_view(&key).await?;
        // `read_through`, but a project deleted since the list was kept takes what this device kept of it
        // along (its tasks and history), erased, as the room's frame of its deletion would have.
        let mut projects = match self.authed::<(), Vec<Project>>(Method::GET, &key, None).await {
            Ok(fresh) => {
                let gone: Vec<ProjectId> =
                    kept.iter().flatten().map(|old| old.id).filter(|id| !fresh.iter().any(|p| p.id == *id)).collect();
                if gone.is_empty() {
                    self.keep_view(&key, &fresh, asked).await?;
                } else {
                    self.keep_view_erasing(&key, &fresh, asked, async |tx| forget_projects(tx, team, &gone).await)
                        .await?;
                }
                fresh
            }
            Err(NodeError::Api(e)) if e.is_transient() => kept.ok_or(NodeError::NotCached(e))?,
            Err(e) => return Err(e),
        };
        self.index_projects(&projects, asked).await?;
        for edit in self.queued_edits(team).await? {
            if let ProjectEdit::Patch(queued) = edit
                && let Some(project) = projects.iter_mut().find(|p| p.id == queued.project_id)
            {
                apply_patch(project, &queued.patch);
            }
        }
        Ok(projects)
    }

    /// Queues an edit of the fields `patch` names (committed locally first), made on the versions this
    /// device last saw, then tries to deliver the queue. Works offline; the relay merges it per field.
    pub async fn patch_project(
        &self,
        team: TeamId,
        project: ProjectId,
        mut patch: ProjectPatch,
    ) -> Result<OutboxEntry, NodeError> {
        let kept: Option<Vec<Project>> = self.kept_view(&projects_key(team)).await?;
        let seen = kept.and_then(|list| list.into_iter().find(|p| p.id == project));
        let client_id = uuid::Uuid::now_v7().to_string();
        patch.base = seen.as_ref().map(|p| p.versions);
        patch.client_id = Some(client_id.clone());
        patch.edited_at = Some(now());
        let label = patch.name.clone().or_else(|| seen.map(|p| p.name)).unwrap_or_default();
        let edit = ProjectEdit::Patch(QueuedProjectPatch { project_id: project, patch, label });
        self.enqueue_edit(client_id, team, edit).await
    }

    /// A project's tasks (the last known list while offline, with this device's queued changes laid over it).
    pub async fn tasks(&self, team: TeamId, project: ProjectId) -> Result<Vec<Task>, NodeError> {
        let key = tasks_key(team, project);
        let mut tasks: Vec<Task> = match self.read_through(&key).await {
            Ok(tasks) => tasks,
            // Never read, but this device made some offline: those show.
            Err(NodeError::NotCached(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        let me = self.user().await.ok_or(NodeError::SignedOut)?.id;
        for edit in self.queued_edits(team).await? {
            match edit {
                ProjectEdit::TaskCreate(queued) if queued.project_id == project => {
                    let id = queued.task.id.unwrap_or_default();
                    if !tasks.iter().any(|t| t.id == id) {
                        tasks.push(Task {
                            id,
                            project_id: project,
                            team_id: team,
                            title: queued.task.title.trim().to_owned(),
                            done: queued.task.done,
                            assignee_id: queued.task.assignee_id,
                            created_by: me,
                            created_at: now(),
                            versions: TaskVersions::default(),
                            deleted: false,
                        });
                    }
                }
                ProjectEdit::TaskPatch(queued) if queued.project_id == project => {
                    if let Some(task) = tasks.iter_mut().find(|t| t.id == queued.task_id) {
                        apply_task_patch(task, &queued.patch);
                    }
                }
                ProjectEdit::TaskDelete(queued) if queued.project_id == project => {
                    tasks.retain(|t| t.id != queued.task_id);
                }
                _ => {}
            }
        }
        Ok(tasks)
    }

    /// Queues adding a task under an id chosen here, so it can be edited before the relay has it.
    pub async fn create_task(
        &self,
        team: TeamId,
        project: ProjectId,
        mut task: TaskInput,
    ) -> Result<(TaskId, OutboxEntry), NodeError> {
        let id = *task.id.get_or_insert_with(TaskId::new);
        let edit = ProjectEdit::TaskCreate(QueuedTaskCreate { project_id: project, task });
        Ok((id, self.enqueue_edit(uuid::Uuid::now_v7().to_string(), team, edit).await?))
    }

    /// Queues an edit of a task's fields, made on the versions this device last saw.
    pub async fn patch_task(
        &self,
        team: TeamId,
        project: ProjectId,
        task: TaskId,
        mut patch: TaskPatch,
    ) -> Result<OutboxEntry, NodeError> {
        let kept: Option<Vec<Task>> = self.kept_view(&tasks_key(team, project)).await?;
        let seen = kept.and_then(|list| list.into_iter().find(|t| t.id == task));
        let client_id = uuid::Uuid::now_v7().to_string();
        // A task this device has not seen from the relay was made here, offline: its fields are at version 0.
        patch.base = Some(seen.as_ref().map(|t| t.versions).unwrap_or_default());
        patch.client_id = Some(client_id.clone());
        patch.edited_at = Some(now());
        let label = patch.title.clone().or_else(|| seen.map(|t| t.title)).unwrap_or_default();
        let edit = ProjectEdit::TaskPatch(QueuedTaskPatch { project_id: project, task_id: task, patch, label });
        self.enqueue_edit(client_id, team, edit).await
    }

    /// Queues deleting a task.
    pub async fn delete_task(&self, team: TeamId, project: ProjectId, task: TaskId) -> Result<OutboxEntry, NodeError> {
        let kept: Option<Vec<Task>> = self.kept_view(&tasks_key(team, project)).await?;
        let label = kept.and_then(|list| list.into_iter().find(|t| t.id == task)).map(|t| t.title).unwrap_or_default();
        let edit = ProjectEdit::TaskDelete(QueuedTaskDelete { project_id: project, task_id: task, label });
        self.enqueue_edit(uuid::Uuid::now_v7().to_string(), team, edit).await
    }

    /// A project's history, newest first (the last known one while offline).
    pub async fn project_history(&self, team: TeamId, project: ProjectId) -> Result<Vec<ProjectChange>, NodeError> {
        self.read_through(&format!("/api/teams/{team}/projects/{project}/history")).await
    }

    /// Deletes a project (admins and owners; needs the relay), and what this device kept of it.
    pub async fn delete_project(&self, team: TeamId, project: ProjectId) -> Result<(), NodeError> {
        let path = format!("/api/teams/{team}/projects/{project}");
        let _: serde_json::Value = self.authed::<(), _>(Method::DELETE, &path, None).await?;
        self.forget_deleted_project(team, project).await
    }

    /// Erases what this device kept of a deleted project, as the relay erased it: its place in the team's
    /// list (description included), its tasks, history and search entries.
    async fn forget_deleted_project(&self, team: TeamId, project: ProjectId) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        crate::store::erasing(&mut tx, async |tx| {
            change_kept_list(&mut *tx, &projects_key(team), |list: &mut Vec<Project>| {
                list.retain(|p| p.id != project);
            })
            .await?;
            forget_projects(tx, team, &[project]).await
        })
        .await?;
        tx.commit().await?;
        self.log_emptier.request();
        Ok(())
    }

    /// Keeps what a room frame says of projects and tasks in the cache, so what this device shows, and the
    /// versions its next edit is made on, are current.
    pub(crate) async fn remember_project_frame(&self, frame: &ServerMessage) -> Result<(), NodeError> {
        if let ServerMessage::ProjectDeleted { team_id, project_id } = frame {
            return self.forget_deleted_project(*team_id, *project_id).await;
        }
        let mut tx = crate::store::begin_write(&self.db).await?;
        match frame {
            ServerMessage::ProjectUpdated { project } => keep_project(&mut tx, project).await?,
            ServerMessage::TaskUpdated { task } => keep_task(&mut tx, task).await?,
            ServerMessage::TaskDeleted { team_id, project_id, task_id } => {
                forget_task(&mut tx, *team_id, *project_id, *task_id).await?;
            }
            _ => return Ok(()),
        }
        tx.commit().await?;
        Ok(())
    }
}
