// Subscribing to the generated events from a React effect: one call, one cleanup.
import { events, type ServerMessage, type TeamId } from "../bindings";

type Listenable<T> = { listen: (handler: (event: { payload: T }) => void) => Promise<() => void> };

/** Calls `handler` with each event's payload; answers the effect's cleanup. */
export function subscribe<T>(event: Listenable<T>, handler: (payload: T) => void): () => void {
  const unlisten = event.listen((e) => handler(e.payload));
  return () => void unlisten.then((stop) => stop());
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
