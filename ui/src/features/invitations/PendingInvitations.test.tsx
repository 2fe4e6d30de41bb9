// The invitations waiting for the signed-in person: accepted ones join, declined ones go, stale ones say so.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { PendingInvitation, TeamMembership } from "../../bindings";
import { INVITATION_GONE } from "../../lib/invitation";
import { answers, calls, failures, reset } from "../../testing/fakeBindings";
import { pendingInvitation, refused } from "../../testing/fixtures";
import { PendingInvitations } from "./PendingInvitations";
import { NEEDS_RELAY } from "./words";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

beforeEach(reset);
afterEach(cleanup);

const onJoined = vi.fn<(team: TeamMembership) => void>();
beforeEach(() => onJoined.mockReset());

const show = () => act(async () => void render(<PendingInvitations onJoined={onJoined} />));
const rows = () => screen.queryAllByTestId("pending-invitation").map((r) => r.textContent);
const press = (testId: string, n: number) => act(async () => void fireEvent.click(screen.getAllByTestId(testId)[n]));

it("shows who invited the person to which team and role", async () => {
  answers.pendingInvitations = [pendingInvitation(1), pendingInvitation(2, { role: "viewer", inviter_name: "Bob" })];
  await show();
  expect(rows()).toEqual([
    expect.stringContaining("Ada invited you to join Team 1 as member"),
    expect.stringContaining("Bob invited you to join Team 2 as viewer"),
  ]);
});

it("accepting joins the team and hands it on; declining drops the invitation alone", async () => {
  answers.pendingInvitations = [pendingInvitation(1), pendingInvitation(2)];
  const team: TeamMembership = { id: pendingInvitation(1).team_id, name: "Team 1", role: "member" };
  answers.acceptInvitation = team;
  await show();

  await press("decline-invitation", 1);
  expect(calls).toContainEqual(["declineInvitation", pendingInvitation(2).token]);
  expect(rows()).toEqual([expect.stringContaining("Team 1")]);
  expect(onJoined).not.toHaveBeenCalled();

  await press("accept-invitation", 0);
  expect(calls).toContainEqual(["acceptInvitation", pendingInvitation(1).token]);
  expect(onJoined).toHaveBeenCalledWith(team);
  expect(screen.queryByTestId("pending-invitations")).toBeNull();
});

it("an invitation used, revoked or expired meanwhile says so and leaves the list", async () => {
  answers.pendingInvitations = [pendingInvitation(1), pendingInvitation(2)];
  failures.acceptInvitation = refused("not_found", 404);
  await show();
  await press("accept-invitation", 0);
  expect(screen.getByTestId("pending-invitations-error").textContent).toBe(INVITATION_GONE);
  expect(rows()).toEqual([expect.stringContaining("Team 2")]);
  expect(onJoined).not.toHaveBeenCalled();
});

it("a failure that is not about the invitation keeps it to try again", async () => {
  answers.pendingInvitations = [pendingInvitation(1)];
  failures.declineInvitation = { kind: "offline", message: "connection refused" };
  await show();
  await press("decline-invitation", 0);
  expect(screen.getByTestId("pending-invitations-error").textContent).toBe(NEEDS_RELAY);
  expect(rows()).toHaveLength(1);
});

it("shows nothing with none waiting, or while offline", async () => {
  await show();
  expect(screen.queryByTestId("pending-invitations")).toBeNull();
  cleanup();
  failures.pendingInvitations = { kind: "offline", message: "connection refused" };
  await show();
  expect(screen.queryByTestId("pending-invitations")).toBeNull();
});

it("looks again when the window comes back into focus", async () => {
  await show();
  answers.pendingInvitations = [pendingInvitation(3)];
  await act(async () => void window.dispatchEvent(new Event("focus")));
  expect(rows()).toEqual([expect.stringContaining("Team 3")]);
});

it("a list asked for before an answer does not bring the answered invitation back", async () => {
  answers.pendingInvitations = [pendingInvitation(1)];
  answers.acceptInvitation = { id: pendingInvitation(1).team_id, name: "Team 1", role: "member" };
  await show();
  let arrive: (list: PendingInvitation[]) => void = () => {};
  answers.pendingInvitations = () => new Promise((resolve) => (arrive = resolve));
  await act(async () => void window.dispatchEvent(new Event("focus")));
  await press("accept-invitation", 0);
  expect(onJoined).toHaveBeenCalledOnce();
  // The relay answered the look from before the accept: it still listed the invitation.
  await act(async () => arrive([pendingInvitation(1)]));
  expect(rows()).toEqual([]);
});
