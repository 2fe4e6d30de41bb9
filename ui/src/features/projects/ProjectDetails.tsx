// One project opened: its owner and due date, its task list (add, tick, rename, assign, delete; all work
// offline through the node's outbox) and its history, where a value a concurrent edit overwrote, or an
// edit that lost, stays visible. Room frames about the project reload the tasks and history live.
import { type FormEvent, useEffect, useRef, useState } from "react";
import { commands, events, type Project, type ProjectChange, type ProjectPatch, type Task, type TeamMembership, type UserId } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { dateTime } from "../../lib/dates";
import { subscribe } from "../../lib/events";
import { ErrorLine } from "../../lib/ErrorLine";
import { sendClearing } from "../../lib/entry";
import { useReconnects } from "../../lib/reconnects";
import { projectChanged, useTeam } from "../../lib/team/store";
import { describeChange, parseDueDate, withPatch } from "./model";

export function ProjectDetails({ team, project }: { team: TeamMembership; project: Project }) {
  const live = useTeam(team.id);
  const members = [...live.members.values()];
  const canEdit = team.role !== "viewer";
  // Null until read: only a list that was read can say it is empty.
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [history, setHistory] = useState<ProjectChange[] | null>(null);
  const [due, setDue] = useState(project.due_date ?? "");
  const [newTask, setNewTask] = useState("");
  const [renaming, setRenaming] = useState<{ id: string; title: string } | null>(null);
  // What an action met, and why the tasks could not be read (cleared by the next read that succeeds).
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const titles = new Map((tasks ?? []).map((t) => [t.id as string, t.title]));

  // Reloads overlap (a room frame and the outbox moving, say) and their answers can arrive out of order:
  // only the latest reload's answers are shown, or an older list could stay on screen for good.
  const latestReload = useRef(0);
  const reload = () => {
    const reloading = ++latestReload.current;
    const ifLatest =
      <T,>(show: (value: T) => void) =>
      (value: T) => {
        if (reloading === latestReload.current) show(value);
      };
    call(commands.tasks(team.id, project.id)).then(
      ifLatest((read: Task[]) => {
        setTasks(read);
        setLoadError(null);
      }),
      ifLatest((e: unknown) => setLoadError(messageOf(e))),
    );
    // The history needs the relay once; offline it is the last one read, or none yet.
    call(commands.projectHistory(team.id, project.id)).then(ifLatest(setHistory), () => {});
  };

  // Read again when the relay is back too: the tasks may never have been read on this device.
  const reconnects = useReconnects();
  useEffect(reload, [team.id, project.id, reconnects]);
  useEffect(() => {
    const stopRoom = subscribe(events.roomEvent, ({ team_id, frame }) => {
      if (team_id !== team.id) return;
      const about =
        (frame.type === "task_updated" && frame.task.project_id === project.id) ||
        (frame.type === "task_deleted" && frame.project_id === project.id) ||
        (frame.type === "project_updated" && frame.project.id === project.id);
      if (about) reload();
    });
    // Queued edits land when the relay answers: the outbox count moves.
    let pending = -1;
    const stopStatus = subscribe(events.statusChanged, (status) => {
      if (status.pending !== pending) {
        pending = status.pending;
        reload();
      }
    });
    return () => {
      stopRoom();
      stopStatus();
    };
  }, [team.id, project.id]);

  useEffect(() => setDue(project.due_date ?? ""), [project.due_date]);

  async function run(action: () => Promise<unknown>) {
    setError(null);
    try {
      await action();
      reload();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  function save(patch: ProjectPatch) {
    void run(async () => {
      await call(commands.patchProject(team.id, project.id, patch));
      projectChanged(team.id, withPatch(project, patch));
    });
  }

  function saveDue(e: FormEvent) {
    e.preventDefault();
    const parsed = parseDueDate(due);
    if ("error" in parsed) {
      setError(parsed.error);
      return;
    }
    save({ due_date: parsed.date });
  }

  function addTask(e: FormEvent) {
    e.preventDefault();
    const title = newTask.trim();
    if (!title) return;
    void run(() =>
      sendClearing([[newTask, setNewTask]], () =>
        call(commands.createTask(team.id, project.id, { id: null, title, done: false, assignee_id: null })),
      ),
    );
  }

  const patchTask = (task: Task, patch: Parameters<typeof commands.patchTask>[3]) =>
    run(() => call(commands.patchTask(team.id, project.id, task.id, patch)));

  return (
    <div className="project-details" data-testid="project-details">
      <div className="project-fields">
        <label>
          Owner
          <select
            value={project.owner_id ?? ""}
            disabled={!canEdit}
            onChange={(e) => save({ owner_id: (e.target.value || null) as UserId | null })}
            data-testid="project-owner"
          >
            <option value="">Nobody</option>
            {members.map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.display_name}
              </option>
            ))}
          </select>
        </label>
        <form className="inline" onSubmit={saveDue}>
          <label>
            Due
            <input value={due} onChange={(e) => setDue(e.target.value)} placeholder="YYYY-MM-DD" disabled={!canEdit} data-testid="project-due" />
          </label>
          {canEdit && (
            <button type="submit" data-testid="save-due">
              Set date
            </button>
          )}
        </form>
      </div>
      <h3>Tasks</h3>
      <ul className="tasks" data-testid="tasks">
        {tasks?.map((task) => (
          <li key={task.id} className={task.done ? "done" : ""} data-testid="task">
            <input
              type="checkbox"
              checked={task.done}
              disabled={!canEdit}
              onChange={() => void patchTask(task, { done: !task.done })}
              aria-label={`Done: ${task.title}`}
              data-testid="task-done"
            />
            {renaming?.id === task.id ? (
              <form
                className="inline"
                onSubmit={(e) => {
                  e.preventDefault();
                  void patchTask(task, { title: renaming.title });
                  setRenaming(null);
                }}
                onKeyDown={(e) => e.key === "Escape" && setRenaming(null)}
              >
                <input value={renaming.title} onChange={(e) => setRenaming({ ...renaming, title: e.target.value })} maxLength={500} required aria-label="Task title" data-testid="task-title-input" />
                <button type="submit">Save</button>
                <button type="button" onClick={() => setRenaming(null)} data-testid="task-title-cancel">
                  Cancel
                </button>
              </form>
            ) : (
              <span className="task-title" data-testid="task-title" onDoubleClick={() => canEdit && setRenaming({ id: task.id, title: task.title })}>
                {task.title}
              </span>
            )}
            <select
              value={task.assignee_id ?? ""}
              disabled={!canEdit}
              onChange={(e) => void patchTask(task, { assignee_id: (e.target.value || null) as UserId | null })}
              aria-label={`Assignee of ${task.title}`}
              data-testid="task-assignee"
            >
              <option value="">Unassigned</option>
              {members.map((m) => (
                <option key={m.user_id} value={m.user_id}>
                  {m.display_name}
                </option>
              ))}
            </select>
            {canEdit && renaming?.id !== task.id && (
              <button onClick={() => setRenaming({ id: task.id, title: task.title })} data-testid="rename-task">
                Rename
              </button>
            )}
            {canEdit && (
              <button onClick={() => void run(() => call(commands.deleteTask(team.id, project.id, task.id)))} aria-label={`Delete ${task.title}`} data-testid="delete-task">
                Delete
              </button>
            )}
          </li>
        ))}
      </ul>
      {tasks?.length === 0 && <p className="empty">No tasks yet.</p>}
      {canEdit && (
        <form className="inline" onSubmit={addTask}>
          <input value={newTask} onChange={(e) => setNewTask(e.target.value)} placeholder="New task" maxLength={500} data-testid="new-task" />
          <button type="submit" data-testid="add-task">
            Add task
          </button>
        </form>
      )}
      <h3>History</h3>
      <ol className="changes" data-testid="project-history">
        {history?.map((change) => (
          <li key={change.id} className={change.outcome} data-testid="history-entry">
            <span>{describeChange(change, live.members, titles)}</span>
            <time dateTime={change.changed_at}>{dateTime(change.changed_at)}</time>
          </li>
        ))}
      </ol>
      {history?.length === 0 && <p className="empty">No changes yet.</p>}
      <ErrorLine error={error ?? loadError} testId="project-error" />
    </div>
  );
}
