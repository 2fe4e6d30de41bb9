// The team store as features see it: fed by room events, read through useTeam, emptied on sign-out.
import { act, cleanup, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { answers, calls, emitRoom, reset } from "../../testing/fakeBindings";
import { joinFrames, member, members, TEAM, userId } from "../../testing/fixtures";
import { typistNames, TYPING_SHOWN_MS } from "./live";
import { followRooms, loadMembers, useTeam } from "./store";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

let stop: () => void;
beforeEach(() => {
  reset();
  stop = followRooms();
});
afterEach(() => {
  cleanup();
  stop();
  vi.useRealTimers();
});

describe("the team store", () => {
  it("merges the join frames once for every reader", () => {
    const first = renderHook(() => useTeam(TEAM));
    act(() => joinFrames(members(1, 40)).forEach((f) => emitRoom(TEAM, f)));
    // A reader that comes later (a section opened after the join) sees the same roster.
    const later = renderHook(() => useTeam(TEAM));
    expect(first.result.current.members.size).toBe(40);
    expect(later.result.current).toBe(first.result.current);
  });

  it("keeps each team apart", () => {
    const other = renderHook(() => useTeam("another-team"));
    act(() => joinFrames(members(1, 3)).forEach((f) => emitRoom(TEAM, f)));
    expect(other.result.current.members.size).toBe(0);
  });

  it("fades a typing hint on its own", () => {
    vi.useFakeTimers();
    const { result } = renderHook(() => useTeam(TEAM));
    act(() => {
      joinFrames(members(1, 30)).forEach((f) => emitRoom(TEAM, f));
      emitRoom(TEAM, { type: "typing", team_id: TEAM, user_id: userId(30) });
    });
    expect(typistNames(result.current, userId(1))).toEqual(["Member 30"]);
    act(() => vi.advanceTimersByTime(TYPING_SHOWN_MS - 1000));
    act(() => emitRoom(TEAM, { type: "typing", team_id: TEAM, user_id: userId(29) }));
    act(() => vi.advanceTimersByTime(1000));
    expect(typistNames(result.current, userId(1))).toEqual(["Member 29"]);
    act(() => vi.advanceTimersByTime(TYPING_SHOWN_MS));
    expect(typistNames(result.current, userId(1))).toEqual([]);
  });

  it("loads the roster to name a member added while joined", async () => {
    const { result } = renderHook(() => useTeam(TEAM));
    act(() => joinFrames(members(1, 2)).forEach((f) => emitRoom(TEAM, f)));
    answers.members = [member(1), member(2), member(3)];
    await act(async () => emitRoom(TEAM, { type: "member_changed", team_id: TEAM, user_id: userId(3), role: "member" }));
    expect(calls).toContainEqual(["members", TEAM]);
    expect(result.current.members.get(userId(3))?.display_name).toBe("Member 3");
  });

  it("forgets every team when the account's following stops", async () => {
    const { result } = renderHook(() => useTeam(TEAM));
    answers.members = [member(1)];
    await act(() => loadMembers(TEAM));
    expect(result.current.members.size).toBe(1);
    act(() => stop());
    expect(result.current.members.size).toBe(0);
    // Rooms are no longer followed.
    act(() => joinFrames(members(1, 2)).forEach((f) => emitRoom(TEAM, f)));
    expect(result.current.members.size).toBe(0);
  });
});
