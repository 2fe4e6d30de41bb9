// What the relay refused, from the sync indicator: only refused entries, named by kind and team with their
// reason; Retry and Discard act on the one chosen and the list follows the node.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { OutboxEntry, Status, TeamMembership } from "../../bindings";
import { answers, calls, events, reset } from "../../testing/fakeBindings";
import { TEAM } from "../../testing/fixtures";
import { RefusedChanges } from "./RefusedChanges";
import { setStatus } from "./status";
import { SyncIndicator } from "./SyncIndicator";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const team: TeamMembership = { id: TEAM, name: "crew", role: "member" };
const entry = (client_id: string, kind: OutboxEntry["kind"], content: string, failed: boolean): OutboxEntry => ({
  client_id,
  team_id: TEAM,
  kind,
  content,
  state: failed ? "failed" : "pending",
  error_code: failed ? "forbidden" : null,
  error: failed ? "viewers cannot change projects" : null,
});

let outbox: OutboxEntry[];
beforeEach(() => {
  reset();
  outbox = [entry("a", "project_patch", "Launch v2", true), entry("b", "message", "on its way", false), entry("c", "task_create", "Write copy", true)];
  answers.outbox = () => outbox;
  answers.retry = (id: string) => void (outbox = outbox.map((e) => (e.client_id === id ? { ...e, state: "pending" } : e)));
  answers.discard = (id: string) => void (outbox = outbox.filter((e) => e.client_id !== id));
});
afterEach(cleanup);

const rows = () => screen.queryAllByTestId("refused-change").map((row) => row.textContent);

it("lists only what the relay refused, by kind and team, with the reason; retry and discard act on one", async () => {
  await act(async () => void render(<RefusedChanges teams={[team]} onClose={() => {}} />));
  expect(rows()).toEqual([
    expect.stringContaining("Project edit in crew: Launch v2viewers cannot change projects"),
    expect.stringContaining("New task in crew: Write copy"),
  ]);
  await act(async () => void fireEvent.click(screen.getAllByTestId("refused-retry")[0]));
  expect(calls).toContainEqual(["retry", "a"]);
  expect(rows()).toEqual([expect.stringContaining("Write copy")]);
  await act(async () => void fireEvent.click(screen.getByTestId("refused-discard")));
  expect(calls).toContainEqual(["discard", "c"]);
  expect(rows()).toEqual([]);
  expect(screen.getByTestId("refused-none")).toBeTruthy();

  // Refused again elsewhere (the retried edit): the node's status moves and the list follows.
  outbox = [entry("a", "project_patch", "Launch v2", true)];
  await act(async () => events.statusChanged.emit({}));
  expect(rows()).toEqual([expect.stringContaining("Launch v2")]);
});

it("the sync indicator offers the review only while something is refused", () => {
  const status = (failed: number): Status => ({ signed_in: true, credentials: null, link: "online", peers: [], pending: 0, failed, documents: {} });
  const review = vi.fn();
  setStatus(status(0));
  render(<SyncIndicator onReview={review} />);
  expect(screen.queryByTestId("review-refused")).toBeNull();
  act(() => setStatus(status(2)));
  fireEvent.click(screen.getByTestId("review-refused"));
  expect(review).toHaveBeenCalledOnce();
});

it("shows a refused message as it was typed: a mention by its name, not its wire form", async () => {
  outbox = [entry("m", "message", "thanks @[Ada](user:0190f1e2-0000-7000-8000-000000000001)!", true)];
  await act(async () => void render(<RefusedChanges teams={[team]} onClose={() => {}} />));
  expect(rows()).toEqual([expect.stringContaining("Message in crew: thanks @Ada!")]);
  expect(rows()[0]).not.toContain("user:");
});
