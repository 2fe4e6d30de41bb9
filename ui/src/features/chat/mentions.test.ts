// Mentions: the wire form read like the relay reads it, the composer's @query, member matching, and the
// readable draft turned into the wire form.
import { describe, expect, it } from "vitest";
import type { Member } from "../../bindings";
import { insertMention, labelFor, matchMembers, mentionQuery, mentionToken, plainText, readable, segments, toWire } from "./mentions";

const ADA = "0193a3b2-0000-7000-8000-000000000001";
const BOB = "0193a3b2-0000-7000-8000-000000000002";
const member = (user_id: string, display_name: string): Member => ({ user_id, display_name, email: `${display_name}@x`, role: "member" }) as Member;

describe("the wire form", () => {
  it("splits content into text and mentions", () => {
    const content = `hi ${mentionToken(ADA, "Ada L")}, and ${mentionToken(BOB, "Bob")}!`;
    expect(segments(content)).toEqual([{ text: "hi " }, { mention: { userId: ADA, name: "Ada L" } }, { text: ", and " }, { mention: { userId: BOB, name: "Bob" } }, { text: "!" }]);
    expect(plainText(content)).toBe("hi @Ada L, and @Bob!");
  });

  it("leaves lookalikes as text", () => {
    for (const text of ["@[Ada](user:nope)", `@[Ada](user:${ADA.toUpperCase()})`, `@[](user:${ADA})`, `@[Ada](user:${ADA}`, "@[", `@[A\nB](user:${ADA})`]) {
      expect(segments(text)).toEqual([{ text }]);
    }
  });

  it("makes any name safe", () => {
    expect(segments(mentionToken(ADA, "[odd]\nname"))).toEqual([{ mention: { userId: ADA, name: "oddname" } }]);
  });
});

describe("the composer", () => {
  it("finds the @word before the caret, not an email address or a finished word", () => {
    expect(mentionQuery("hey @ad", 7)).toEqual({ start: 4, query: "ad" });
    expect(mentionQuery("@", 1)).toEqual({ start: 0, query: "" });
    expect(mentionQuery("mail ada@example.com", 20)).toBeNull();
    expect(mentionQuery("hey @ada and", 12)).toBeNull();
    expect(mentionQuery("no at sign", 5)).toBeNull();
  });

  it("offers members by name prefix or word prefix, accents folded, never me", () => {
    const roster = [member(ADA, "Ada Lovelace"), member(BOB, "Bob Éclair"), member("me", "Adam Me")];
    expect(matchMembers(roster, "ad", "me").map((m) => m.display_name)).toEqual(["Ada Lovelace"]);
    expect(matchMembers(roster, "ecl", "me").map((m) => m.display_name)).toEqual(["Bob Éclair"]);
    expect(matchMembers(roster, "", "me").map((m) => m.display_name)).toEqual(["Ada Lovelace", "Bob Éclair"]);
    expect(matchMembers(roster, "zz", "me")).toEqual([]);
  });

  it("inserts the picked name and sends the wire form", () => {
    const { draft, caret } = insertMention("hi @lo there", 3, 6, "Ada Lovelace");
    expect(draft).toBe("hi @Ada Lovelace  there");
    expect(caret).toBe(17);
    const picked = new Map([
      ["Ada Lovelace", { userId: ADA, name: "Ada Lovelace" }],
      ["Ada", { userId: BOB, name: "Ada" }],
    ]);
    expect(toWire("@Ada Lovelace and @Ada, not @Adam", picked)).toBe(`${mentionToken(ADA, "Ada Lovelace")} and ${mentionToken(BOB, "Ada")}, not @Adam`);
    expect(toWire("no mentions", new Map())).toBe("no mentions");
  });
});

describe("members of the same name", () => {
  const CY = "0193a3b2-0000-7000-8000-000000000003";
  const GONE = "0193a3b2-0000-7000-8000-000000000004";
  const twins = [member(ADA, "Ada"), { ...member(BOB, "Ada"), email: "other@x" }, member(CY, "Cy")];

  it("label a shared name with the email, a name of one's own alone", () => {
    expect(labelFor({ userId: ADA, name: "Ada", email: "Ada@x" }, twins, new Map())).toBe("Ada (Ada@x)");
    expect(labelFor({ userId: BOB, name: "Ada", email: "other@x" }, twins, new Map())).toBe("Ada (other@x)");
    expect(labelFor({ userId: CY, name: "Cy", email: "Cy@x" }, twins, new Map())).toBe("Cy");
  });

  it("never give one label to two people, even without an email", () => {
    const picks = new Map([["Zed", { userId: ADA, name: "Zed" }]]);
    expect(labelFor({ userId: GONE, name: "Zed" }, twins, picks)).toBe("Zed (2)");
    expect(labelFor({ userId: ADA, name: "Zed" }, twins, picks)).toBe("Zed");
  });

  it("never read a mention back from text that only looked like one", () => {
    // "@Ada" in the text was never a mention; the mention of Cy before "'s" must stay one.
    const content = `${mentionToken(CY, "Cy")} and @Cy, ${mentionToken(CY, "Cy")}'s and ${mentionToken(CY, "Cy")}s`;
    const { text, picks } = readable(content, twins);
    expect(text).toBe("@Cy (Cy@x) and @Cy, @Cy (Cy@x)'s and @Cy (Cy@x)s");
    expect(toWire(text, picks)).toBe(content);
  });

  it("open a sent message as a draft that is sent back as it was", () => {
    const content = `${mentionToken(ADA, "Ada")}, ${mentionToken(BOB, "Ada")} and ${mentionToken(GONE, "Cy")}: hi ${mentionToken(ADA, "Ada")}`;
    const { text, picks } = readable(content, twins);
    expect(text).toBe("@Ada (Ada@x), @Ada (other@x) and @Cy (2): hi @Ada (Ada@x)");
    expect(toWire(text, picks)).toBe(content);
  });
});
