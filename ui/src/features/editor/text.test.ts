import { describe, expect, it } from "vitest";
import { apply, cpLength, diff, mapPosition, rebase, toCodePoints, toUtf16 } from "./text";

describe("code points", () => {
  it("counts astral characters once and converts indices both ways", () => {
    const s = "a😀b";
    expect(s.length).toBe(4);
    expect(cpLength(s)).toBe(3);
    expect(toCodePoints(s, 3)).toBe(2);
    expect(toUtf16(s, 2)).toBe(3);
  });
});

describe("diff", () => {
  it("finds the single edit, using the caret to place repeated characters", () => {
    expect(diff("hello", "hello!", 6)).toEqual({ position: 5, delete: 0, insert: "!" });
    expect(diff("aa", "aaa", 1)).toEqual({ position: 0, delete: 0, insert: "a" });
    expect(diff("abcdef", "abXf", 3)).toEqual({ position: 2, delete: 3, insert: "X" });
    expect(diff("same", "same")).toBeNull();
  });

  it("round-trips through apply, emoji included", () => {
    const before = "I 😀 edits";
    const after = "I 😀😀 many edits";
    const edit = diff(before, after)!;
    expect(apply(before, [edit])).toBe(after);
  });
});

describe("positions under a teammate's edits", () => {
  it("moves a caret past inserts before it and leaves it before inserts at it", () => {
    expect(mapPosition(5, [{ position: 0, delete: 0, insert: "XY" }])).toBe(7);
    expect(mapPosition(5, [{ position: 5, delete: 0, insert: "XY" }])).toBe(5);
    expect(mapPosition(5, [{ position: 2, delete: 10, insert: "" }])).toBe(2);
  });

  it("rebases an unsent keystroke so it lands where it was typed", () => {
    // Local text "abc", the person typed "!" after "b"; a teammate prepended "XY" meanwhile.
    const local = { position: 2, delete: 0, insert: "!" };
    const remote = [{ position: 0, delete: 0, insert: "XY" }];
    expect(apply(apply("abc", remote), [rebase(local, remote)])).toBe("XYab!c");
  });

  it("shrinks a local deletion whose text a teammate already deleted", () => {
    const local = { position: 1, delete: 3, insert: "" }; // deletes "bcd" of "abcde"
    const remote = [{ position: 2, delete: 3, insert: "" }]; // deleted "cde"
    expect(apply(apply("abcde", remote), [rebase(local, remote)])).toBe("a");
  });
});
