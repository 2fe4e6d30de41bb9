// The member list reads the team store (the loaded roster, presence from the room's pages, removals), and
// offers owners and admins role changes and removal within the relay's rules; anyone but the only owner leaves;
// a roster that could not be read offline is read once the relay is back.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { TeamMembership, User } from "../../bindings";
import { followLink } from "../../lib/reconnects";
import { followRooms } from "../../lib/team/store";
import { answers, calls, emitRoom, events, failures, reset } from "../../testing/fakeBindings";
import { joinFrames, linkStatus, member, members, TEAM, userId } from "../../testing/fixtures";
import { Members } from "./Members";

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

it("shows who is online beyond the first page, and drops a removed member", async () => {
  answers.members = members(1, 30);
  await act(async () => render(<Members team={team} />));
  act(() => joinFrames([...members(1, 29), member(30, true)]).forEach((frame) => emitRoom(TEAM, frame)));
  const rows = () => screen.getAllByTestId("member");
  expect(rows()).toHaveLength(30);
  expect(rows()[29].querySelector(".presence")?.className).toBe("presence on");
  expect(rows()[0].querySelector(".presence")?.className).toBe("presence off");

  act(() => emitRoom(TEAM, { type: "member_changed", team_id: TEAM, user_id: userId(30), role: null }));
  expect(rows()).toHaveLength(29);
});

it("offers Invite people to owners and admins only", async () => {
  const onInvite = vi.fn();
  await act(async () => render(<Members team={{ ...team, role: "admin" }} onInvite={onInvite} />));
  act(() => screen.getByTestId("invite-people").click());
  expect(onInvite).toHaveBeenCalledOnce();
  cleanup();
  await act(async () => render(<Members team={team} onInvite={onInvite} />));
  expect(screen.queryByTestId("invite-people")).toBeNull();
});

const owner = { ...member(1), role: "owner" as const };
const admin = { ...member(2), role: "admin" as const };
const plain = member(3);
const asUser = (n: number) => ({ id: userId(n), email: `m${n}@example.com`, display_name: `Member ${n}` });

it("lets an admin change roles up to theirs and remove people, and says why not for the owner", async () => {
  answers.members = [owner, admin, plain];
  await act(async () => render(<Members team={{ ...team, role: "admin" }} user={asUser(2)} />));
  const rows = screen.getAllByTestId("member");
  // The owner's row: no controls, and the reason in words.
  expect(rows[0].querySelector("select")).toBeNull();
  expect(rows[0].querySelector("[data-testid=remove-member]")).toBeNull();
  expect(rows[0].querySelector("[data-testid=member-why]")?.textContent).toBe("Their role is above yours.");
  // A member's row: roles up to admin, never owner.
  const select = rows[2].querySelector("select") as HTMLSelectElement;
  expect([...select.options].map((o) => o.value)).toEqual(["viewer", "member", "admin"]);
  await act(async () => fireEvent.change(select, { target: { value: "viewer" } }));
  expect(calls.find(([name]) => name === "changeRole")).toEqual(["changeRole", TEAM, userId(3), "viewer"]);
  // Removing asks first.
  await act(async () => (rows[2].querySelector("[data-testid=remove-member]") as HTMLButtonElement).click());
  expect(calls.some(([name]) => name === "removeMember")).toBe(false);
  await act(async () => screen.getByTestId("confirm-remove").click());
  expect(calls.find(([name]) => name === "removeMember")).toEqual(["removeMember", TEAM, userId(3)]);
});

it("keeps the only owner from leaving, and lets anyone else leave after confirming", async () => {
  answers.members = [owner, plain];
  await act(async () => render(<Members team={{ ...team, role: "owner" }} user={asUser(1)} />));
  expect(screen.getByTestId("leave-blocked").textContent).toContain("only owner");
  expect(screen.queryByTestId("leave-team")).toBeNull();
  cleanup();

  const onLeft = vi.fn();
  await act(async () => render(<Members team={team} user={asUser(3)} onLeft={onLeft} />));
  expect(screen.queryAllByTestId("remove-member")).toHaveLength(0);
  await act(async () => screen.getByTestId("leave-team").click());
  await act(async () => screen.getByTestId("confirm-leave").click());
  expect(calls.find(([name]) => name === "leaveTeam")).toEqual(["leaveTeam", TEAM]);
  expect(onLeft).toHaveBeenCalledOnce();
});

it("reads the roster once the relay is back when it could not be read offline, and says nothing of leaving before", async () => {
  const me: User = { id: userId(1), email: "m1@example.com", display_name: "Member 1" };
  answers.status = linkStatus("connecting");
  const stopLink = await act(async () => followLink());
  failures.members = { kind: "not_cached" };
  await act(async () => render(<Members team={{ ...team, role: "owner" }} user={me} />));
  expect(screen.getByRole("alert").textContent).toBe("Not available offline yet: connect once to fetch it.");
  expect(screen.queryByTestId("leave-blocked")).toBeNull();

  delete failures.members;
  answers.members = [{ ...member(1), role: "owner" }, member(2)];
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  expect(screen.queryByRole("alert")).toBeNull();
  expect(screen.getAllByTestId("member")).toHaveLength(2);
  expect(screen.getByTestId("leave-blocked")).toBeTruthy();
  stopLink();
});

it("asks before lowering one's own role or making an owner; other changes apply at once", async () => {
  const me: User = { id: userId(1), email: "m1@example.com", display_name: "Member 1" };
  answers.members = [{ ...member(1), role: "owner" }, { ...member(2), role: "owner" }, member(3)];
  await act(async () => render(<Members team={{ ...team, role: "owner" }} user={me} />));
  const roleOf = (n: number) => screen.getAllByTestId("member")[n - 1].querySelector("select") as HTMLSelectElement;

  await act(async () => void fireEvent.change(roleOf(3), { target: { value: "admin" } }));
  expect(calls).toContainEqual(["changeRole", TEAM, member(3).user_id, "admin"]);

  await act(async () => void fireEvent.change(roleOf(1), { target: { value: "viewer" } }));
  expect(screen.getByTestId("confirm-role").textContent).toContain("Make yourself viewer? You cannot raise your own role again.");
  expect(calls.some(([name, , who]) => name === "changeRole" && who === me.id)).toBe(false);
  await act(async () => void fireEvent.click(screen.getByText("Cancel")));
  expect(screen.queryByTestId("confirm-role")).toBeNull();

  await act(async () => void fireEvent.change(roleOf(3), { target: { value: "owner" } }));
  expect(screen.getByTestId("confirm-role").textContent).toContain("an owner?");
  await act(async () => void fireEvent.click(screen.getByTestId("confirm-role-change")));
  expect(calls).toContainEqual(["changeRole", TEAM, member(3).user_id, "owner"]);
});
