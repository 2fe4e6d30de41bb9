// The project list reads the team store: loaded projects, the room's project pages and changes.
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { TeamMembership } from "../../bindings";
import { followRooms } from "../../lib/team/store";
import { answers, calls, emitRoom, reset } from "../../testing/fakeBindings";
import { joinFrames, members, project, projects, TEAM } from "../../testing/fixtures";
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
