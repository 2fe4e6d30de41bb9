// Chat as shown: the relay's messages in order, then this device's own messages still on their way
// (pending) or refused (failed), until the relay's copy replaces them.
import type { Message, OutboxEntry, TeamId, UserId } from "../../bindings";
import { sameDay } from "../../lib/dates";

export type ChatItem =
  | { key: string; state: "sent"; message: Message }
  | { key: string; state: "pending" | "failed"; content: string; clientId: string; error: string | null };

export function chatItems(team: TeamId, messages: Message[], outbox: OutboxEntry[]): ChatItem[] {
  const delivered = new Set(messages.map((m) => m.client_id));
  const bySeq = [...new Map(messages.map((m) => [m.seq, m])).values()].sort((a, b) => a.seq - b.seq);
  const items: ChatItem[] = bySeq.map((m) => ({ key: `m${m.seq}`, state: "sent", message: m }));
  for (const entry of outbox) {
    if (entry.team_id !== team || entry.kind !== "message" || delivered.has(entry.client_id)) continue;
    items.push({ key: `o${entry.client_id}`, state: entry.state, content: entry.content, clientId: entry.client_id, error: entry.error });
  }
  return items;
}

/**
 * Merges a page or a live message into what is shown, by `seq`. A copy from before what is shown (a page
 * read before an edit or a deletion can arrive after it) is not taken: a message shown deleted stays
 * deleted, and one with a higher change number (the relay's order of changes) stays.
 */
export function mergeMessages(current: Message[], incoming: Message[]): Message[] {
  const bySeq = new Map(current.map((m) => [m.seq, m]));
  for (const m of incoming) {
    const shown = bySeq.get(m.seq);
    const older = shown && ((shown.deleted && !m.deleted) || (shown.change_seq ?? 0) > (m.change_seq ?? 0));
    if (!older) bySeq.set(m.seq, m);
  }
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** Whether one of the team's messages that was waiting in the outbox has left it: delivered (its relay copy
 * is now in the history, which may not have been read since) or discarded. */
export function messageLeftOutbox(team: TeamId, before: OutboxEntry[], after: OutboxEntry[]): boolean {
  const still = new Set(after.map((entry) => entry.client_id));
  return before.some((entry) => entry.team_id === team && entry.kind === "message" && !still.has(entry.client_id));
}

/**
 * The first message a teammate wrote after `readSeq` (what was read when the chat opened), where "New"
 * is drawn; none once everything shown was read. Pages read back move it to the real first one.
 */
export function firstUnread(items: ChatItem[], readSeq: number | null, me: UserId): string | null {
  if (readSeq === null) return null;
  const first = items.find((item) => item.state === "sent" && item.message.seq > readSeq && item.message.author_id !== me && !item.message.deleted);
  return first?.key ?? null;
}

/** How long after one of a person's messages their next still reads as part of the same run. */
export const RUN_GAP_MS = 5 * 60_000;

/**
 * Whether the sent message at `i` continues the one just above it, as chat apps draw it (without the name
 * and avatar again): the same person under the same name (a mirrored Slack author is another), the same
 * day, less than `RUN_GAP_MS` later, and nothing drawn between them (a message still sending, "New").
 */
export function continuesRun(items: ChatItem[], i: number, unreadKey: string | null): boolean {
  const item = items[i];
  const above = items[i - 1];
  if (!above || item.state !== "sent" || above.state !== "sent" || item.key === unreadKey) return false;
  const [a, b] = [above.message, item.message];
  const gap = Date.parse(b.created_at) - Date.parse(a.created_at);
  return (
    a.author_id === b.author_id &&
    a.author_name === b.author_name &&
    gap >= 0 &&
    gap < RUN_GAP_MS &&
    sameDay(new Date(a.created_at), new Date(b.created_at))
  );
}
