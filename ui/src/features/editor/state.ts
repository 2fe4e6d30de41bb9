// The editor's state over one Automerge document: the binding's sync plugin (local steps become changes
// of the document, its changes become transactions) with the schema, keys, typed characters, Markdown
// shortcuts and teammates' carets.
import { next as A } from "@automerge/automerge/slim";
import { decodeHeads, encodeHeads, type UrlHeads } from "@automerge/automerge-repo/slim";
import { init, knownSpans, CARET_PLACED, spansOf, type DocHandle } from "@automerge/prosemirror";
import { carrySpans } from "@automerge/prosemirror/dist/spans.js";
import { positionsOf } from "@automerge/prosemirror/dist/traversal.js";
import { EditorState, Selection, type Transaction } from "prosemirror-state";
import { caretsPlugin } from "./carets";
import { directTyping } from "./directTyping";
import { authorMessage } from "./history";
import { editorKeys, markdownRules } from "./commands";
import { adapter, TEXT_PATH } from "./schema";

/// The editor's state over `handle`'s text. With `schedule`, keystrokes are drawn first and go into the
/// document when it calls back (`syncPlugin` in the binding; the window passes `afterFrame`): a key's frame
/// does not wait for Automerge.
export function editorState(handle: DocHandle<unknown>, author?: string, schedule?: (commit: (drawnAt?: number) => void) => void): EditorState {
  const bound = stamped(handle, author);
  const { schema, pmDoc, plugin } = init(bound, TEXT_PATH, { schemaAdapter: adapter, schedule });
  // The binding maps positions through an index of the text's blocks, carried from keystroke to
  // keystroke; made now, while the document opens, rather than on the first key (it takes a walk of
  // every block).
  positionsOf(adapter, spansOf(bound.doc() as A.Doc<unknown>, TEXT_PATH));
  return EditorState.create({ schema, doc: pmDoc, plugins: [directTyping(), markdownRules(), ...editorKeys(), plugin, caretsPlugin()] });
}

/// The actors whose first change this window made, with its author named.
const named = new Set<string>();

/// The handle the binding writes through: each change carries the time it was made in Unix milliseconds,
/// as the node's own changes do (automerge-js would otherwise write seconds), and the first change of each
/// actor names `author` (a user id; `authorMessage`), which history reads for all of that actor's changes.
export function stamped<T>(handle: DocHandle<T>, author?: string): DocHandle<T> {
  const real = handle as DocHandle<T> & {
    change(fn: (doc: T) => void, options?: { time?: number; message?: string }): void;
    changeAt(heads: UrlHeads, fn: (doc: T) => void, options?: { time?: number; message?: string }): UrlHeads | undefined;
  };
  /// The options of this actor's next change: its time, and the author's name if no change of its has yet.
  const stamp = (): { time: number; message?: string; names?: string } => {
    const actor = author ? A.getActorId(real.doc() as A.Doc<T>) : undefined;
    if (!author || !actor || named.has(actor)) return { time: Date.now() };
    return { time: Date.now(), message: authorMessage(author), names: actor };
  };
  /// Makes a change with `options`; an actor is named once a change of its was made (a callback that
  /// changed nothing named nobody, and the next change will).
  const made = (options: { time: number; message?: string; names?: string }, make: (options: { time: number; message?: string }) => void) => {
    const { names, ...rest } = options;
    if (!names) return make(rest);
    const before = A.getHeads(real.doc() as A.Doc<T>).join(",");
    make(rest);
    if (A.getHeads(real.doc() as A.Doc<T>).join(",") !== before) named.add(names);
  };
  return {
    doc: () => currentDoc(real),
    change: (fn: (doc: T) => void) => made(stamp(), (options) => real.change(fn, options)),
    // The binding's, for keys typed on a text a change it could not draw has moved on from (rare).
    changeAt: (heads: A.Heads, fn: (doc: T) => void) => {
      let at: UrlHeads | undefined;
      made(stamp(), (options) => (at = real.changeAt(encodeHeads(heads), fn, options)));
      return at && decodeHeads(at);
    },
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
  // The document drawn again whole places the caret itself (mapped over it, the caret would go to the start).
  if (!before.empty || !remote || changes.some((t) => t.getMeta(CARET_PLACED))) return next;
  const pos = transactions.reduce((p, t) => t.mapping.map(p, -1), before.head);
  if (pos === next.selection.head) return next;
  return next.apply(next.tr.setSelection(Selection.near(next.doc.resolve(pos), -1)).setMeta("addToHistory", false));
}

/// The last document object seen per handle, and its heads.
const lastSeen = new WeakMap<object, { doc: unknown; heads: string }>();

/// The document `handle` holds now, with the spans of its text known when the last object seen had them
/// and nothing changed since. Every sync message makes a new document object, even one that brings nothing
/// (the node's answer to each keystroke's change); the binding keeps the spans it carries per object, so
/// without this the keystroke after such an answer read the whole text's spans again (`A.spans`: 65 to
/// 94 ms on the automerge-paper document).
export function currentDoc<D>(handle: { doc(): D }): D {
  const doc = handle.doc();
  const last = lastSeen.get(handle);
  if (last?.doc === doc) return doc;
  const now = doc as A.Doc<unknown>;
  const heads = A.getHeads(now).join(",");
  const before = last?.doc as A.Doc<unknown> | undefined;
  if (before && last?.heads === heads && knownSpans(before, TEXT_PATH) && !knownSpans(now, TEXT_PATH)) {
    // The same heads: the same text. No patches to apply, the spans only move to the new object.
    carrySpans(before, now, TEXT_PATH, []);
  }
  lastSeen.set(handle, { doc, heads });
  return doc;
}
