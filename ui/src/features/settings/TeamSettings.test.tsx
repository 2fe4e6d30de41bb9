// Team settings: renaming for owners and admins, deleting for owners only and only once the team's name is
// typed exactly; settings that could not be read offline are read once the relay is back, and settings being
// edited are not replaced when it comes back.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { TeamMembership } from "../../bindings";
import { followLink } from "../../lib/reconnects";
import { answers, calls, events, failures, reset } from "../../testing/fakeBindings";
import { linkStatus, TEAM } from "../../testing/fixtures";
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

it("reads the settings once the relay is back, and leaves settings being edited alone when it comes back", async () => {
  answers.status = linkStatus("offline");
  const stopLink = await act(async () => followLink());
  failures.teamSettings = { kind: "not_cached" };
  await act(async () => render(<TeamSettings team={team} />));
  expect(screen.getByRole("alert").textContent).toBe("Not available offline yet: connect once to fetch it.");
  expect(screen.queryByTestId("team-settings")).toBeNull();

  delete failures.teamSettings;
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  expect(screen.queryByRole("alert")).toBeNull();
  fireEvent.change(screen.getByTestId("team-description"), { target: { value: "half typed" } });

  answers.teamSettings = { ...settings, description: "from the relay" };
  await act(async () => events.statusChanged.emit(linkStatus("connecting")));
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  expect((screen.getByTestId("team-description") as HTMLTextAreaElement).value).toBe("half typed");
  stopLink();
});
