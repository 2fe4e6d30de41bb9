// A team's projects: status at a glance, create and edit (offline too, through the outbox; edits merge
// per field on the relay), open one for its owner, due date, tasks and history, and open its document.
import { type FormEvent, useEffect, useRef, useState } from "react";
import { commands, events, type OutboxEntry, type Project, type ProjectPatch, type ProjectStatus, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { subscribe } from "../../lib/events";
import { ErrorLine } from "../../lib/ErrorLine";
import { sendClearing } from "../../lib/entry";
import { useLatest } from "../../lib/latest";
import { useReconnects } from "../../lib/reconnects";
import { projectList } from "../../lib/team/live";
import { loadMembers, loadProjects, projectChanged, useTeam } from "../../lib/team/store";
import { withPatch } from "./model";
import { ProjectDetails } from "./ProjectDetails";

const STATUSES: ProjectStatus[] = ["planned", "active", "paused", "completed", "archived"];

type Props = {
  team: TeamMembership;
  onOpenDocument: (url: string) => void;
  /** A project opened from search: its details open, and it is brought into view once listed. */
  focusProject?: string | null;
  /** The project opened from search is in view: coming back to the screen later does not open it again. */
  onFocused?: () => void;
};

export function Projects({ team, onOpenDocument, focusProject = null, onFocused }: Props) {
  const live = useTeam(team.id);
  const projects = projectList(live);
  const [queued, setQueued] = useState<OutboxEntry[]>([]);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  // What an action the person took met (kept until the next action), and why the list could not be read
  // (cleared by the next read that succeeds): a reload never hides a refusal not yet read.
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  // Whether the list was read: only then can it say there are no projects.
  const [read, setRead] = useState(false);
  const [editing, setEditing] = useState<{ id: string; name: string; description: string } | null>(null);
  const canEdit = team.role !== "viewer";
  // A member may create projects only where the team's settings let members; until they are read (or
  // when they cannot be), the form is offered and the relay decides.
  const [membersCreate, setMembersCreate] = useState(true);
  const canCreate = canEdit && (team.role !== "member" || membersCreate);
  // The relay lets admins and owners delete; the room's project_deleted takes it off every list.
  const canDelete = team.role === "admin" || team.role === "owner";
  const [deleting, setDeleting] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(focusProject);

  async function remove(project: Project) {
    setError(null);
    try {
      await call(commands.deleteProject(team.id, project.id));
      setDeleting(null);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  // Only the latest read decides the notice: an earlier one failing late must not bring it back.
  const latest = useLatest();
  const load = () => {
    latest(loadProjects(team.id)).then(
      () => {
        setLoadError(null);
        setRead(true);
      },
      (e) => setLoadError(messageOf(e)),
    );
    // Owners and assignees are chosen from the roster.
    loadMembers(team.id).catch(() => {});
    if (team.role === "member") {
      call(commands.teamSettings(team.id)).then((settings) => setMembersCreate(settings.members_can_create_projects), () => {});
    }
    call(commands.outbox()).then((o) => setQueued(o.filter((e) => e.team_id === team.id && e.kind === "project_create")), () => {});
  };

  // Read again when the relay is back: the list may never have been read on this device.
  const reconnects = useReconnects();
  useEffect(load, [team.id, reconnects]);
  useEffect(() => {
    // Queued creates land when the relay answers, or are refused, retried or discarded: the outbox's counts
    // move, so reload.
    let counts = "";
    return subscribe(events.statusChanged, (payload) => {
      const now = `${payload.pending} ${payload.failed}`;
      if (now !== counts) {
        counts = now;
        load();
      }
    });
  }, [team.id]);

  // Another search hit while the screen is open: that project opens instead.
  useEffect(() => {
    if (focusProject) setOpen(focusProject);
  }, [focusProject]);
  // Into view once it is listed (the list may still be loading when the hit is opened).
  const list = useRef<HTMLUListElement>(null);
  const listed = projects.some((p) => p.id === focusProject);
  useEffect(() => {
    if (!focusProject || !listed) return;
    list.current?.querySelector(`[data-project-id="${focusProject}"]`)?.scrollIntoView?.({ block: "center" });
    onFocused?.();
  }, [focusProject, listed]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await sendClearing(
        [
          [name, setName],
          [description, setDescription],
        ],
        () => call(commands.createProject(team.id, { name, description, status: null, document_id: null, owner_id: null, due_date: null, client_id: null })),
      );
      load();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  /** Saves the fields named (queued through the outbox while offline), showing the change at once. */
  async function save(project: Project, patch: ProjectPatch) {
    try {
      await call(commands.patchProject(team.id, project.id, patch));
      projectChanged(team.id, withPatch(project, patch));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  function setStatus(project: Project, status: ProjectStatus) {
    void save(project, { status });
  }

  async function openDocument(project: Project) {
    try {
      onOpenDocument(await call(commands.projectDocument(team.id, project.id)));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <section className="panel">
      <h2>Projects</h2>
      <ul className="projects" data-testid="projects" ref={list}>
        {projects.map((p) => (
          <li key={p.id} data-testid="project" data-project-id={p.id} className={open === p.id ? "open" : ""}>
            {editing?.id === p.id ? (
              <form
                className="title inline"
                onSubmit={(e) => {
                  e.preventDefault();
                  void save(p, { name: editing.name, description: editing.description });
                  setEditing(null);
                }}
                onKeyDown={(e) => e.key === "Escape" && setEditing(null)}
              >
                <input value={editing.name} onChange={(e) => setEditing({ ...editing, name: e.target.value })} required maxLength={200} aria-label="Project name" data-testid="edit-project-name" />
                <input value={editing.description} onChange={(e) => setEditing({ ...editing, description: e.target.value })} aria-label="Description" />
                <button type="submit" data-testid="save-project">
                  Save
                </button>
                <button type="button" onClick={() => setEditing(null)}>
                  Cancel
                </button>
              </form>
            ) : (
              <div className="title">
                <strong>{p.name}</strong>
                {p.description && <span className="description">{p.description}</span>}
                {(p.owner_id || p.due_date) && (
                  <span className="meta" data-testid="project-meta">
                    {[p.owner_id && `Owner: ${live.members.get(p.owner_id)?.display_name ?? "a former member"}`, p.due_date && `Due ${p.due_date}`]
                      .filter(Boolean)
                      .join(" · ")}
                  </span>
                )}
              </div>
            )}
            {canEdit && editing?.id !== p.id && (
              <button onClick={() => setEditing({ id: p.id, name: p.name, description: p.description })} data-testid="edit-project">
                Edit
              </button>
            )}
            <select value={p.status} disabled={!canEdit} onChange={(e) => setStatus(p, e.target.value as ProjectStatus)} aria-label={`Status of ${p.name}`}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
            <button onClick={() => setOpen(open === p.id ? null : p.id)} aria-expanded={open === p.id} data-testid="open-project">
              {open === p.id ? "Close" : "Tasks & details"}
            </button>
            {/* A viewer may open the project's document, not create one (the relay would refuse it). */}
            {(canEdit || p.document_id) && (
              <button onClick={() => openDocument(p)} data-testid="open-project-document">
                Document
              </button>
            )}
            {canDelete &&
              (deleting === p.id ? (
                <span className="confirm">
                  Delete {p.name} for everyone?
                  <button className="danger" onClick={() => void remove(p)} data-testid="confirm-delete-project">
                    Delete
                  </button>
                  <button onClick={() => setDeleting(null)}>Cancel</button>
                </span>
              ) : (
                <button onClick={() => setDeleting(p.id)} aria-label={`Delete ${p.name}`} data-testid="delete-project">
                  Delete
                </button>
              ))}
            {open === p.id && <ProjectDetails team={team} project={p} />}
          </li>
        ))}
        {queued.map((q) => (
          <li key={q.client_id} className={q.state} data-testid="project">
            <div className="title">
              <strong>{q.content}</strong>
              <span className="marker">{q.state === "pending" ? "Waiting to sync" : `Not created: ${q.error ?? "refused"}`}</span>
            </div>
          </li>
        ))}
      </ul>
      {read && projects.length === 0 && queued.length === 0 && !loadError && <p className="empty">{canCreate ? "No projects yet. Name your first one below and press Create project." : "No projects yet."}</p>}
      {canEdit && !canCreate && (
        <p className="empty" data-testid="create-project-admins-only">
          In this team only owners and admins create projects.
        </p>
      )}
      {canCreate && (
        <form onSubmit={create} className="inline">
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="Project name" aria-label="Project name" required maxLength={200} data-testid="project-name" />
          <input value={description} onChange={(e) => setDescription(e.target.value)} placeholder="Description (optional)" aria-label="Project description" />
          <button type="submit" data-testid="create-project">
            Create project
          </button>
        </form>
      )}
      <ErrorLine error={error ?? loadError} />
    </section>
  );
}
