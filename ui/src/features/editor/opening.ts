// Opening a document in the window, quickly even when its history is long: the preview the node kept (its
// spans) is drawn at once, and a document the window's repo does not hold yet is loaded from its saved form
// in one piece, rather than synced change by change over the pipe (seconds for a long history).
import { pmDocFromSpans } from "@automerge/prosemirror";
import { parseAutomergeUrl, type AutomergeUrl, type DocHandle, type Repo } from "@automerge/automerge-repo/slim";
import { next as A } from "@automerge/automerge/slim";
import type { Node } from "prosemirror-model";
import { adapter } from "./schema";
import { syncSeeds } from "./seeds";

/// The document drawn from kept spans (JSON); null when there are none or they cannot be drawn, since a
/// preview is only ever a head start.
export function previewDoc(spans: string | null): Node | null {
  if (!spans) return null;
  try {
    const parsed = JSON.parse(spans) as unknown;
    return Array.isArray(parsed) && parsed.length > 0 ? pmDocFromSpans(adapter, parsed.map(revive)) : null;
  } catch {
    return null;
  }
}

/// A span as `A.spans` gives it: JSON has no immutable strings, which the binding expects a block's type and
/// parents to be.
function revive(span: { type: string; value: unknown; marks?: unknown }): A.Span {
  if (span.type !== "block") return span as A.Span;
  const block = span.value as { type: unknown; parents?: unknown[] };
  return {
    type: "block",
    value: {
      ...block,
      type: new A.ImmutableString(String(block.type)),
      parents: (block.parents ?? []).map((p) => new A.ImmutableString(String(p))),
    },
  } as A.Span;
}

/// The actor the window writes a newly loaded document with: one that sorts after every actor the
/// document already has. Automerge keeps a document's actors sorted and refers to them by position, so
/// an actor that sorts among them renumbers every operation of the document when its first change is
/// made or received: the whole history rewritten, tens of milliseconds on a long one, in the window's
/// first keystroke and again on the node and every peer. One that sorts last is appended instead. The
/// prefix puts it after random actors and the time after the window's earlier sessions; the random rest
/// keeps it unique. (History names people by the author an actor's first change names, `history.ts`.)
export function windowActor(now = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  const time = Math.max(0, Math.floor(now)).toString(16).padStart(12, "0").slice(-12);
  return `ffff${time}${Array.from(random, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/// The document's handle in `repo`. When the repo does not hold it yet, `saved` (the node's saved document)
/// is loaded first, under the window's own actor (`windowActor`); the repo then syncs it with the node as
/// usual, so nothing newer is missed, starting from the loaded heads, which the node has too (`seeds.ts`).
export async function findDocument<T>(repo: Repo, url: string, saved: () => Promise<Uint8Array>): Promise<DocHandle<T>> {
  const { documentId } = parseAutomergeUrl(url as AutomergeUrl);
  if (!repo.handles[documentId]) {
    const bytes = await saved();
    // Imported empty and then loaded: `import` would load into a document with a random actor.
    const handle = repo.import<T>(new Uint8Array(0), { docId: documentId });
    handle.update(() => A.load<T>(bytes, { actor: windowActor() }));
    // The handle is complete once loaded: it need not wait for the node to answer before it can be edited.
    handle.doneLoading();
    // In the same turn as the import: the repo starts syncing the document on a later one.
    syncSeeds(repo)?.seed(documentId, A.getHeads(handle.doc()));
  }
  return repo.find<T>(url as AutomergeUrl);
}

/// Resolves after the browser has drawn a frame: what was just rendered is on screen before long work.
export function afterPaint(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}
