// The node's sync status, followed once for the window and read by each component for the part it shows
// (`useStatus`): while a person types, the status changes a few times a keystroke (the document syncing,
// then synced), and only what shows that part is drawn again, not the workspace around the editor.
import { useRef, useSyncExternalStore } from "react";
import { commands, events, type Status } from "../../bindings";
import { call } from "../../lib/call";
import { follow } from "../../lib/events";

/** Until the node first answers: signed in (the window only shows the workspace then), still connecting. */
export const EMPTY_STATUS: Status = { signed_in: true, credentials: null, link: "connecting", peers: [], pending: 0, failed: 0, documents: {} };

let current: Status = EMPTY_STATUS;
const listeners = new Set<() => void>();

/** The status as last heard, for code outside a render (an async step asking whether it may go on). */
export function currentStatus(): Status {
  return current;
}

/** Takes `status` as the node's, and tells every reader. The follower's; tests show a status with it. */
export function setStatus(status: Status): void {
  current = status;
  for (const listener of [...listeners]) listener();
}

function listen(listener: () => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/**
 * Follows the node's status (its events, and one read for the status before the first): `heard` gets each,
 * with whether it came from an event. Answers the cleanup, which forgets the status (the next session
 * starts from `EMPTY_STATUS`, not from this one's last word).
 */
export function followStatus(heard: (status: Status, fromEvent: boolean) => void = () => {}): () => void {
  const stop = follow(events.statusChanged, () => call(commands.status()), (status, fromEvent) => {
    setStatus(status);
    heard(status, fromEvent);
  });
  return () => {
    stop();
    setStatus(EMPTY_STATUS);
  };
}

/**
 * The part of the status `select` reads; the caller is drawn again only when that part changes (`same`:
 * equal values, or records and arrays whose entries are, so that a selection may build a small object).
 */
export function useStatus<T>(select: (status: Status) => T): T {
  const last = useRef<{ value: T } | null>(null);
  const snapshot = () => {
    const value = select(current);
    if (last.current !== null && same(last.current.value, value)) return last.current.value;
    last.current = { value };
    return value;
  };
  return useSyncExternalStore(listen, snapshot);
}

/** Whether `a` and `b` are equal values, or arrays or plain records whose entries are (one level deep). */
export function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const aKeys = Object.keys(a);
  if (aKeys.length !== Object.keys(b).length) return false;
  return aKeys.every((key) => Object.prototype.hasOwnProperty.call(b, key) && Object.is((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}
