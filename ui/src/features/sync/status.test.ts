// The node's status, followed once for the window: each reader is drawn again only when the part it reads
// changes (a status event comes a few times a keystroke while a person types), and a new session starts
// from nothing known.
import { act, cleanup, render, screen } from "@testing-library/react";
import { createElement } from "react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Status } from "../../bindings";
import { answers, events, reset } from "../../testing/fakeBindings";
import { linkStatus } from "../../testing/fixtures";
import { currentStatus, EMPTY_STATUS, followStatus, same, setStatus, useStatus } from "./status";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

beforeEach(() => {
  reset();
  setStatus(EMPTY_STATUS);
});
afterEach(cleanup);

const typing = (state: Status["documents"][string]): Status => ({ ...linkStatus("online"), documents: { "automerge:open": state, "automerge:other": "synced" } });

it("draws a reader again only when the part it reads changes", () => {
  const drawn = { page: 0, state: 0, pending: 0 };
  function DocumentState() {
    drawn.state++;
    // A selection that builds an object each time: equal entries are the same selection.
    const { state } = useStatus((s) => ({ state: s.documents["automerge:open"] ?? "none" }));
    return createElement("span", { "data-testid": "state" }, state);
  }
  function Pending() {
    drawn.pending++;
    return createElement("span", null, useStatus((s) => s.pending));
  }
  function Page() {
    drawn.page++;
    return createElement("div", null, createElement(DocumentState), createElement(Pending));
  }
  render(createElement(Page));
  expect(drawn).toEqual({ page: 1, state: 1, pending: 1 });

  // A keystroke's round: the open document syncing, then synced. Only its state's reader follows.
  act(() => setStatus(typing("syncing")));
  act(() => setStatus(typing("synced")));
  expect(screen.getByTestId("state").textContent).toBe("synced");
  expect(drawn).toEqual({ page: 1, state: 3, pending: 1 });

  // The same status heard again (a fresh object from the node) draws nothing.
  act(() => setStatus(typing("synced")));
  expect(drawn).toEqual({ page: 1, state: 3, pending: 1 });

  act(() => setStatus({ ...typing("synced"), pending: 2 }));
  expect(drawn).toEqual({ page: 1, state: 3, pending: 2 });
});

it("follows the node: its status read once, then each event; stopping forgets it for the next session", async () => {
  answers.status = linkStatus("connecting");
  const heard: [Status["link"], boolean][] = [];
  let stop!: () => void;
  await act(async () => {
    stop = followStatus((status, fromEvent) => heard.push([status.link, fromEvent]));
  });
  expect(currentStatus().link).toBe("connecting");

  await act(async () => events.statusChanged.emit(linkStatus("offline")));
  expect(currentStatus().link).toBe("offline");
  expect(heard).toEqual([
    ["connecting", false],
    ["offline", true],
  ]);

  stop();
  expect(currentStatus()).toBe(EMPTY_STATUS);
  events.statusChanged.emit(linkStatus("online"));
  expect(currentStatus()).toBe(EMPTY_STATUS);
  expect(heard).toHaveLength(2);
});

it("compares selections one level deep", () => {
  expect(same(1, 1)).toBe(true);
  expect(same(Number.NaN, Number.NaN)).toBe(true);
  expect(same({ a: 1, b: "x" }, { a: 1, b: "x" })).toBe(true);
  expect(same(["a", 1], ["a", 1])).toBe(true);
  expect(same({ a: 1 }, { a: 2 })).toBe(false);
  expect(same({ a: 1 }, { a: 1, b: undefined })).toBe(false);
  expect(same({ a: { b: 1 } }, { a: { b: 1 } })).toBe(false);
  expect(same([1], { 0: 1 })).toBe(false);
  expect(same(null, {})).toBe(false);
});
