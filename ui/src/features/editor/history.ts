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

/** Changes (oldest first) grouped into versions, newest first. A pause of `gapMs` starts a new one. */
export function versions(history: HistoryEntry[], gapMs = 60_000): Version[] {
  const out: Version[] = [];
  for (const h of history) {
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
