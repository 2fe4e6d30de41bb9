import { describe, expect, it } from "vitest";
import { versions } from "./history";

const change = (hash: string, actor: string, timestamp: number) => ({ hash, actor, timestamp, message: null });

describe("versions", () => {
  it("groups a device's burst of typing and splits on pauses and other devices", () => {
    const history = [change("a", "ada", 0), change("b", "ada", 1_000), change("c", "bob", 2_000), change("d", "ada", 3_000), change("e", "ada", 200_000)];
    expect(versions(history).map((v) => [v.hash, v.changes])).toEqual([
      ["e", 1],
      ["d", 1],
      ["c", 1],
      ["b", 2],
    ]);
  });
});
