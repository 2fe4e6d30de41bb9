// Readying the typing path on a long document before the editor takes keys. JavaScriptCore runs code in
// slow tiers first and compiles it further once it has run hot, and how hot depends on how long its
// loops ran. The first keystrokes into a long document run the binding's and Automerge's code on large
// structures (the spans of every block, the document's columns in WebAssembly) in those tiers, and the
// editor's own path (reading the browser's edit back, the view's update) cold as well: in the window, the
// first dozen keys into the automerge-paper document took 20 to 50 ms each against 7 to 10 once compiled.
// Warming on a small document does not reach the loops' counts; typing into a copy of this one does. The
// keys go through the editor's real view (drawn, not shown) and the browser's own editing, then the view
// is handed the real document: the copy's stand-in handle leaves automerge-repo's own handle code cold (a
// few percent of a key), as a real handle would cost a full diff of the document to make.
import { next as A } from "@automerge/automerge/slim";
import type { DocHandle } from "@automerge/prosemirror";
import { Selection } from "prosemirror-state";
import type { EditorView } from "prosemirror-view";
import { windowActor } from "./opening";

/// Documents shorter than this (characters) are quick to type into from the first key.
export const WARM_FROM_CHARS = 20_000;

/// How many keys the warm-up types: at the end of the copy (where the walks over the blocks are longest),
/// then at its start, then deletes at the end. Enough for the per-key code to reach JavaScriptCore's
/// optimising tiers (the window's keys stop missing frames after about a dozen).
export const WARM_KEYS = { end: 24, start: 4, deletes: 4 };

/// A copy of a long document for the warm-up to type into, behind a stand-in for its handle.
export type WarmingCopy = {
  handle: DocHandle<unknown>;
  /// Drops the copy; the handle must not be used afterwards.
  free(): void;
};

/// A copy of `doc` to warm the typing path on, or null for a short document. Under an actor that sorts
/// last, as the window's own (`windowActor`): the path warmed is the one the real keystrokes take, without
/// renumbering the copy's history. `doc` is untouched.
export function warmingCopy(doc: A.Doc<unknown>): WarmingCopy | null {
  const text = (doc as { text?: unknown }).text;
  if (typeof text !== "string" || text.length < WARM_FROM_CHARS) return null;
  let copy: A.Doc<unknown> | null = A.clone(doc, windowActor());
  const handle: DocHandle<unknown> = {
    doc: () => copy!,
    change: (fn) => void (copy = A.change(copy!, fn as (d: unknown) => void)),
    on() {},
    off() {},
  };
  return {
    handle,
    free() {
      if (copy) A.free(copy);
      copy = null;
    },
  };
}

let warmedOnce = false;

/// `warmingCopy`, once per window: compiled code stays compiled, so the next long document opened in the
/// same session is quick from its first key without paying for the copy again.
export function warmingCopyOnce(doc: A.Doc<unknown>): WarmingCopy | null {
  if (warmedOnce) return null;
  const copy = warmingCopy(doc);
  warmedOnce = copy !== null;
  return copy;
}

/// Types `keys` into `view`, which must show a warming copy, as a person's keys arrive: a `keydown` for
/// the editor's keymaps, then the browser's own editing of the page (`insertText`, `delete`), which the
/// editor reads back and dispatches. Where the browser does not edit on command, the editor inserts the
/// text itself (the binding's and the view's path without the browser's). Leaves the view unfocused.
export async function typeInto(view: EditorView, keys = WARM_KEYS): Promise<void> {
  view.focus();
  try {
    for (const [place, count, deleting] of [
      [Selection.atEnd, keys.end, false],
      [Selection.atStart, keys.start, false],
      [Selection.atEnd, keys.deletes, true],
    ] as const) {
      if (view.isDestroyed) return;
      view.dispatch(view.state.tr.setSelection(place(view.state.doc)));
      for (let i = 0; i < count; i++) {
        if (view.isDestroyed) return;
        const key = deleting ? "Backspace" : "a";
        const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
        if (!view.dom.dispatchEvent(event)) continue;
        if (!browserEdits(deleting ? "delete" : "insertText", key)) {
          const { from, to } = view.state.selection;
          view.dispatch(deleting ? view.state.tr.delete(Math.max(0, from - 1), to) : view.state.tr.insertText(key));
        }
        // The editor reads the browser's edit from its mutation observer, a microtask away.
        await Promise.resolve();
      }
    }
  } finally {
    if (!view.isDestroyed) (view.dom as HTMLElement).blur();
  }
}

/// The browser's own editing of the focused editable element, as a key would make it; false where the
/// browser does not edit on command.
function browserEdits(command: "insertText" | "delete", text: string): boolean {
  if (typeof document.execCommand !== "function") return false;
  return command === "delete" ? document.execCommand("delete") : document.execCommand("insertText", false, text);
}
