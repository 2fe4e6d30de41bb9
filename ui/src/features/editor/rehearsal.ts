// Typing into a long document's editor once, unseen, and taking the keys back. The first keystrokes into a
// long document are slow however warm the binding and Automerge are (`warmup.ts`): WebKit's editing of that
// element and ProseMirror's reading of the change run for the first time there, 13 to 46 ms for the
// automerge-paper document's first key in the release build against 3 to 5 ms from the fourth on. Run a
// few times on the real element, in one task between two frames, they cost that task instead. The keys
// never reach the document: the editor holds a copy of its state without the binding's sync plugin
// meanwhile.
import { syncPluginKey } from "@automerge/prosemirror";
import type { Node } from "prosemirror-model";
import { EditorState, Selection } from "prosemirror-state";
import type { EditorView } from "prosemirror-view";

/// `state`'s document, selection and plugins but the binding's sync plugin: what the editor shows while it
/// rehearses, so that nothing typed then goes into the Automerge document.
export function offstage(state: EditorState): EditorState {
  const plugins = state.plugins.filter((p) => p.spec.key !== syncPluginKey);
  return EditorState.create({ schema: state.schema, doc: state.doc, selection: state.selection, plugins });
}

/// Keys typed at each place, and deleted again: the first few keys are slow, not only the first.
export const REHEARSED_KEYS = 4;

/// Where keys are rehearsed: the start and the end of the document, each in a task of its own (the caller's).
export const REHEARSAL_PLACES = [Selection.atStart, Selection.atEnd] as const;

/// Rehearses keys at `place` in `view` (`rehearseTyping`) on its `offstage` state, then gives it its own
/// state back. Meanwhile the view's `dispatchTransaction` must apply what it gets to the view's state alone,
/// and its focus is not the person's. Returns whether it rehearsed.
export function rehearse(view: EditorView, place: (doc: Node) => Selection): boolean {
  const own = view.state;
  view.updateState(offstage(own));
  try {
    return rehearseTyping(view, place);
  } finally {
    view.updateState(own);
  }
}

/// What the rehearsal did to the page that it puts back: the focus, the selection and the scroll positions.
type Scene = { focused: Element | null; range: Range | null; scrolled: [Element, number, number][] };

/// Types `REHEARSED_KEYS` keys at `place` in `view`'s document through the page's own editing, has the
/// view read each at once, and deletes them again; then puts the focus, the page's selection and the scroll
/// positions back. `view` must show an `offstage` state (what it dispatches is applied to that state alone).
/// All of it happens in one task: nothing is drawn. Returns whether all the keys were typed, read by the
/// view and taken back; when not (a page without `execCommand`), the caller's `updateState` draws the
/// document as it is anyway.
export function rehearseTyping(view: EditorView, place: (doc: Node) => Selection): boolean {
  const page = view.dom.ownerDocument;
  if (typeof page.execCommand !== "function") return false;
  const scene = sceneOf(view.dom);
  const before = view.state.doc;
  // Not in ProseMirror's types: the observer of the view's DOM, read at once rather than in its microtask.
  const observer = (view as unknown as { domObserver: { flush(): void } }).domObserver;
  let typed = 0;
  let read = false;
  try {
    view.dispatch(view.state.tr.setSelection(place(view.state.doc)));
    view.focus();
    // Each key read before the next, as a person's are.
    while (typed < REHEARSED_KEYS && page.execCommand("insertText", false, "a")) {
      observer.flush();
      typed++;
    }
    read = !view.state.doc.eq(before);
    for (let i = 0; i < typed; i++) {
      page.execCommand("delete");
      observer.flush();
    }
  } catch (e) {
    console.warn("rehearsing a keystroke failed:", e);
  } finally {
    restore(view.dom, scene);
  }
  return typed === REHEARSED_KEYS && read && view.state.doc.eq(before);
}

function sceneOf(dom: HTMLElement): Scene {
  const page = dom.ownerDocument;
  const selection = page.getSelection();
  const scrolled: [Element, number, number][] = [];
  for (let el: Element | null = dom; el; el = el.parentElement) scrolled.push([el, el.scrollTop, el.scrollLeft]);
  const root = page.scrollingElement;
  if (root) scrolled.push([root, root.scrollTop, root.scrollLeft]);
  return { focused: page.activeElement, range: selection && selection.rangeCount > 0 ? selection.getRangeAt(0).cloneRange() : null, scrolled };
}

function restore(dom: HTMLElement, scene: Scene) {
  const page = dom.ownerDocument;
  if (scene.focused instanceof HTMLElement && scene.focused !== dom && scene.focused !== page.body) scene.focused.focus({ preventScroll: true });
  else dom.blur();
  const selection = page.getSelection();
  selection?.removeAllRanges();
  if (scene.range) selection?.addRange(scene.range);
  for (const [el, top, left] of scene.scrolled) {
    el.scrollTop = top;
    el.scrollLeft = left;
  }
}
