// The project list reads the team store: loaded projects, the room's project pages and changes; a list not
// readable offline is read once the relay is back, and a refusal stays until the next action.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Task, TeamMembership } from "../../bindings";
import { followRooms } from "../../lib/team/store";
import { followLink } from "../../lib/reconnects";
import { answers, calls, emitRoom, events, failures, reset } from "../../testing/fakeBindings";
import { joinFrames, linkStatus, members, project, projects, refused, TEAM, teamSettings } from "../../testing/fixtures";
import { Projects } from "./Projects";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const team: TeamMembership = { id: TEAM, name: "crew", role: "member" };

let stop: () => void;
beforeEach(() => {
  reset();
  stop = followRooms();
});
afterEach(() => {
  cleanup();
  stop();
});

it("lists the projects of every page, oldest first, and follows deletions", async () => {
  answers.projects = projects(1, 2);
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  expect(screen.getAllByTestId("project")).toHaveLength(2);

  act(() => joinFrames(members(1, 2), projects(1, 30)).forEach((frame) => emitRoom(TEAM, frame)));
  act(() => emitRoom(TEAM, { type: "project_deleted", team_id: TEAM, project_id: project(1).id }));
  const names = screen.getAllByTestId("project").map((row) => row.querySelector("strong")?.textContent);
  expect(names).toEqual(projects(2, 30).map((p) => p.name));
});

it("lets admins delete a project after confirming; the room's deletion takes it off the list", async () => {
  answers.projects = projects(1, 2);
  await act(async () => render(<Projects team={{ ...team, role: "admin" }} onOpenDocument={() => {}} />));
  await act(async () => screen.getAllByTestId("delete-project")[0].click());
  await act(async () => screen.getByTestId("confirm-delete-project").click());
  expect(calls.find(([name]) => name === "deleteProject")).toEqual(["deleteProject", TEAM, project(1).id]);
  act(() => emitRoom(TEAM, { type: "project_deleted", team_id: TEAM, project_id: project(1).id }));
  expect(screen.getAllByTestId("project")).toHaveLength(1);
  cleanup();
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  expect(screen.queryAllByTestId("delete-project")).toHaveLength(0);
});

it("opens a project: sets owner and due date, adds and ticks tasks, refuses a bad date, reloads on the room's task frames", async () => {
  const task: Task = { id: "0190f1e2-0000-7000-a000-000000000001", project_id: project(1).id, team_id: TEAM, title: "Write", done: false, assignee_id: null, created_by: members(1, 1)[0].user_id, created_at: "", versions: { title: 0, done: 0, assignee_id: 0 }, deleted: false };
  answers.projects = projects(1, 1);
  answers.members = members(1, 2);
  answers.tasks = [task];
  answers.projectHistory = [];
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  await act(async () => screen.getByTestId("open-project").click());
  expect(screen.getAllByTestId("task").map((t) => t.textContent)).toEqual([expect.stringContaining("Write")]);

  await act(async () => screen.getAllByTestId("task-done")[0].click());
  expect(calls.find(([name]) => name === "patchTask")).toEqual(["patchTask", TEAM, project(1).id, task.id, { done: true }]);

  const due = screen.getByTestId("project-due") as HTMLInputElement;
  await act(async () => {
    fireEvent.change(due, { target: { value: "2027-02-30" } });
    screen.getByTestId("save-due").click();
  });
  expect(screen.getByText("2027-02-30 is not a day of the calendar.")).toBeTruthy();
  expect(calls.some(([name]) => name === "patchProject")).toBe(false);
  await act(async () => {
    fireEvent.change(due, { target: { value: "2027-03-31" } });
    screen.getByTestId("save-due").click();
  });
  expect(calls.find(([name]) => name === "patchProject")).toEqual(["patchProject", TEAM, project(1).id, { due_date: "2027-03-31" }]);
  expect(screen.getByTestId("project-meta").textContent).toBe("Due 2027-03-31");

  const fromBob = { ...task, id: "0190f1e2-0000-7000-a000-000000000002", title: "From Bob" };
  answers.tasks = [{ ...task, done: true }, fromBob];
  await act(async () => emitRoom(TEAM, { type: "task_updated", task: fromBob }));
  expect(screen.getAllByTestId("task-title").map((t) => t.textContent)).toEqual(["Write", "From Bob"]);
});

