// Unread counts from room frames, the total and labels, and the decision whether a message notifies.
import { describe, expect, it } from "vitest";
import type { Message, ReadState } from "../../bindings";
import {
  applyFrame,
  applyState,
  countsMayChange,
  REMEMBERED_EDITS,
  type ReadStates,
  shouldNotify,
  teamLabel,
  totalUnread,
  windowTitle,
  type Situation,
} from "./attention";

const ME = "me";
const A = "team-a";
const B = "team-b";
const msg = (seq: number, author = "bob", mentions: string[] = [], team = A): Message =>
  ({ id: `m${seq}`, team_id: team, seq, author_id: author, author_name: author, client_id: `c${seq}`, kind: "text", content: "hi", mentions, created_at: "" }) as Message;
const state = (team: string, read_seq: number, latest_seq: number, unread: number, mentions = 0): ReadState => ({ team_id: team, read_seq, latest_seq, unread, mentions });

describe("unread counts", () => {
  it("count others' new messages and mentions of me, not mine, not twice", () => {
    let s: ReadStates = new Map([[A, state(A, 2, 2, 0)]]);
    s = applyFrame(s, A, { type: "new_message", message: msg(3) }, ME);
    s = applyFrame(s, A, { type: "new_message", message: msg(4, ME) }, ME);
    s = applyFrame(s, A, { type: "new_message", message: msg(5, "bob", [ME]) }, ME);
    s = applyFrame(s, A, { type: "new_message", message: msg(5, "bob", [ME]) }, ME);
    expect(s.get(A)).toEqual(state(A, 2, 5, 2, 1));
    s = applyFrame(s, B, { type: "new_message", message: msg(1, "carol", [], B) }, ME);
    expect(totalUnread(s)).toBe(3);
  });

  it("clear when read elsewhere, and never go back", () => {
    let s: ReadStates = new Map([[A, state(A, 2, 5, 2, 1)]]);
    s = applyFrame(s, A, { type: "read_moved", state: state(A, 5, 5, 0) }, ME);
    expect(totalUnread(s)).toBe(0);
    const stale = applyState(s, state(A, 3, 5, 1));
    expect(stale.get(A)?.read_seq).toBe(5);
    expect(applyFrame(s, A, { type: "read_moved", state: state(A, 4, 5, 1) }, ME).get(A)?.read_seq).toBe(5);
    expect(applyFrame(s, A, { type: "typing", team_id: A, user_id: "bob" }, ME)).toBe(s);
  });

  it("label the switcher and the title", () => {
    expect(teamLabel("Studio", undefined)).toBe("Studio");
    expect(teamLabel("Studio", state(A, 0, 3, 3))).toBe("Studio (3)");
    expect(teamLabel("Studio", state(A, 0, 300, 120, 2))).toBe("Studio (99+, 2 @)");
    expect(windowTitle(0)).toBe("TeamFlow");
    expect(windowTitle(4)).toBe("(4) TeamFlow");
  });
});

describe("whether a message notifies", () => {
  const base: Situation = { me: ME, settings: { every_message_unfocused: false, muted: [] }, focused: true, viewing: B };
  it("mentions notify unless their chat is on screen in the focused window", () => {
    expect(shouldNotify(msg(1, "bob", [ME]), base)).toBe("mention");
    expect(shouldNotify(msg(1, "bob", [ME]), { ...base, viewing: A })).toBeNull();
    expect(shouldNotify(msg(1, "bob", [ME]), { ...base, viewing: A, focused: false })).toBe("mention");
  });
  it("other messages only while unfocused and only when asked for", () => {
    expect(shouldNotify(msg(1), { ...base, focused: false })).toBeNull();
    const every = { ...base, settings: { every_message_unfocused: true, muted: [] } };
    expect(shouldNotify(msg(1), every)).toBeNull();
    expect(shouldNotify(msg(1), { ...every, focused: false })).toBe("message");
  });
  it("never for my own messages or a muted team", () => {
    expect(shouldNotify(msg(1, ME, [ME]), { ...base, focused: false })).toBeNull();
    const muted = { ...base, focused: false, settings: { every_message_unfocused: true, muted: [A] } };
    expect(shouldNotify(msg(1, "bob", [ME]), muted)).toBeNull();
    expect(shouldNotify(msg(1, "bob", [], B), muted)).toBe("message");
  });
});

describe("an answer overtaken by room frames", () => {
  it("does not take back messages the frames counted", () => {
    const team = "t1";
    const kept: ReadStates = new Map([[team, { team_id: team, read_seq: 3, latest_seq: 6, unread: 3, mentions: 0 }]]);
    const older = { team_id: team, read_seq: 3, latest_seq: 5, unread: 2, mentions: 0 };
    expect(applyState(kept, older)).toBe(kept);
    const newer = { team_id: team, read_seq: 3, latest_seq: 7, unread: 4, mentions: 1 };
    expect(applyState(kept, newer).get(team)).toEqual(newer);
  });
});

describe("a changed message", () => {
  const reacted = (m: Message, edited_at: string | null = null): Message => ({ ...m, edited_at, reactions: [{ emoji: "👍", user_ids: ["ann"] }] }) as Message;
  it("may change the counts when deleted or its words edited, not when only its reactions change", () => {
    const edits = new Map<string, string>();
    expect(countsMayChange(reacted(msg(1)), edits)).toBe(false);
    expect(countsMayChange({ ...msg(1), edited_at: "t1" }, edits)).toBe(true);
    expect(countsMayChange(reacted(msg(1), "t1"), edits)).toBe(false);
    expect(countsMayChange({ ...msg(1), edited_at: "t2" }, edits)).toBe(true);
    expect(countsMayChange({ ...msg(1), content: "", deleted: true }, edits)).toBe(true);
    expect(edits.size).toBe(0);
  });
  it("counts again on a reaction to an edited message it never heard edited (the edit may have come while away)", () => {
    expect(countsMayChange(reacted(msg(2), "t1"), new Map())).toBe(true);
  });
  it("remembers a bounded number of edits, the oldest forgotten first", () => {
    const edits = new Map<string, string>();
    for (let seq = 1; seq <= REMEMBERED_EDITS + 1; seq++) countsMayChange({ ...msg(seq), edited_at: "t" }, edits);
    expect(edits.size).toBe(REMEMBERED_EDITS);
    expect(edits.has("m1")).toBe(false);
    expect(countsMayChange(reacted(msg(REMEMBERED_EDITS + 1), "t"), edits)).toBe(false);
  });
});
