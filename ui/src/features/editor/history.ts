// History as a person reads it: a burst of typing by one device is one version, not one per keystroke.
import type { HistoryEntry } from "../../bindings";

export interface Version {
  /** The last change of the burst: viewing the version shows the document right after it. */
  hash: string;
  actor: string;
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
  const out: Version[] = [];
  for (const entry of history) {
    const h = entry.timestamp > 0 && entry.timestamp < SECONDS_BEFORE ? { ...entry, timestamp: entry.timestamp * 1000 } : entry;
    const last = out[out.length - 1];
    if (last && last.actor === h.actor && h.timestamp - last.to <= gapMs) {
      last.hash = h.hash;
      last.to = h.timestamp;
      last.changes++;
    } else {
      out.push({ hash: h.hash, actor: h.actor, from: h.timestamp, to: h.timestamp, changes: 1 });
    }
  }
  return out.reverse();
}
