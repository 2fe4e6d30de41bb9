// The activity feed could not be read offline: it is read once the relay is back, without leaving the screen.
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { ActivityItem, TeamMembership } from "../../bindings";
import { followLink } from "../../lib/reconnects";
import { answers, events, failures, reset } from "../../testing/fakeBindings";
import { linkStatus, TEAM } from "../../testing/fixtures";
import { Activity } from "./Activity";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const team: TeamMembership = { id: TEAM, name: "crew", role: "member" };
const push: ActivityItem = {
  id: "a1",
  team_id: TEAM,
  seq: 1,
  service: "github",
  event_type: "push",
  summary: "ada pushed 2 commits to main",
  url: null,
  created_at: "2026-12-05T09:00:00Z",
};

beforeEach(reset);
afterEach(cleanup);

it("reads the feed once the relay is back when it could not be read offline", async () => {
  answers.status = linkStatus("connecting");
  const stopLink = await act(async () => followLink());
  failures.activity = { kind: "not_cached" };
  await act(async () => render(<Activity team={team} />));
  expect(screen.getByText("Not available offline yet: connect once to fetch it.")).toBeTruthy();

  delete failures.activity;
  answers.activity = [push];
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  expect(screen.queryByText("Not available offline yet: connect once to fetch it.")).toBeNull();
  expect(screen.getByTestId("activity").textContent).toContain("ada pushed 2 commits to main");
  stopLink();
});