it("shows the latest reload's tasks when an older reload answers after it", async () => {
  const task = (n: number, title: string): Task => ({ id: `0190f1e2-0000-7000-a000-00000000000${n}`, project_id: project(1).id, team_id: TEAM, title, done: false, assignee_id: null, created_by: members(1, 1)[0].user_id, created_at: "", versions: { title: 0, done: 0, assignee_id: 0 }, deleted: false });
  answers.projects = projects(1, 1);
  answers.members = members(1, 2);
  answers.projectHistory = [];
  answers.tasks = [task(1, "Write")];
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  await act(async () => screen.getByTestId("open-project").click());

  // Two reloads in flight; the first (without the new task) answers last.
  const pending: ((tasks: Task[]) => void)[] = [];
  answers.tasks = () => new Promise<Task[]>((resolve) => pending.push(resolve));
  const frame = { type: "task_updated", team_id: TEAM, task: task(2, "Fonts") } as const;
  act(() => emitRoom(TEAM, frame));
  act(() => emitRoom(TEAM, frame));
  expect(pending).toHaveLength(2);
  await act(async () => pending[1]([task(1, "Write"), task(2, "Fonts")]));
  await act(async () => pending[0]([task(1, "Write")]));
  expect(screen.getAllByTestId("task").map((t) => t.textContent)).toEqual([
    expect.stringContaining("Write"),
    expect.stringContaining("Fonts"),
  ]);
});

it("reads the list once the relay is back, claims no empty list meanwhile, and keeps a refusal through reloads", async () => {
  answers.status = linkStatus("connecting");
  const stopLink = await act(async () => followLink());
  failures.projects = { kind: "not_cached" };
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  expect(screen.getByRole("alert").textContent).toBe("Not available offline yet: connect once to fetch it.");
  expect(screen.queryByText(/No projects yet/)).toBeNull();

  delete failures.projects;
  answers.projects = projects(1, 2);
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  expect(screen.queryByRole("alert")).toBeNull();
  expect(screen.getAllByTestId("project")).toHaveLength(2);

  // A refused create is shown, and a reload (the outbox moving) does not take it away.
  failures.createProject = refused("validation_failed");
  fireEvent.change(screen.getByTestId("project-name"), { target: { value: "Launch" } });
  await act(async () => fireEvent.submit(screen.getByTestId("project-name").closest("form")!));
  const refusal = screen.getByRole("alert").textContent;
  expect(refusal).toBeTruthy();
  await act(async () => events.statusChanged.emit({ ...linkStatus("online"), pending: 1 }));
  expect(screen.getByRole("alert").textContent).toBe(refusal);
  stopLink();
});

it("a project opened offline before its tasks and history were read claims neither is empty", async () => {
  answers.projects = projects(1, 1);
  answers.members = members(1, 2);
  failures.tasks = { kind: "not_cached" };
  failures.projectHistory = { kind: "not_cached" };
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  await act(async () => screen.getByTestId("open-project").click());
  expect(screen.getByTestId("project-error").textContent).toBe("Not available offline yet: connect once to fetch it.");
  expect(screen.queryByText("No tasks yet.")).toBeNull();
  expect(screen.queryByText("No changes yet.")).toBeNull();
});

it("offers a viewer only a document the project already has", async () => {
  answers.projects = [project(1), { ...project(2), document_id: "automerge:doc2" }];
  await act(async () => render(<Projects team={{ ...team, role: "viewer" }} onOpenDocument={() => {}} />));
  const offers = screen.getAllByTestId("project").map((row) => row.querySelector("[data-testid=open-project-document]") !== null);
  expect(offers).toEqual([false, true]);
});

it("a refused create discarded elsewhere leaves the list as the outbox's counts move", async () => {
  answers.projects = [];
  answers.outbox = [{ client_id: "c1", team_id: TEAM, kind: "project_create", content: "Side quest", state: "failed", error_code: "forbidden", error: "only admins" }];
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  expect(screen.getByTestId("project").textContent).toContain("Not created: only admins");
  await act(async () => events.statusChanged.emit({ ...linkStatus("online"), failed: 1 }));
  answers.outbox = [];
  await act(async () => events.statusChanged.emit({ ...linkStatus("online"), failed: 0 }));
  expect(screen.queryByTestId("project")).toBeNull();
});

