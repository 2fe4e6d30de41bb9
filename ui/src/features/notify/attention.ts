// What needs the person, as pure functions: unread counts per team kept current from room frames, the
// total for the title and badge, and whether a message should notify.
import type { Message, MessageId, ReadState, ServerMessage, TeamId, UserId } from "../../bindings";

export type ReadStates = ReadonlyMap<TeamId, ReadState>;

/** A room frame's effect on the team's read state: a message from someone else after the read position
 * counts (and counts as a mention if it names me); read_moved is the relay's word on the new position. */
export function applyFrame(states: ReadStates, team: TeamId, frame: ServerMessage, me: UserId): ReadStates {
  const current = states.get(team);
  if (frame.type === "read_moved") {
    if (current && frame.state.read_seq < current.read_seq) return states;
    return new Map(states).set(team, frame.state);
  }
  if (frame.type !== "new_message") return states;
  const m = frame.message;
  const base: ReadState = current ?? { team_id: team, read_seq: 0, latest_seq: 0, unread: 0, mentions: 0 };
  if (m.seq <= base.latest_seq) return states; // heard before (a rejoin replays nothing twice)
  const counts = m.author_id !== me && m.seq > base.read_seq;
  return new Map(states).set(team, {
    ...base,
    latest_seq: m.seq,
    unread: base.unread + (counts ? 1 : 0),
    mentions: base.mentions + (counts && mentionsMe(m, me) ? 1 : 0),
  });
}

/** A state answered by the node replaces the kept one unless it is behind it: read less far (an answer
 * overtaken by a read_moved), or as far but knowing fewer messages (an answer overtaken by new_message
 * frames, as rooms rejoin while it is on its way). */
export function applyState(states: ReadStates, state: ReadState): ReadStates {
  const current = states.get(state.team_id);
  if (current && (state.read_seq < current.read_seq || (state.read_seq === current.read_seq && state.latest_seq < current.latest_seq))) {
    return states;
  }
  return new Map(states).set(state.team_id, state);
}

export function mentionsMe(message: Message, me: UserId): boolean {
  return (message.mentions ?? []).includes(me);
}

/** How many changed messages `countsMayChange` remembers the words of: enough for a busy afternoon. */
export const REMEMBERED_EDITS = 500;

/**
 * Whether a changed message may change its team's counts: deleted (no longer unread), or its words edited
 * (whom it mentions with them). A reaction put on or taken off changes neither, so it is not worth reading
 * the relay's counts again for, once per reaction per window. `edits` holds the edit time last heard of
 * recently changed messages (the oldest forgotten past `REMEMBERED_EDITS`); one never heard of with no
 * edit time was never edited. Updates `edits`.
 */
export function countsMayChange(message: Message, edits: Map<MessageId, string>): boolean {
  if (message.deleted) {
    edits.delete(message.id);
    return true;
  }
  const edited = message.edited_at ?? null;
  if (edited === null) return false;
  const before = edits.get(message.id);
  edits.delete(message.id);
  edits.set(message.id, edited);
  if (edits.size > REMEMBERED_EDITS) edits.delete(edits.keys().next().value!);
  return before !== edited;
}

/** Unread messages across teams, for the window title and the badge. */
export function totalUnread(states: ReadStates): number {
  let total = 0;
  for (const s of states.values()) total += Math.max(0, s.unread);
  return total;
}

/** The window's title with the total in front, as chat apps do: "(3) TeamFlow". */
export function windowTitle(total: number): string {
  return total > 0 ? `(${total}) TeamFlow` : "TeamFlow";
}

/** A team's name in the switcher with what waits there: "Studio (3)", "Studio (3, 1 @)". */
export function teamLabel(name: string, state: ReadState | undefined): string {
  if (!state || state.unread <= 0) return name;
  const count = state.unread > 99 ? "99+" : String(state.unread);
  return state.mentions > 0 ? `${name} (${count}, ${state.mentions} @)` : `${name} (${count})`;
}

export type NotifySettings = { every_message_unfocused: boolean; muted: TeamId[] };

export type Situation = {
  me: UserId;
  settings: NotifySettings;
  /** Whether the window has the focus. */
  focused: boolean;
  /** The team whose chat is on screen, if any. */
  viewing: TeamId | null;
};

/**
 * Whether a message notifies, and why. Never my own, never a muted team's. A mention does unless its chat
 * is on screen in the focused window; any other message only while the window is not focused, and only if
 * the person asked for every message.
 */
export function shouldNotify(message: Message, s: Situation): "mention" | "message" | null {
  if (message.author_id === s.me || s.settings.muted.includes(message.team_id)) return null;
  if (s.focused && s.viewing === message.team_id) return null;
  if (mentionsMe(message, s.me)) return "mention";
  if (!s.focused && s.settings.every_message_unfocused) return "message";
  return null;
}
