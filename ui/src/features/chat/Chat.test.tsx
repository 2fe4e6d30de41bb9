// Chat names whoever is typing from the team's whole roster, however large the team and whenever the chat opened.
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { TeamMembership, User } from "../../bindings";
import { followRooms } from "../../lib/team/store";
import { emitRoom, reset } from "../../testing/fakeBindings";
import { joinFrames, members, TEAM, userId } from "../../testing/fixtures";
import { Chat } from "./Chat";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const team: TeamMembership = { id: TEAM, name: "crew", role: "member" };
const me: User = { id: userId(1), email: "m1@example.com", display_name: "Member 1" };

let stop: () => void;
beforeEach(() => {
  reset();
  // What the workspace does while someone is signed in.
  stop = followRooms();
});
afterEach(() => {
  cleanup();
  stop();
});

describe("who is typing", () => {
  it("names a typist beyond the first 25 members", async () => {
    await act(async () => render(<Chat team={team} user={me} />));
    act(() => {
      joinFrames(members(1, 30)).forEach((frame) => emitRoom(TEAM, frame));
      emitRoom(TEAM, { type: "typing", team_id: TEAM, user_id: userId(30) });
    });
    expect(screen.getByTestId("typing").textContent).toBe("Member 30 is typing…");
  });

  it("names typists in a chat opened after the team was joined", async () => {
    act(() => joinFrames(members(1, 3)).forEach((frame) => emitRoom(TEAM, frame)));
    await act(async () => render(<Chat team={team} user={me} />));
    act(() => emitRoom(TEAM, { type: "typing", team_id: TEAM, user_id: userId(2) }));
    expect(screen.getByTestId("typing").textContent).toBe("Member 2 is typing…");
  });
});
