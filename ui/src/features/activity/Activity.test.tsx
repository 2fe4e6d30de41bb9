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

/** Event `seq`, named after it. */
const item = (seq: number): ActivityItem => ({ ...push, id: `a${seq}`, seq, summary: `event ${seq}` });
/** The summaries the feed shows, in order. */
const shown = () => [...screen.getByTestId("activity").querySelectorAll("li")].map((li) => li.children[1].textContent);

beforeEach(reset);
afterEach(cleanup);

it("reads the feed once the relay is back when it could not be read offline", async () => {
  answers.status = linkStatus("connecting");
  const stopLink = await act(async () => followLink());
  failures.activity = { kind: "not_cached" };
  await act(async () => render(<Activity team={team} />));
  expect(screen.getByText("Not available offline yet: connect once to fetch it.")).toBeTruthy();

  delete failures.activity;
  answers.activity = { items: [push] };
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  expect(screen.queryByText("Not available offline yet: connect once to fetch it.")).toBeNull();
  expect(screen.getByTestId("activity").textContent).toContain("ada pushed 2 commits to main");
  stopLink();
});

it("shows older events a page at a time, and keeps them when the latest page is read again", async () => {
  answers.activity = (_team: string, before: number | null) =>
    before === null ? { items: [item(5), item(4)], next_before: 4 } : before === 4 ? { items: [item(3), item(2)], next_before: 2 } : { items: [item(1)] };
  answers.status = linkStatus("connecting");
  const stopLink = await act(async () => followLink());
  await act(async () => render(<Activity team={team} />));
  expect(shown()).toEqual(["event 5", "event 4"]);
  await act(async () => screen.getByTestId("activity-older").click());
  expect(shown()).toEqual(["event 5", "event 4", "event 3", "event 2"]);
  // The relay comes back: the latest page is read again; the older ones shown stay, and so does the cursor.
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  expect(shown()).toEqual(["event 5", "event 4", "event 3", "event 2"]);
  await act(async () => screen.getByTestId("activity-older").click());
  expect(shown()).toEqual(["event 5", "event 4", "event 3", "event 2", "event 1"]);
  expect(screen.queryByTestId("activity-older")).toBeNull();
  stopLink();
});

it("says why older events could not be read and offers them again", async () => {
  answers.activity = { items: [push], next_before: 1 };
  await act(async () => render(<Activity team={team} />));
  failures.activity = { kind: "not_cached" };
  await act(async () => screen.getByTestId("activity-older").click());
  expect(screen.getByText("Not available offline yet: connect once to fetch it.")).toBeTruthy();
  expect(screen.getByTestId("activity-older")).toBeTruthy();
});

it("starts again from the latest page when more came while the link was away than a page holds", async () => {
  let latest = { items: [item(5), item(4)], next_before: 4 };
  answers.activity = (_team: string, before: number | null) => (before === null ? latest : before === 4 ? { items: [item(3), item(2)], next_before: 2 } : { items: [item(9)], next_before: 9 });
  answers.status = linkStatus("connecting");
  const stopLink = await act(async () => followLink());
  await act(async () => render(<Activity team={team} />));
  await act(async () => screen.getByTestId("activity-older").click());
  expect(shown()).toEqual(["event 5", "event 4", "event 3", "event 2"]);
  // Away, then back: events 6 to 12 came meanwhile; the latest page (12, 11) does not reach event 5.
  latest = { items: [item(12), item(11)], next_before: 11 };
  answers.activity = (_team: string, before: number | null) => (before === null ? latest : before === 11 ? { items: [item(10), item(9)], next_before: 9 } : { items: [] });
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  expect(shown()).toEqual(["event 12", "event 11"]);
  await act(async () => screen.getByTestId("activity-older").click());
  expect(shown()).toEqual(["event 12", "event 11", "event 10", "event 9"]);
  stopLink();
});
