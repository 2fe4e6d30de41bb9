// Team settings: renaming for owners and admins, deleting for owners only and only once the team's name is
// typed exactly.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { TeamMembership } from "../../bindings";
import { answers, calls, reset } from "../../testing/fakeBindings";
import { TEAM } from "../../testing/fixtures";
import { TeamSettings } from "./TeamSettings";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const team: TeamMembership = { id: TEAM, name: "Crew", role: "owner" };
const settings = { description: "", default_project_status: "active", members_can_create_projects: true, webhook_payload_retention_days: 30 };

beforeEach(() => {
  reset();
  answers.teamSettings = settings;
});
afterEach(cleanup);

it("deletes the team only after its exact name is typed", async () => {
  const onChanged = vi.fn();
  await act(async () => render(<TeamSettings team={team} onChanged={onChanged} />));
  const confirm = screen.getByTestId("confirm-delete-team") as HTMLButtonElement;
  expect(confirm.disabled).toBe(true);
  fireEvent.change(screen.getByTestId("delete-team-name"), { target: { value: "crew" } });
  expect(confirm.disabled).toBe(true);
  fireEvent.change(screen.getByTestId("delete-team-name"), { target: { value: "Crew" } });
  expect(confirm.disabled).toBe(false);
  await act(async () => confirm.click());
  expect(calls.find(([name]) => name === "deleteTeam")).toEqual(["deleteTeam", TEAM]);
  expect(onChanged).toHaveBeenCalledWith(true);
});

it("renames for admins, and offers no delete to anyone but owners", async () => {
  const onChanged = vi.fn();
  await act(async () => render(<TeamSettings team={{ ...team, role: "admin" }} onChanged={onChanged} />));
  expect(screen.queryByTestId("delete-team")).toBeNull();
  fireEvent.change(screen.getByTestId("team-name"), { target: { value: "  Crew two " } });
  await act(async () => screen.getByTestId("save-team-name").click());
  expect(calls.find(([name]) => name === "renameTeam")).toEqual(["renameTeam", TEAM, "Crew two"]);
  expect(onChanged).toHaveBeenCalledWith(false);
  cleanup();
  await act(async () => render(<TeamSettings team={{ ...team, role: "member" }} />));
  expect(screen.queryByTestId("rename-team")).toBeNull();
  expect(screen.queryByTestId("delete-team")).toBeNull();
});
