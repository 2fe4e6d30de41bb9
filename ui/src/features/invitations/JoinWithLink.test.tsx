// Joining with a pasted link, for someone who already has an account.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { TeamMembership } from "../../bindings";
import { INVITATION_GONE, NOT_A_LINK } from "../../lib/invitation";
import { answers, calls, failures, reset } from "../../testing/fakeBindings";
import { inviteLink, refused, TEAM } from "../../testing/fixtures";
import { JoinWithLink } from "./JoinWithLink";
import { ANSWER_REFUSED } from "./words";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

beforeEach(reset);
afterEach(cleanup);

async function join(link: string, onJoined = vi.fn()) {
  await act(async () => void render(<JoinWithLink onJoined={onJoined} />));
  fireEvent.change(screen.getByTestId("join-link"), { target: { value: link } });
  await act(async () => void fireEvent.click(screen.getByTestId("join-with-link")));
  return onJoined;
}

it("accepts the link's invitation and hands on the team", async () => {
  const team: TeamMembership = { id: TEAM, name: "Studio", role: "member" };
  answers.acceptInvitation = team;
  const onJoined = await join(inviteLink(1));
  expect(calls).toEqual([["acceptInvitation", inviteLink(1)]]);
  expect(onJoined).toHaveBeenCalledWith(team);
  expect((screen.getByTestId("join-link") as HTMLInputElement).value).toBe("");
});

it("refuses what is not a link without asking the relay", async () => {
  const onJoined = await join("see you at the meeting");
  expect(screen.getByTestId("join-link-error").textContent).toBe(NOT_A_LINK);
  expect(calls).toEqual([]);
  expect(onJoined).not.toHaveBeenCalled();
});

it("says why the relay refused", async () => {
  failures.acceptInvitation = refused("not_found", 404);
  await join(inviteLink(1));
  expect(screen.getByTestId("join-link-error").textContent).toBe(INVITATION_GONE);
  cleanup();
  failures.acceptInvitation = refused("conflict", 409);
  await join(inviteLink(1));
  expect(screen.getByTestId("join-link-error").textContent).toBe(ANSWER_REFUSED.conflict);
});
