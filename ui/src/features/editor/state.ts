// The editor's state over one Automerge document: the binding's sync plugin (local steps become changes
// of the document, its changes become transactions) with the schema, keys, Markdown shortcuts and
// teammates' carets.
import { init, type DocHandle } from "@automerge/prosemirror";
import { EditorState, Selection, type Transaction } from "prosemirror-state";
import { caretsPlugin } from "./carets";
import { editorKeys, markdownRules } from "./commands";
import { adapter, TEXT_PATH } from "./schema";

export function editorState(handle: DocHandle<unknown>): EditorState {
  const { schema, pmDoc, plugin } = init(stamped(handle), TEXT_PATH, { schemaAdapter: adapter });
  return EditorState.create({ schema, doc: pmDoc, plugins: [markdownRules(), ...editorKeys(), plugin, caretsPlugin()] });
}

/// The handle the binding writes through: each change carries the time it was made in Unix milliseconds,
/// as the node's own changes do (automerge-js would otherwise write seconds).
export function stamped<T>(handle: DocHandle<T>): DocHandle<T> {
  const real = handle as DocHandle<T> & { change(fn: (doc: T) => void, options?: { time?: number }): void };
  return {
    doc: () => real.doc(),
    change: (fn) => real.change(fn, { time: Date.now() }),
    on: (event, callback) => real.on(event, callback),
    off: (event, callback) => real.off(event, callback),
  };
}

/// Applies a transaction as the editor does. A teammate's text arriving exactly at my caret goes after it:
/// my caret stays where I was typing, so my next keystroke continues my own text rather than theirs.
export function applyKeepingCaret(state: EditorState, tr: Transaction): EditorState {
  const before = state.selection;
  const { state: next, transactions } = state.applyTransaction(tr);
  const changes = transactions.filter((t) => t.docChanged);
  const remote = changes.length > 0 && changes.every((t) => t.getMeta("addToHistory") === false);
  if (!before.empty || !remote) return next;
  const pos = transactions.reduce((p, t) => t.mapping.map(p, -1), before.head);
  if (pos === next.selection.head) return next;
  return next.apply(next.tr.setSelection(Selection.near(next.doc.resolve(pos), -1)).setMeta("addToHistory", false));
}
