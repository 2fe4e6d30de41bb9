// @mentions in chat: the wire form `@[Display Name](user:<uuid>)` (teamflow_protocol::mentions, the same
// rules), split for drawing; the composer's `@query` under the caret; the members it offers; and turning the
// composer's readable "@Name" into the wire form when sending.
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

/** The draft with the `@query` at `start` replaced by "@Name ", and where the caret goes after it. */
export function insertMention(draft: string, start: number, caret: number, name: string): { draft: string; caret: number } {
  const inserted = `@${name} `;
  return { draft: draft.slice(0, start) + inserted + draft.slice(caret), caret: start + inserted.length };
}

/**
 * The draft as sent: each "@Name" the person picked from the list becomes the wire form. A picked name the
 * person then edited away is simply text. Longer names go first, so "@Ada Lovelace" wins over "@Ada".
 */
export function toWire(draft: string, picked: ReadonlyMap<string, UserId>): string {
  const names = [...picked.keys()].sort((a, b) => b.length - a.length);
  if (names.length === 0) return draft;
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`@(${names.map(escape).join("|")})(?![\\p{L}\\p{N}])`, "gu");
  return draft.replace(pattern, (_, name: string) => mentionToken(picked.get(name)!, name));
}
