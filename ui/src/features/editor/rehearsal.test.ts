// The rehearsal of a long document's first keystroke: typed through the page's editing and read by the
// view, and never in the Automerge document. jsdom has no editing commands: `execCommand` here edits the
// text node at the page's selection, as the browser's insertText and delete do (the window tests run the
// real one, `rehearsal` in src-tauri/tests/window/editor.rs).
import { next as A } from "@automerge/automerge/slim";
import { Repo, type DocHandle } from "@automerge/automerge-repo/slim";
import { syncPluginKey } from "@automerge/prosemirror";
import { TextSelection } from "prosemirror-state";
import { EditorView } from "prosemirror-view";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { offstage, REHEARSAL_PLACES, REHEARSED_KEYS, rehearse } from "./rehearsal";
import { automergeReady } from "./repo";
import { applyKeepingCaret, editorState } from "./state";

type Doc = { text: string };

beforeAll(automergeReady);

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const undo of cleanup.splice(0)) undo();
});

/// The page's editing at its selection: `insertText` and `delete` (one character back) in a text node.
function browserEditing(works = true) {
  const calls: string[] = [];
  const edit = (command: string, _ui?: boolean, value?: string) => {
    calls.push(command);
    if (!works) return false;
    const selection = document.getSelection()!;
    let node: Node = selection.anchorNode!;
    let offset = selection.anchorOffset;
    if (!(node instanceof Text)) {
      const after = node.childNodes[offset];
      const before = node.childNodes[offset - 1];
      if (after instanceof Text) [node, offset] = [after, 0];
      else if (before instanceof Text) [node, offset] = [before, before.length];
      else return false;
    }
    const text = node as Text;
    if (command === "insertText") {
      text.insertData(offset, value ?? "");
      selection.collapse(text, offset + (value ?? "").length);
    } else if (command === "delete") {
      text.deleteData(offset - 1, 1);
      selection.collapse(text, offset - 1);
    } else return false;
    return true;
  };
  Object.defineProperty(document, "execCommand", { value: edit, configurable: true });
  // The view scrolls to a key it read, as to a person's; jsdom lays nothing out.
  const rects = { getClientRects: () => [], getBoundingClientRect: () => new DOMRect() };
  Object.assign(Range.prototype, rects);
  cleanup.push(() => {
    delete (document as { execCommand?: unknown }).execCommand;
    for (const name of Object.keys(rects)) delete (Range.prototype as unknown as Record<string, unknown>)[name];
  });
  return calls;
}

/// An editor on a new document beside a field that has the focus, dispatching as the window's does.
function onStage(text: string) {
  const repo = new Repo({ network: [] });
  const handle = repo.create<Doc>({ text });
  const synced = editorState(handle as never);
  const field = document.body.appendChild(document.createElement("input"));
  field.focus();
  let rehearsing = false;
  const view: EditorView = new EditorView(document.body.appendChild(document.createElement("div")), {
    state: synced,
    dispatchTransaction: (tr) => view.updateState(rehearsing ? view.state.apply(tr) : applyKeepingCaret(view.state, tr)),
  });
  // At each place, as the window does (there a frame apart).
  const rehearsed = () =>
    REHEARSAL_PLACES.map((place) => {
      rehearsing = true;
      try {
        return rehearse(view, place);
      } finally {
        rehearsing = false;
      }
    }).every(Boolean);
  cleanup.push(() => {
    view.destroy();
    view.dom.remove();
    field.remove();
  });
  return { handle, synced, view, field, rehearsed };
}

const heads = (handle: DocHandle<Doc>) => A.getHeads(handle.doc()).join(",");

describe("rehearsing the first keystroke", () => {
  it("shows the document and every plugin but the sync plugin", () => {
    const { synced } = onStage("Hello world");
    const off = offstage(synced);
    expect(off.doc).toBe(synced.doc);
    expect(off.plugins).toHaveLength(synced.plugins.length - 1);
    expect(off.plugins.some((p) => p.spec.key === syncPluginKey)).toBe(false);
    expect(synced.plugins.some((p) => p.spec.key === syncPluginKey)).toBe(true);
  });

  it("types a key at the start and at the end, reads each and takes it back: the document never has it", () => {
    const calls = browserEditing();
    const { handle, synced, view, field, rehearsed } = onStage("Hello world");
    const was = heads(handle);
    let read = 0;
    view.setProps({
      handleTextInput: (_v, _from, _to, text) => {
        if (text === "a") read++;
        return false;
      },
    });
    expect(rehearsed()).toBe(true);
    const place = [...Array(REHEARSED_KEYS).fill("insertText"), ...Array(REHEARSED_KEYS).fill("delete")];
    expect(calls).toEqual([...place, ...place]);
    // Every key went through the view's reading of the page's editing, as a person's do.
    expect(read).toBe(2 * REHEARSED_KEYS);
    expect(view.state).toBe(synced);
    expect(heads(handle)).toBe(was);
    expect(handle.doc().text).toBe("Hello world");
    expect(view.dom.textContent).toBe("Hello world");
    // The focus is back where it was.
    expect(document.activeElement).toBe(field);
  });

  it("gives the editor its own state back: the person's keys go into the document from then on", () => {
    browserEditing();
    const { handle, view, rehearsed } = onStage("Hello world");
    rehearsed();
    view.dispatch(view.state.tr.setSelection(TextSelection.atEnd(view.state.doc)).insertText("!"));
    expect(handle.doc().text).toBe("Hello world!");
    expect(view.dom.textContent).toBe("Hello world!");
  });

  it("says so when the page cannot edit, and leaves the document and the focus as they were", () => {
    const calls = browserEditing(false);
    const { handle, field, rehearsed } = onStage("Hello world");
    const was = heads(handle);
    expect(rehearsed()).toBe(false);
    expect(calls).toEqual(REHEARSAL_PLACES.map(() => "insertText"));
    expect(heads(handle)).toBe(was);
    expect(document.activeElement).toBe(field);
  });
});
