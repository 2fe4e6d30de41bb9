// @mentions in chat: the wire form `@[Display Name](user:<uuid>)` (teamflow_protocol::mentions, the same
// rules), split for drawing; the composer's `@query` under the caret; the members it offers; and turning the
// composer's readable "@Name" into the wire form when sending. Two members may share a name: the draft then
// reads "@Name (email)" for each, so what was picked is what is sent.
import type { Member, UserId } from "../../bindings";

// Only the canonical id form (lower-case, hyphenated), as the relay reads it.
const MENTION = /@\[([^\[\]\n\r]{1,100})\]\(user:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\)/g;

export type Segment = { text: string } | { mention: { userId: UserId; name: string } };

/** Content as text and mentions, in order. */
export function segments(content: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const m of content.matchAll(MENTION)) {
    if (m.index > last) out.push({ text: content.slice(last, m.index) });
    out.push({ mention: { name: m[1], userId: m[2] } });
    last = m.index + m[0].length;
  }
  if (last < content.length) out.push({ text: content.slice(last) });
  return out;
}

/** Content as plain text, a mention read as "@Name" (for notifications). */
export function plainText(content: string): string {
  return segments(content)
    .map((s) => ("text" in s ? s.text : `@${s.mention.name}`))
    .join("");
}

/** The wire form of a mention; brackets and line breaks leave the name, as the relay's rule says. */
export function mentionToken(userId: UserId, name: string): string {
  return `@[${name.replace(/[\[\]\n\r]/g, "").slice(0, 100)}](user:${userId})`;
}

/** The `@word` being typed just before the caret, if any: where it starts and what follows the `@`. */
export function mentionQuery(draft: string, caret: number): { start: number; query: string } | null {
  const before = draft.slice(0, caret);
  const at = before.lastIndexOf("@");
  if (at < 0) return null;
  // An @ inside a word (an email address) starts no mention.
  if (at > 0 && !/\s/.test(before[at - 1])) return null;
  const query = before.slice(at + 1);
  if (/\s/.test(query) || query.length > 50) return null;
  return { start: at, query };
}

/** Members whose name starts (by word) with the query, case- and accent-blind; prefix matches first. */
export function matchMembers(members: Member[], query: string, me: UserId, limit = 8): Member[] {
  const fold = (s: string) => s.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
  const q = fold(query);
  const scored = members
    .filter((m) => m.user_id !== me)
    .map((m) => {
      const name = fold(m.display_name);
      const rank = name.startsWith(q) ? 0 : name.split(/\s+/).some((w) => w.startsWith(q)) ? 1 : -1;
      return { m, rank };
    })
    .filter((x) => x.rank >= 0)
    .sort((a, b) => a.rank - b.rank || a.m.display_name.localeCompare(b.m.display_name));
  return scored.slice(0, limit).map((x) => x.m);
}

/** A mention picked in a draft: who it notifies, and the name the sent message shows. */
export interface MentionPick {
  userId: UserId;
  name: string;
}

/** A draft's picks, by the label the draft shows for each ("Ada Lovelace", or "Ada Lovelace (ada@x)"). */
export type Picks = Map<string, MentionPick>;

/**
 * How a mention of `who` reads in a draft: the name alone while no other member has it and no other pick
 * reads so; else the name and the email; else (someone who has left, no email known) the name and a number.
 */
export function labelFor(
  who: MentionPick & { email?: string },
  members: Member[],
  picks: ReadonlyMap<string, MentionPick>,
  avoid: (label: string) => boolean = () => false,
): string {
  const takenByOther = (label: string) => {
    const held = picks.get(label);
    return (held !== undefined && held.userId !== who.userId) || avoid(label);
  };
  const shared = members.some((m) => m.user_id !== who.userId && m.display_name === who.name);
  const candidates = [...(shared ? [] : [who.name]), ...(who.email ? [`${who.name} (${who.email})`] : [])];
  const free = candidates.find((label) => !takenByOther(label));
  if (free !== undefined) return free;
  for (let n = 2; ; n++) {
    const label = `${who.name} (${n})`;
    if (!takenByOther(label)) return label;
  }
}

/**
 * A sent message as a draft to edit: its mentions as labels, each kept as a pick of the same person, so that
 * the draft sent back unchanged is the message as it was. A label is never one the message's own text
 * already reads as "@label" (that text would become a mention), and a mention followed by a letter (as in
 * "@Bob's") gets a label that ends in ")" so that it still reads as one.
 */
export function readable(content: string, members: Member[]): { text: string; picks: Picks } {
  const picks: Picks = new Map();
  const parts = segments(content);
  const plain = parts.flatMap((s) => ("text" in s ? [s.text] : [])).join("\n");
  const text = parts
    .map((s, i) => {
      if ("text" in s) return s.text;
      const { userId, name } = s.mention;
      const email = members.find((m) => m.user_id === userId)?.email;
      const next = parts[i + 1];
      const glued = next !== undefined && "text" in next && WORD_START.test(next.text);
      const avoid = (label: string) => (glued && WORD_END.test(label)) || labelPattern([label]).test(plain);
      const label = labelFor({ userId, name, email }, members, picks, avoid);
      picks.set(label, { userId, name });
      return `@${label}`;
    })
    .join("");
  return { text, picks };
}

const WORD_START = /^[\p{L}\p{N}]/u;
const WORD_END = /[\p{L}\p{N}]$/u;

/** "@label" for any of `labels`, longest first; a label ending in a letter or digit only where a word ends
 *  ("@Ada" is not the start of "@Adam"), one ending in ")" anywhere. */
function labelPattern(labels: string[]): RegExp {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const alternatives = [...labels]
    .sort((a, b) => b.length - a.length)
    .map((label) => escape(label) + (WORD_END.test(label) ? "(?![\\p{L}\\p{N}])" : ""));
  return new RegExp(`@(${alternatives.join("|")})`, "gu");
}

/** The draft with the `@query` at `start` replaced by "@Name ", and where the caret goes after it. */
export function insertMention(draft: string, start: number, caret: number, name: string): { draft: string; caret: number } {
  const inserted = `@${name} `;
  return { draft: draft.slice(0, start) + inserted + draft.slice(caret), caret: start + inserted.length };
}

/**
 * The draft as sent: each "@label" the person picked from the list becomes the wire form of that person
 * under their name. A picked label the person then edited away is simply text. Longer labels go first, so
 * "@Ada Lovelace" wins over "@Ada".
 */
export function toWire(draft: string, picked: ReadonlyMap<string, MentionPick>): string {
  if (picked.size === 0) return draft;
  return draft.replace(labelPattern([...picked.keys()]), (_, label: string) => {
    const { userId, name } = picked.get(label)!;
    return mentionToken(userId, name);
  });
}
