// The member list reads the team store: the loaded roster, presence from the room's pages, removals.
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { TeamMembership } from "../../bindings";
import { followRooms } from "../../lib/team/store";
import { answers, emitRoom, reset } from "../../testing/fakeBindings";
import { joinFrames, member, members, TEAM, userId } from "../../testing/fixtures";
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
