// A stand-in for the generated bindings in store and component tests (there is no Rust behind them):
// commands answer what a test sets, and the test emits the events, e.g.
// `vi.mock("../../bindings", () => import("../../testing/fakeBindings"))`.
import type { AppError, ServerMessage, TeamId } from "../bindings";
import { teamSettings } from "./fixtures";

type Handler = (event: { payload: unknown }) => void;

function fakeEvent() {
  const handlers = new Set<Handler>();
  return {
    listen: (handler: Handler) => {
      handlers.add(handler);
      return Promise.resolve(() => void handlers.delete(handler));
    },
    emit: (payload: unknown) => handlers.forEach((handler) => handler({ payload })),
  };
}

export const events = { roomEvent: fakeEvent(), statusChanged: fakeEvent(), quitRequested: fakeEvent(), linkOpened: fakeEvent() };

// The generated constants, as `bindings.ts` has them (that module is what this one stands in for).
export const RELAY_PEER_ID = "teamflow-relay" as const;
export const WINDOW_PEER_ID = "teamflow-window" as const;
export const AUTHOR_PREFIX = "teamflow-author:" as const;
export const MIRRORED_CLIENT_PREFIX = "slack-" as const;

/**
 * What each command answers, by name: a value, or a function of the command's arguments (called on each
 * call, for answers that change as the test goes, or a promise of the answer); an empty list (or page) when
 * the test set nothing.
 */
export const answers: Record<string, unknown> = {};

/** What a command answers when the test set nothing and an empty list is not its shape. */
const EMPTY: Record<string, unknown> = {
  activity: { items: [] },
  teamSettings: teamSettings(),
};

/** Commands that cannot fail answer their value itself, not a result (as `bindings.ts` has them). */
const INFALLIBLE: Record<string, unknown> = { takeOpenedLink: null, quit: undefined };

/** Commands that fail, by name, with the error they answer (checked before `answers`). */
export const failures: Record<string, AppError> = {};

/** Every command called, with its arguments, in order. */
export const calls: [string, ...unknown[]][] = [];

export const commands = new Proxy(
  {},
  {
    get:
      (_, name: string) =>
      async (...args: unknown[]) => {
        calls.push([name, ...args]);
        const failure = failures[name];
        if (failure) return { status: "error", error: failure };
        const answer = answers[name];
        // A function may answer a promise, for a test that decides when the command returns.
        const data = typeof answer === "function" ? await answer(...args) : answer;
        if (name in INFALLIBLE) return data ?? INFALLIBLE[name];
        return { status: "ok", data: data ?? EMPTY[name] ?? [] };
      },
  },
);

export function emitRoom(team: TeamId, frame: ServerMessage) {
  events.roomEvent.emit({ team_id: team, frame });
}

/** Forgets what the previous test set and called. */
export function reset() {
  for (const name of Object.keys(answers)) delete answers[name];
  for (const name of Object.keys(failures)) delete failures[name];
  calls.length = 0;
}
