// The search palette: a paused query asks the node once, matches are shown marked (never as markup),
// the keyboard moves and opens, Escape closes, and a blank query asks nothing.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { SearchHit, TeamMembership } from "../../bindings";
import { answers, calls, reset } from "../../testing/fakeBindings";
import { TEAM } from "../../testing/fixtures";
import { SearchPalette } from "./SearchPalette";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

const teams: TeamMembership[] = [{ id: TEAM, name: "crew", role: "member" }];
const HITS: SearchHit[] = [
  { team_id: TEAM, target: { kind: "message", seq: 7 }, title: "Bob", snippet: "We \u0002deployed\u0003 <b>it</b>" },
  { team_id: TEAM, target: { kind: "project", project_id: "p1" }, title: "\u0002Deploy\u0003 pipeline", snippet: "" },
  { team_id: TEAM, target: { kind: "document", url: "automerge:abc" }, title: "Runbook", snippet: "how to \u0002deploy\u0003" },
];

beforeEach(() => {
  reset();
  vi.useFakeTimers();
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

async function type(text: string) {
  fireEvent.change(screen.getByTestId("search-input"), { target: { value: text } });
  await act(async () => {
    await vi.advanceTimersByTimeAsync(200);
  });
}

it("searches once typing pauses and shows marked matches as text", async () => {
  answers.search = HITS;
  render(<SearchPalette teams={teams} onOpen={() => {}} onClose={() => {}} />);
  expect(document.activeElement).toBe(screen.getByTestId("search-input"));
  fireEvent.change(screen.getByTestId("search-input"), { target: { value: "de" } });
  fireEvent.change(screen.getByTestId("search-input"), { target: { value: "deploy" } });
  await act(async () => {
    await vi.advanceTimersByTimeAsync(200);
  });
  expect(calls.filter(([name]) => name === "search")).toEqual([["search", "deploy", 20]]);
  const rows = screen.getAllByTestId("search-hit");
  expect(rows.map((r) => r.dataset.kind)).toEqual(["message", "project", "document"]);
  expect(rows[0].querySelector("mark")?.textContent).toBe("deployed");
  expect(rows[0].querySelector("b")).toBeNull();
  expect(rows[0].textContent).toContain("<b>it</b>");
  expect(rows[0].textContent).toContain("Message · crew");
});

it("moves with the arrow keys, opens with Enter and closes with Escape", async () => {
  answers.search = HITS;
  const onOpen = vi.fn();
  const onClose = vi.fn();
  render(<SearchPalette teams={teams} onOpen={onOpen} onClose={onClose} />);
  await type("deploy");
  const input = screen.getByTestId("search-input");
  fireEvent.keyDown(input, { key: "ArrowDown" });
  fireEvent.keyDown(input, { key: "ArrowDown" });
  expect(input.getAttribute("aria-activedescendant")).toBe("search-hit-2");
  fireEvent.keyDown(input, { key: "ArrowDown" });
  expect(input.getAttribute("aria-activedescendant")).toBe("search-hit-0");
  fireEvent.keyDown(input, { key: "ArrowUp" });
  fireEvent.keyDown(input, { key: "Enter" });
  expect(onOpen).toHaveBeenCalledWith(HITS[2]);
  fireEvent.keyDown(input, { key: "Escape" });
  expect(onClose).toHaveBeenCalled();
});

it("says when nothing matches, and asks nothing for a blank query", async () => {
  answers.search = [];
  render(<SearchPalette teams={teams} onOpen={() => {}} onClose={() => {}} />);
  await type("   ");
  expect(calls.filter(([name]) => name === "search")).toEqual([]);
  await type("zebra");
  expect(screen.getByTestId("search-empty").textContent).toContain("zebra");
});
