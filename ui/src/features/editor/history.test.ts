import { describe, expect, it } from "vitest";
import { versions, whose } from "./history";

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

describe("whose", () => {
  const t = 1_764_600_000_000;
  const named = (hash: string, actor: string, timestamp: number, message: string | null) => ({ hash, actor, timestamp, message });
  const history = [
    named("a", "actor-ada-1", t, "teamflow-author:ada"),
    named("b", "actor-ada-1", t + 1_000, null),
    named("c", "conversion", t + 2_000, "Converted from Markdown"),
    named("d", "actor-bob-1", t + 3_000, "teamflow-author:bob"),
    named("e", "actor-bob-1", t + 200_000, null),
    named("f", "actor-gone1", t + 300_000, "teamflow-author:carol"),
    named("g", "js-client-0a1b2c", t + 400_000, null),
  ];
  const names = new Map([
    ["ada", "Ada"],
    ["bob", "Bob"],
  ]);

  it("names each version by the author its actor's first change names", () => {
    const said = versions(history).map((v) => [v.hash, whose(v, names, "ada")]);
    expect(said).toEqual([
      ["g", "device 0a1b2c"],
      ["f", "a former member"],
      ["e", "Bob"],
      ["d", "Bob"],
      ["c", "Converted from Markdown"],
      ["b", "You"],
    ]);
  });

  it("says a teammate when the members could not be read", () => {
    const [, carol] = versions(history);
    expect(whose(carol, null, "ada")).toBe("a teammate");
  });
});
