// The one way the UI calls Rust: a generated command's result, unwrapped, with the typed error kept.
import type { AppError } from "../bindings";

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: AppError };

/** Thrown by `call`: carries the command's typed error for the UI to branch on. */
export class AppFailure extends Error {
  constructor(readonly error: AppError) {
    super(describe(error));
  }
}

export async function call<T>(result: Promise<Result<T>>): Promise<T> {
  const r = await result;
  if (r.status === "error") throw new AppFailure(r.error);
  return r.data;
}

/** A sentence a person can act on, for any error. */
export function describe(error: AppError): string {
  switch (error.kind) {
    case "signed_out":
      return "You are signed out. Sign in again to continue.";
    case "offline":
      // Only actions that need the relay answer this: what the app queues (messages, projects, documents)
      // never fails offline, so nothing here was kept for later.
      return "The relay can't be reached, so this was not done: try again once you're connected.";
    case "certificate":
      return `Not connected: ${error.message}`;
    case "refused":
      return error.message;
    case "not_cached":
      return "Not available offline yet: connect once to fetch it.";
    case "not_found":
      return `The ${error.what} was not found.`;
    case "disconnected":
      return "The editor lost its link to this device's documents; it reconnects by itself.";
    case "data_in_use":
      return `Another TeamFlow on this device has this data open (${error.path}). Close it (its window, or the teamflow command), then try again.`;
    case "invalid":
    case "local":
      return error.message;
  }
}

/**
 * The words for a failure in one situation: a relay's refusal chosen by its stable `code` (`not_found`,
 * `forbidden`, ...), and `offline` for an unreachable relay (no relay code is called that), where the
 * general words would not fit (they promise queued work goes out later, and only some does). Anything
 * without words here reads as `messageOf` would.
 */
export function explain(e: unknown, texts: Partial<Record<string, string>>): string {
  if (e instanceof AppFailure && e.error.kind === "refused") return texts[e.error.code] ?? e.message;
  if (e instanceof AppFailure && e.error.kind === "offline") return texts.offline ?? e.message;
  return messageOf(e);
}

/** Whether `e` is the relay's refusal with this stable `code`. */
export function isRefusal(e: unknown, code: string): boolean {
  return e instanceof AppFailure && e.error.kind === "refused" && e.error.code === code;
}

/** The message of anything thrown, for display. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
