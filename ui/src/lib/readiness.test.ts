// The keystroke phases the window benchmark reads are kept only while it collects them.
import { afterEach, describe, expect, it } from "vitest";
import { recordKeyPhases } from "./readiness";

const page = globalThis as { __teamflowKeys?: unknown };

afterEach(() => {
  delete page.__teamflowKeys;
});

describe("recordKeyPhases", () => {
  it("appends to the array a benchmark set up", () => {
    page.__teamflowKeys = [];
    recordKeyPhases({ state: 2, view: 1 });
    recordKeyPhases({ state: 3, view: 1 });
    expect(page.__teamflowKeys).toEqual([
      { state: 2, view: 1 },
      { state: 3, view: 1 },
    ]);
  });

  it("keeps nothing otherwise", () => {
    recordKeyPhases({ state: 2 });
    expect(page.__teamflowKeys).toBeUndefined();
    page.__teamflowKeys = "not a collector";
    recordKeyPhases({ state: 2 });
    expect(page.__teamflowKeys).toBe("not a collector");
  });
});
