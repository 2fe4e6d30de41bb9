import { describe, expect, it } from "vitest";
import { versions } from "./history";

const change = (hash: string, actor: string, timestamp: number) => ({ hash, actor, timestamp, message: null });

describe("versions", () => {
  it("groups a device's burst of typing and splits on pauses and other devices", () => {
    const t = 1_764_600_000_000;
    const history = [change("a", "ada", t), change("b", "ada", t + 1_000), change("c", "bob", t + 2_000), change("d", "ada", t + 3_000), change("e", "ada", t + 200_000)];
    expect(versions(history).map((v) => [v.hash, v.changes])).toEqual([
      ["e", 1],
      ["d", 1],
      ["c", 1],
      ["b", 2],
    ]);
  });

  it("reads a JavaScript client's times in seconds as milliseconds", () => {
    const history = [change("a", "js", 1_764_600_000), change("b", "ada", 1_764_600_030_000)];
    const [ada, js] = versions(history);
    expect(js.to).toBe(1_764_600_000_000);
    expect(ada.from - js.to).toBe(30_000);
  });
});
