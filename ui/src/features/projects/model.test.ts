// The projects feature's pure logic: due dates as typed, a queued edit shown at once, history in words.
import { expect, it } from "vitest";
import type { Member, ProjectChange } from "../../bindings";
import { project, userId } from "../../testing/fixtures";
import { describeChange, parseDueDate, withPatch } from "./model";

it("accepts real days, clears on empty, and explains what is wrong otherwise", () => {
  expect(parseDueDate(" 2027-03-31 ")).toEqual({ date: "2027-03-31" });
  expect(parseDueDate("")).toEqual({ date: null });
  expect(parseDueDate("2027-02-30")).toEqual({ error: "2027-02-30 is not a day of the calendar." });
  expect(parseDueDate("31/03/2027")).toHaveProperty("error");
  expect(parseDueDate("2027-3-1")).toHaveProperty("error");
});

it("shows a queued edit at once: fields named change, null clears, absent ones stay", () => {
  const before = { ...project(1), owner_id: userId(2), due_date: "2027-01-01" };
  const after = withPatch(before, { due_date: null, name: "Renamed" });
  expect(after).toMatchObject({ name: "Renamed", due_date: null, owner_id: userId(2), status: "active" });
  expect(withPatch(before, {})).toEqual(before);
});

const names = new Map<string, Member>([
  [userId(1), { user_id: userId(1), email: "a@x", display_name: "Alice", role: "owner", joined_at: "" }],
  [userId(2), { user_id: userId(2), email: "b@x", display_name: "Bob", role: "member", joined_at: "" }],
]);

function change(over: Partial<ProjectChange>): ProjectChange {
  return {
    id: 1,
    project_id: project(1).id,
    task_id: null,
    field: "name",
    old_value: "Alpha",
    new_value: "Beta",
    outcome: "applied",
    changed_by: userId(1),
    changed_at: "2026-12-01T10:00:00Z",
    ...over,
  };
}

it("says who changed what, and what a concurrent edit overwrote or lost", () => {
  expect(describeChange(change({}), names)).toBe("Alice changed the name: “Alpha” → “Beta”");
  expect(describeChange(change({ outcome: "overwrote", changed_by: userId(2) }), names)).toBe(
    "Bob changed the name at the same time as someone else and won: “Alpha” was overwritten by “Beta”",
  );
  expect(describeChange(change({ outcome: "lost" }), names)).toBe(
    "Alice's edit of the name lost to a concurrent one: “Beta” was not kept, “Alpha” stays",
  );
  expect(describeChange(change({ field: "owner_id", old_value: null, new_value: userId(2) }), names)).toBe(
    "Alice changed the owner: none → Bob",
  );
  expect(describeChange(change({ field: "task_done", old_value: "false", new_value: "true" }), names)).toBe(
    "Alice changed the task: not done → done",
  );
  expect(describeChange(change({ field: "task_created", old_value: null, new_value: "Write" }), names)).toBe(
    "Alice added the task “Write”",
  );
  expect(describeChange(change({ changed_by: userId(9) }), names)).toMatch(/^Someone changed/);
  const titles = new Map([["t1", "Write"]]);
  expect(describeChange(change({ field: "task_done", task_id: "t1", old_value: "false", new_value: "true" }), names, titles)).toBe(
    "Alice changed the task “Write”: not done → done",
  );
});
