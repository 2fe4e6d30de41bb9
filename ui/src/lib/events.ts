// Subscribing to the generated events from a React effect: one call, one cleanup.
import { events, type ServerMessage, type TeamId } from "../bindings";

type Listenable<T> = { listen: (handler: (event: { payload: T }) => void) => Promise<() => void> };

/** Calls `handler` with each event's payload; answers the effect's cleanup. */
export function subscribe<T>(event: Listenable<T>, handler: (payload: T) => void): () => void {
  const unlisten = event.listen((e) => handler(e.payload));
  return () => void unlisten.then((stop) => stop());
}

/**
 * Follows state that a command reads and an event reports: listens first and reads only once the listener
 * is registered (registering crosses to Rust too, and an event sent before it is never heard), then shows
 * the read unless an event came after it was asked (the event is as new or newer). `apply` hears whether
 * the value came from an event. Answers the effect's cleanup.
 */
export function follow<T>(event: Listenable<T>, read: () => Promise<T>, apply: (value: T, fromEvent: boolean) => void): () => void {
  let heard = false;
  let stopped = false;
  const unlisten = event.listen((e) => {
    heard = true;
    if (!stopped) apply(e.payload, true);
  });
  unlisten
    .then(read)
    .then(
      (value) => {
        if (!heard && !stopped) apply(value, false);
      },
      () => {},
    );
  return () => {
    stopped = true;
    void unlisten.then((stop) => stop());
  };
}

/** Calls `handler` with each frame of one team's room. */
export function subscribeRoom(team: TeamId, handler: (frame: ServerMessage) => void): () => void {
  return subscribe(events.roomEvent, (payload) => {
    if (payload.team_id === team) handler(payload.frame);
  });
}

/** Runs every cleanup. */
export function all(...cleanups: (() => void)[]): () => void {
  return () => cleanups.forEach((cleanup) => cleanup());
}
