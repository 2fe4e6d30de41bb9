import { describe, expect, it } from "vitest";
import type { Member } from "../../bindings";
import { toggled, whoReacted } from "./reactions";

const [me, ada, bo] = ["u-me", "u-ada", "u-bo"];

describe("toggled", () => {
  it("puts a new emoji last, and joins one already there", () => {
    expect(toggled([], "🎉", true, me)).toEqual([{ emoji: "🎉", user_ids: [me] }]);
    const one = [{ emoji: "👍", user_ids: [ada] }];
    expect(toggled(one, "👍", true, me)).toEqual([{ emoji: "👍", user_ids: [ada, me] }]);
    expect(toggled(one, "🎉", true, me)).toEqual([...one, { emoji: "🎉", user_ids: [me] }]);
  });

  it("changes nothing putting it on twice or taking off what is not there", () => {
    const mine = [{ emoji: "👍", user_ids: [me] }];
    expect(toggled(mine, "👍", true, me)).toBe(mine);
    expect(toggled(mine, "🎉", false, me)).toBe(mine);
    const theirs = [{ emoji: "👍", user_ids: [ada] }];
    expect(toggled(theirs, "👍", false, me)).toBe(theirs);
  });

  it("takes off only this person's, and the emoji with the last of them", () => {
    const both = [{ emoji: "👍", user_ids: [ada, me] }, { emoji: "👀", user_ids: [me] }];
    expect(toggled(both, "👍", false, me)).toEqual([{ emoji: "👍", user_ids: [ada] }, { emoji: "👀", user_ids: [me] }]);
    expect(toggled(both, "👀", false, me)).toEqual([{ emoji: "👍", user_ids: [ada, me] }]);
  });
});

describe("whoReacted", () => {
  const members = [
    { user_id: ada, display_name: "Ada" },
    { user_id: bo, display_name: "Bo" },
  ] as Member[];

  it("names this person first, as You, and the others by name", () => {
    expect(whoReacted({ emoji: "🎉", user_ids: [ada] }, members, me)).toBe("Ada reacted with 🎉");
    expect(whoReacted({ emoji: "🎉", user_ids: [ada, me] }, members, me)).toBe("You and Ada reacted with 🎉");
    expect(whoReacted({ emoji: "🎉", user_ids: [bo, ada, me] }, members, me)).toBe("You, Bo and Ada reacted with 🎉");
  });

  it("says so for someone no longer in the team", () => {
    expect(whoReacted({ emoji: "👍", user_ids: ["u-gone"] }, members, me)).toBe("Someone who left reacted with 👍");
  });
});
