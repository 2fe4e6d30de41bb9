// Readying the typing path on a long document before the editor takes keys. JavaScriptCore runs code in
// slow tiers first and compiles it further once it has run hot, and how hot depends on how long its
// loops ran. The first keystrokes into a long document run the binding's and Automerge's code on large
// structures (the spans of every block, the document's columns in WebAssembly) in those tiers: in the
// shell, the first key at the end of the automerge-paper document took 35 ms cold against 13 to 27 ms
// after this warm-up, and 2 to 5 ms once compiled. Warming on a small document does not reach those
// loops' counts; typing into a copy of this one does. The copy's stand-in handle leaves automerge-repo's
// own handle code cold (a few percent of the first key): a real handle would cost a full diff of the
// document to make.
import { next as A } from "@automerge/automerge/slim";
import { Selection } from "prosemirror-state";
import { windowActor } from "./opening";
import { applyKeepingCaret, editorState } from "./state";

/// Documents shorter than this (characters) are quick to type into from the first key.
export const WARM_FROM_CHARS = 20_000;

/// Types a few keys at the start and at the end of a copy of `doc` through the editor's own path, then
/// drops the copy; `doc` is untouched. Does nothing for a short document. Returns whether it warmed; a
/// failure only costs the warm-up (the document opens all the same).
export function warmTyping(doc: A.Doc<unknown>): boolean {
  let copy: A.Doc<unknown> | null = null;
  try {
    const text = (doc as { text?: unknown }).text;
    if (typeof text !== "string" || text.length < WARM_FROM_CHARS) return false;
    // Under an actor that sorts last, as the window's own (`windowActor`): the path warmed is the one the
    // real keystrokes take, without renumbering the copy's history.
    copy = A.clone(doc, windowActor());
    const scratch = {
      doc: () => copy,
      change: (fn: (d: unknown) => void) => void (copy = A.change(copy!, fn)),
      on() {},
      off() {},
    };
    let state = editorState(scratch as never);
    for (const place of [Selection.atStart, Selection.atEnd]) {
      state = state.apply(state.tr.setSelection(place(state.doc)));
      for (let i = 0; i < 3; i++) state = applyKeepingCaret(state, state.tr.insertText("a"));
    }
    return true;
  } catch (e) {
    console.warn("warming the editor on a copy failed:", e);
    return false;
  } finally {
    if (copy) A.free(copy);
  }
}

let warmedOnce = false;

/// `warmTyping`, once per window: compiled code stays compiled, so the next long document opened in the
/// same session is quick from its first key without paying for the copy again.
export function warmTypingOnce(doc: A.Doc<unknown>): boolean {
  if (warmedOnce) return false;
  warmedOnce = warmTyping(doc);
  return warmedOnce;
}
