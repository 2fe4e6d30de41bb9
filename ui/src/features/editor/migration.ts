// Converting a document written before the rich editor (Markdown in plain text) into blocks and marks,
// once, even when several devices convert it at the same time.
//
// Each conversion deletes the old text and inserts it again as blocks, so two ordinary conversions of
// the same document merge into its content twice. Here every device makes the conversion as the same
// change: its actor, time, message and dependencies come from the document's heads alone, and
// automerge's operations follow from those, so the change has the same hash everywhere and automerge
// keeps one copy. Devices that convert from different heads (a teammate edited the old text offline) would
// still each convert, which is why the editor converts only once the node has what the relay has.
import type { DocHandle } from "@automerge/automerge-repo/slim";
import { next as A } from "@automerge/automerge/slim";
import { events, type Status } from "../../bindings";
import { subscribe } from "../../lib/events";
import { when } from "../../lib/when";
import { convertMarkdown, needsConversion } from "./markdown";

/// The message of every conversion change (shown in the document's history).
export const CONVERSION_MESSAGE = "Converted from Markdown";

/// The actor that converts the document at `heads`: a SHA-256 of them, so every device names the same one.
export async function conversionActor(heads: A.Heads): Promise<string> {
  const input = new TextEncoder().encode(`teamflow-markdown-conversion:${[...heads].sort().join(",")}`);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
  return Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/// The change that converts `doc`, made as every device makes it; null when it needs no conversion.
/// `doc` itself is left as it is (the conversion is made on a copy).
export async function conversionChange(doc: A.Doc<unknown>): Promise<A.Change | null> {
  if (!needsConversion(doc)) return null;
  const heads = A.getHeads(doc);
  const actor = await conversionActor(heads);
  // The latest time among the heads' changes: the same everywhere, and where the conversion belongs in
  // the history (it changes nothing a person wrote).
  const time = Math.max(0, ...heads.map((h) => A.inspectChange(doc, h)?.time ?? 0));
  const copy = A.clone(doc, actor);
  try {
    const converted = A.change(copy, { message: CONVERSION_MESSAGE, time }, (d) => void convertMarkdown(d as A.Doc<unknown>));
    return A.getLastLocalChange(converted) ?? null;
  } finally {
    A.free(copy);
  }
}

/// Converts the document in `handle` if it needs it; true when it did. A change that arrives while the
/// conversion is made (the actor is named asynchronously) means converting again from the new heads: a
/// conversion applied beside it would be concurrent with it, and if it was another device's conversion,
/// the content would be doubled.
export async function convertOnce(handle: DocHandle<unknown>): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const doc = handle.doc();
    const change = await conversionChange(doc);
    if (!change) return false;
    if (sameHeads(A.getHeads(handle.doc()), A.getHeads(doc))) {
      handle.update((current) => A.applyChanges(current, [change])[0]);
      return true;
    }
  }
  // Changes keep arriving (someone is typing into it right now): left for the next opening.
  return false;
}

function sameHeads(a: A.Heads, b: A.Heads): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

/// Whether the node holds everything the relay has of `url`, or cannot learn more now (offline, or the
/// relay does not take the document yet): the moment to convert it. While the link is still connecting,
/// the relay may have more.
export function settledWithRelay(status: Status, url: string): boolean {
  const state = status.documents[url];
  return status.link === "offline" || (status.link === "online" && (state === "synced" || state === "local_only"));
}

/// Resolves true once the status (`current()` now, then each status event) satisfies `ready`, or false
/// after `timeoutMs`.
export function whenStatus(current: () => Status, ready: (status: Status) => boolean, timeoutMs: number): Promise<boolean> {
  let latest = current();
  return when(
    () => ready(latest),
    (recheck) =>
      subscribe(events.statusChanged, (status) => {
        latest = status;
        recheck();
      }),
    timeoutMs,
  );
}