it("a project opened from search has its details open", async () => {
  answers.projects = projects(1, 2);
  answers.members = members(1, 2);
  answers.tasks = [];
  answers.projectHistory = [];
  const focused = vi.fn();
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} focusProject={project(2).id} onFocused={focused} />));
  const opened = screen.getAllByTestId("project").map((row) => row.querySelector("[data-testid=tasks]") !== null);
  expect(opened).toEqual([false, true]);
  expect(focused).toHaveBeenCalledOnce(); // the workspace then forgets the hit: the next visit opens nothing by itself
});

it("Escape leaves a project's or a task's rename without saving, as the shortcuts say", async () => {
  const task: Task = { id: "0190f1e2-0000-7000-a000-000000000001", project_id: project(1).id, team_id: TEAM, title: "Write", done: false, assignee_id: null, created_by: members(1, 1)[0].user_id, created_at: "", versions: { title: 0, done: 0, assignee_id: 0 }, deleted: false };
  answers.projects = projects(1, 1);
  answers.members = members(1, 2);
  answers.tasks = [task];
  answers.projectHistory = [];
  await act(async () => render(<Projects team={{ ...team, role: "admin" }} onOpenDocument={() => {}} />));

  await act(async () => screen.getByTestId("edit-project").click());
  fireEvent.change(screen.getByTestId("edit-project-name"), { target: { value: "Not this" } });
  await act(async () => void fireEvent.keyDown(screen.getByTestId("edit-project-name"), { key: "Escape" }));
  expect(screen.queryByTestId("edit-project-name")).toBeNull();

  await act(async () => screen.getByTestId("open-project").click());
  await act(async () => screen.getByTestId("rename-task").click());
  fireEvent.change(screen.getByTestId("task-title-input"), { target: { value: "Nor this" } });
  await act(async () => void fireEvent.keyDown(screen.getByTestId("task-title-input"), { key: "Escape" }));
  expect(screen.queryByTestId("task-title-input")).toBeNull();
  await act(async () => screen.getByTestId("rename-task").click());
  await act(async () => screen.getByTestId("task-title-cancel").click());
  expect(screen.queryByTestId("task-title-input")).toBeNull();
  expect(calls.some(([name]) => name === "patchProject" || name === "patchTask")).toBe(false);
});

it("says there are no projects only once the list was read", async () => {
  let answer!: (list: ReturnType<typeof projects>) => void;
  answers.projects = () => new Promise((resolve) => (answer = resolve));
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  expect(screen.queryByText(/No projects yet/)).toBeNull();
  await act(async () => answer([]));
  expect(screen.getByText(/No projects yet/)).toBeTruthy();
});

it("offers a member the create form only where the team's settings let members create projects", async () => {
  answers.projects = projects(1, 1);
  answers.teamSettings = teamSettings({ members_can_create_projects: false });
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  expect(screen.queryByTestId("create-project")).toBeNull();
  expect(screen.getByTestId("create-project-admins-only").textContent).toContain("only owners and admins");
  cleanup();
  // An admin always may; and a member where members may.
  await act(async () => render(<Projects team={{ ...team, role: "admin" }} onOpenDocument={() => {}} />));
  expect(screen.getByTestId("create-project")).toBeTruthy();
  cleanup();
  answers.teamSettings = teamSettings();
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  expect(screen.getByTestId("create-project")).toBeTruthy();
});

it("starts the next task as soon as one is added: what is typed while it is saved is kept", async () => {
  answers.projects = projects(1, 1);
  answers.members = members(1, 2);
  answers.tasks = [];
  answers.projectHistory = [];
  await act(async () => render(<Projects team={team} onOpenDocument={() => {}} />));
  await act(async () => screen.getByTestId("open-project").click());
  let saved!: () => void;
  answers.createTask = () => new Promise<void>((resolve) => (saved = () => resolve()));
  const input = screen.getByTestId("new-task") as HTMLInputElement;
  act(() => void fireEvent.change(input, { target: { value: "Write the copy" } }));
  await act(async () => void fireEvent.submit(input.closest("form")!));
  expect(input.value).toBe("");
  act(() => void fireEvent.change(input, { target: { value: "P" } }));
  await act(async () => saved());
  expect(input.value).toBe("P");
  expect(calls.filter(([name]) => name === "createTask").map((c) => (c[3] as { title: string }).title)).toEqual(["Write the copy"]);
});
