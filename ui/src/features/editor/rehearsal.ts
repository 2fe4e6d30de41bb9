// Typing into a long document's editor once, unseen, and taking the keys back. The first keystrokes into a
// long document are slow however warm the binding and Automerge are (`warmup.ts`): WebKit's editing of that
// element and ProseMirror's reading of the change run for the first time there, 13 to 35 ms from keydown
// to the editor's dispatch for the automerge-paper document's first key in the release build, against 3 to
// 5 from the fourth on. Run a few times on the real element, in a task between two frames, they cost that
// task instead. The keys never reach the document: the editor holds a copy of its state without the
// binding's sync plugin meanwhile.
import { syncPluginKey, typingWaits } from "@automerge/prosemirror";
import type { Node } from "prosemirror-model";
import { EditorState, Selection } from "prosemirror-state";
import type { EditorView, NodeViewConstructor } from "prosemirror-view";

/// `state`'s document, selection and plugins but the binding's sync plugin: what the editor shows while it
/// rehearses, so that nothing typed then goes into the Automerge document.
export function offstage(state: EditorState): EditorState {
  const plugins = state.plugins.filter((p) => p.spec.key !== syncPluginKey);
  return EditorState.create({ schema: state.schema, doc: state.doc, selection: state.selection, plugins });
}

/// Keys typed at each place, and deleted again: the first few keys are slow, not only the first.
export const REHEARSED_KEYS = 4;

/// Where keys are rehearsed: the start and the end of the document, each in a task of its own.
export const REHEARSAL_PLACES = [Selection.atStart, Selection.atEnd] as const;

/// What a person does on the page that ends the rehearsals still to come: the page is theirs from then on.
const PERSON_INPUT = ["pointerdown", "keydown", "wheel", "touchstart", "compositionstart"] as const;

/// How the window runs the rehearsals (`Editor.tsx`): `nextTask` waits until after the next frame,
/// `during` is told when a task starts and ends (the editor's `dispatchTransaction` must then apply what it
/// gets to the view's state alone, and its focus is not the person's), `ours` says whether the editor is
/// still the one on screen.
export type Stage = { nextTask: () => Promise<void>; during: (on: boolean) => void; ours: () => boolean };

/// Rehearses keys at each of `REHEARSAL_PLACES` in `view`, each after `stage.nextTask()`, as long as the
/// page is idle: nothing has the focus but the page itself, no keys wait to go into a document, and the
/// person has not pressed a key, clicked, scrolled with the wheel or started composing text since this was
/// called. Resolves to whether every place was rehearsed.
export async function rehearseWhileIdle(view: EditorView, stage: Stage): Promise<boolean> {
  const page = view.dom.ownerDocument;
  let touched = false;
  const touch = () => {
    touched = true;
  };
  // Passive: a listener on the wheel must not hold back the page's scrolling.
  for (const type of PERSON_INPUT) page.addEventListener(type, touch, { capture: true, passive: true });
  try {
    let all = true;
    for (const place of REHEARSAL_PLACES) {
      await stage.nextTask();
      const active = page.activeElement;
      if (touched || !stage.ours() || (active !== null && active !== page.body) || typingWaits()) return false;
      stage.during(true);
      try {
        all = rehearse(view, place) && all;
      } finally {
        stage.during(false);
      }
    }
    return all;
  } finally {
    for (const type of PERSON_INPUT) page.removeEventListener(type, touch, true);
  }
}

/// Rehearses keys at `place` in `view` on its `offstage` state, then gives it its own state back (drawn
/// again in full if the rehearsal broke off with the page's editing half done). Returns whether it
/// rehearsed. See `Stage` for what the view's `dispatchTransaction` must do meanwhile.
function rehearse(view: EditorView, place: (doc: Node) => Selection): boolean {
  const own = view.state;
  view.updateState(offstage(own));
  let outcome: Outcome = "skipped";
  try {
    outcome = typeAndTakeBack(view, place);
  } finally {
    view.updateState(own);
    if (outcome === "broken") drawAgain(view);
  }
  return outcome === "rehearsed";
}

type Outcome = "rehearsed" | "skipped" | "broken";

/// Types `REHEARSED_KEYS` keys at `place` through the page's own editing, has the view read each at once,
/// and deletes them again; then puts the page's selection and scroll positions back and takes the focus
/// away again. All of it happens in one task: nothing is drawn. "skipped" when the page cannot edit there
/// (no `execCommand`, or the focus did not reach the editor); "broken" when it failed midway, and the
/// editor's DOM may hold a key.
function typeAndTakeBack(view: EditorView, place: (doc: Node) => Selection): Outcome {
  const page = view.dom.ownerDocument;
  if (typeof page.execCommand !== "function") return "skipped";
  const scene = sceneOf(view.dom);
  const before = view.state.doc;
  // Not in ProseMirror's types: the observer of the view's DOM, read at once rather than in its microtask.
  const observer = (view as unknown as { domObserver: { flush(): void } }).domObserver;
  let typed = 0;
  try {
    view.dispatch(view.state.tr.setSelection(place(view.state.doc)));
    view.focus();
    // The page's editing acts where the page's selection is: only ever in the editor.
    const selection = page.getSelection();
    if (!view.hasFocus() || !selection?.anchorNode || !view.dom.contains(selection.anchorNode)) return "skipped";
    // Each key read before the next, as a person's are.
    while (typed < REHEARSED_KEYS && page.execCommand("insertText", false, "a")) {
      observer.flush();
      typed++;
    }
    const read = !view.state.doc.eq(before);
    for (let i = 0; i < typed; i++) {
      page.execCommand("delete");
      observer.flush();
    }
    return typed === REHEARSED_KEYS && read && view.state.doc.eq(before) ? "rehearsed" : "skipped";
  } catch (e) {
    console.warn("rehearsing a keystroke failed:", e);
    return "broken";
  } finally {
    restore(view.dom, scene);
  }
}

/// What the rehearsal changes on the page and puts back: the page's selection and the scroll positions
/// (WebKit scrolls to a key it typed, and so does ProseMirror).
type Scene = { range: Range | null; scrolled: [Element, number, number][] };

function sceneOf(dom: HTMLElement): Scene {
  const page = dom.ownerDocument;
  const selection = page.getSelection();
  const scrolled: [Element, number, number][] = [];
  for (let el: Element | null = dom; el; el = el.parentElement) scrolled.push([el, el.scrollTop, el.scrollLeft]);
  const root = page.scrollingElement;
  if (root) scrolled.push([root, root.scrollTop, root.scrollLeft]);
  return { range: selection && selection.rangeCount > 0 ? selection.getRangeAt(0).cloneRange() : null, scrolled };
}

function restore(dom: HTMLElement, scene: Scene) {
  // Rehearsed only while the page itself had the focus: it goes back there.
  dom.blur();
  const selection = dom.ownerDocument.getSelection();
  selection?.removeAllRanges();
  if (scene.range) selection?.addRange(scene.range);
  for (const [el, top, left] of scene.scrolled) {
    el.scrollTop = top;
    el.scrollLeft = left;
  }
}

/// Draws `view`'s document again from its state, every node: its node views are new functions, which
/// ProseMirror takes as a reason to redraw everything.
function drawAgain(view: EditorView) {
  const views = view.props.nodeViews ?? {};
  const fresh: Record<string, NodeViewConstructor> = {};
  for (const [name, make] of Object.entries(views)) fresh[name] = (...args) => make(...args);
  view.setProps({ nodeViews: fresh });
}
