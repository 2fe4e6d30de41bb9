// History as a person reads it: a burst of typing by one device is one version, not one per keystroke,
// named by whose it is (an actor's first change says so, `authorMessage`).
import { AUTHOR_PREFIX, type HistoryEntry } from "../../bindings";

/** The message of an actor's first change, naming its author (a user id), as the node's own changes do. */
export const authorMessage = (user: string) => `${AUTHOR_PREFIX}${user}`;

export interface Version {
  /** The last change of the burst: viewing the version shows the document right after it. */
  hash: string;
  actor: string;
  /** The user id the actor's changes name, when one of them does. */
  author?: string;
  /** The message of the burst's first change when it is not an author's (say, "Converted from Markdown"). */
  message?: string;
  /** Unix milliseconds of the burst's first and last change. */
  from: number;
  to: number;
  changes: number;
}

/// Before this (1973 in milliseconds), a change's time is taken to be in seconds: Automerge's JavaScript
/// clients write seconds, this app's own changes milliseconds.
const SECONDS_BEFORE = 1e11;

/** Changes (oldest first) grouped into versions, newest first. A pause of `gapMs` starts a new one. */
export function versions(history: HistoryEntry[], gapMs = 60_000): Version[] {
  const authors = new Map<string, string>();
  for (const entry of history) {
    if (entry.message?.startsWith(AUTHOR_PREFIX) && !authors.has(entry.actor)) authors.set(entry.actor, entry.message.slice(AUTHOR_PREFIX.length));
  }
  const out: Version[] = [];
  for (const entry of history) {
    const h = entry.timestamp > 0 && entry.timestamp < SECONDS_BEFORE ? { ...entry, timestamp: entry.timestamp * 1000 } : entry;
    const last = out[out.length - 1];
    if (last && last.actor === h.actor && h.timestamp - last.to <= gapMs) {
      last.hash = h.hash;
      last.to = h.timestamp;
      last.changes++;
    } else {
      const author = authors.get(h.actor);
      const message = h.message && !h.message.startsWith(AUTHOR_PREFIX) ? h.message : undefined;
      out.push({ hash: h.hash, actor: h.actor, ...(author ? { author } : {}), ...(message ? { message } : {}), from: h.timestamp, to: h.timestamp, changes: 1 });
    }
  }
  return out.reverse();
}

/**
 * Whose a version is, as the history list says it: "You", a teammate's name, the change's own message
 * (a conversion), or the device when no change of its actor named anyone (a client other than this app).
 * `names` maps user ids to names; null when the team's members could not be read.
 */
export function whose(version: Version, names: Map<string, string> | null, me: string): string {
  if (version.message) return version.message;
  if (!version.author) return `device ${version.actor.slice(-6)}`;
  if (version.author === me) return "You";
  return names?.get(version.author) ?? (names ? "a former member" : "a teammate");
}
