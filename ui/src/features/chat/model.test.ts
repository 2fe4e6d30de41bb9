import { describe, expect, it } from "vitest";
import type { Message, OutboxEntry } from "../../bindings";
import { chatItems, mergeMessages, messageLeftOutbox } from "./model";

const team = "0190f1e2-0000-7000-8000-000000000001";
const other = "0190f1e2-0000-7000-8000-000000000002";

function message(seq: number, clientId: string): Message {
  return {
    id: `m-${seq}`,
    team_id: team,
    seq,
    author_id: "u",
    author_name: "Ada",
    client_id: clientId,
    kind: "text",
    content: `message ${seq}`,
    created_at: "2026-11-29T10:00:00Z",
  } as Message;
}

function entry(clientId: string, state: "pending" | "failed", teamId = team): OutboxEntry {
  return { client_id: clientId, team_id: teamId, kind: "message", content: clientId, state, error_code: null, error: state === "failed" ? "too long" : null };
}

describe("chatItems", () => {
  it("shows own undelivered messages after the relay's, and drops them once delivered", () => {
    const items = chatItems(team, [message(1, "a"), message(2, "b")], [entry("b", "pending"), entry("c", "pending"), entry("d", "failed"), entry("e", "pending", other)]);
    expect(items.map((i) => [i.key, i.state])).toEqual([
      ["m1", "sent"],
      ["m2", "sent"],
      ["oc", "pending"],
      ["od", "failed"],
    ]);
  });
});

describe("mergeMessages", () => {
  it("orders by seq and never shows a message twice", () => {
    const merged = mergeMessages([message(3, "c"), message(4, "d")], [message(1, "a"), message(3, "c"), message(5, "e")]);
    expect(merged.map((m) => m.seq)).toEqual([1, 3, 4, 5]);
  });
});

describe("messageLeftOutbox", () => {
  it("is true only when one of the team's messages is no longer waiting", () => {
    const before = [entry("a", "pending"), entry("b", "failed"), entry("c", "pending", other)];
    expect(messageLeftOutbox(team, before, before)).toBe(false);
    expect(messageLeftOutbox(team, before, [entry("a", "pending"), entry("b", "failed")])).toBe(false);
    expect(messageLeftOutbox(team, before, [entry("b", "failed"), entry("c", "pending", other)])).toBe(true);
    expect(messageLeftOutbox(team, [], [entry("a", "pending")])).toBe(false);
    const project = { ...entry("p", "pending"), kind: "project_create" as const };
    expect(messageLeftOutbox(team, [project], [])).toBe(false);
  });
});

describe("a copy from before what is shown", () => {
  it("does not replace an edit with a higher change number", () => {
    const later = { ...message(1, "c1"), content: "second edit", change_seq: 7 };
    const earlier = { ...message(1, "c1"), content: "first edit", change_seq: 4 };
    expect(mergeMessages([later], [earlier])[0].content).toBe("second edit");
    expect(mergeMessages([earlier], [later])[0].content).toBe("second edit");
  });
});

describe("a deleted message", () => {
  it("stays deleted when a copy from before its deletion arrives late", () => {
    const deleted = { ...message(2, "c2"), content: "", deleted: true };
    const shown = mergeMessages([message(1, "c1")], [deleted]);
    const late = mergeMessages(shown, [message(2, "c2"), { ...message(1, "c1"), content: "edited" }]);
    expect(late.map((m) => [m.content, m.deleted ?? false])).toEqual([
      ["edited", false],
      ["", true],
    ]);
  });
});
