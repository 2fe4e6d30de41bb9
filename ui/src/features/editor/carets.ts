// Teammates' carets and selections in the editor, and this person's selection for them. Presence speaks
// in indices of the Automerge text (block markers count as one character each), the same for every
// client; these map them to and from ProseMirror positions with the binding's own mapping, over the
// spans (and their position index) the binding keeps for the document's current state (reading them
// afresh is linear in the text).
import type { next as A } from "@automerge/automerge/slim";
import { spansOf } from "@automerge/prosemirror";
import { amSpliceIdxToPmIdx, pmRangeToAmRange } from "@automerge/prosemirror/dist/traversal.js";
import type { Node } from "prosemirror-model";
import { Plugin, PluginKey, type EditorState } from "prosemirror-state";
import { Decoration, DecorationSet } from "prosemirror-view";
import { adapter, TEXT_PATH } from "./schema";

/// A teammate on the document, where their caret (head) and selection (anchor..head) are, in text indices.
export interface Caret {
  key: string;
  name: string;
  color: string;
  anchor: number;
  head: number;
}

/// The ProseMirror position of an index into the Automerge text `doc` holds.
export function pmPosition(doc: A.Doc<unknown>, index: number, pmDoc: Node): number {
  const spans = spansOf(doc, TEXT_PATH);
  const at = amSpliceIdxToPmIdx(adapter, spans, index) ?? 1;
  return Math.max(0, Math.min(at, pmDoc.content.size));
}

/// The index into the Automerge text of a ProseMirror position.
export function textIndex(doc: A.Doc<unknown>, pos: number): number {
  const spans = spansOf(doc, TEXT_PATH);
  return pmRangeToAmRange(adapter, spans, { from: pos, to: pos })?.start ?? 0;
}

const key = new PluginKey<DecorationSet>("remote-carets");

/// The plugin that draws teammates' carets; `setCarets` replaces them.
export function caretsPlugin(): Plugin<DecorationSet> {
  return new Plugin<DecorationSet>({
    key,
    state: {
      init: () => DecorationSet.empty,
      apply(tr, set) {
        const next = tr.getMeta(key) as DecorationSet | undefined;
        return next ?? set.map(tr.mapping, tr.doc);
      },
    },
    props: { decorations: (state) => key.getState(state) },
  });
}

/// A transaction that shows `carets` (in text indices of `doc`, the document the editor shows).
export function setCarets(state: EditorState, doc: A.Doc<unknown>, carets: Caret[]) {
  const decorations: Decoration[] = [];
  for (const c of carets) {
    const head = pmPosition(doc, c.head, state.doc);
    const anchor = pmPosition(doc, c.anchor, state.doc);
    if (anchor !== head) {
      decorations.push(Decoration.inline(Math.min(anchor, head), Math.max(anchor, head), { class: "remote-selection", style: `background: ${c.color}33` }));
    }
    decorations.push(Decoration.widget(head, () => caretElement(c), { key: `${c.key}-${c.name}-${c.color}`, side: 1 }));
  }
  return state.tr.setMeta(key, DecorationSet.create(state.doc, decorations)).setMeta("addToHistory", false);
}

function caretElement(c: Caret): HTMLElement {
  const caret = document.createElement("span");
  caret.className = "remote-caret";
  caret.style.borderColor = c.color;
  caret.dataset.testid = "remote-caret";
  const name = document.createElement("span");
  name.className = "remote-name";
  name.style.background = c.color;
  name.textContent = c.name;
  caret.appendChild(name);
  return caret;
}
