// When the node's link to the relay comes back. A screen that reads what only the relay has ("not
// available offline yet" until then) puts the count in its loading effect's dependencies, so that it loads
// once the relay answers, without the person leaving the screen and coming back. One count for the whole
// window, followed from the app's start (before the sign-in and the workspace), so that a screen shown
// later sees every return, even one that came while the workspace was starting.
import { useSyncExternalStore } from "react";
import { commands, events, type Link } from "../bindings";
import { call } from "./call";
import { follow } from "./events";

let returns = 0;
const listeners = new Set<() => void>();

/**
 * Counts the link's returns (the times it became "online" after being anything else) from now on; the
 * cleanup stops. The first status seen only says where the link is.
 */
export function followLink(): () => void {
  let last: Link | null = null;
  const seen = (link: Link) => {
    if (link === "online" && last !== null && last !== "online") {
      returns += 1;
      listeners.forEach((listener) => listener());
    }
    last = link;
  };
  return follow(
    events.statusChanged,
    () => call(commands.status()),
    (status, fromEvent) => {
      if (fromEvent) seen(status.link);
      else if (last === null) last = status.link;
    },
  );
}

/** How many times the link has come back; the component renders again when it does. */
export function useReconnects(): number {
  return useSyncExternalStore(listen, () => returns);
}

function listen(listener: () => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}
