// The rehearsal of a long document's first keystrokes: typed through the page's editing and read by the
// view, never in the Automerge document, and only while the page is idle. jsdom has no editing commands:
// `execCommand` here edits the text node at the page's selection, as the browser's insertText and delete
// do, without their events, scrolling or undo (the window test runs the real one:
// `a_long_documents_first_key_is_rehearsed_unseen_and_never_reaches_the_document` in
// src-tauri/tests/window/editor.rs).
import { next as A } from "@automerge/automerge/slim";
import { Repo, type DocHandle } from "@automerge/automerge-repo/slim";
import { syncPluginKey } from "@automerge/prosemirror";
import { TextSelection } from "prosemirror-state";
import { EditorView } from "prosemirror-view";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { offstage, REHEARSAL_PLACES, REHEARSED_KEYS, rehearseWhileIdle, type Stage } from "./rehearsal";
import { automergeReady } from "./repo";
import { applyKeepingCaret, editorState } from "./state";

type Doc = { text: string };

beforeAll(automergeReady);

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const undo of cleanup.splice(0)) undo();
});

/// The page's editing at its selection: `insertText` and `delete` (one character back) in a text node.
/// `works: false` refuses every command; "throws" types the text and then fails, before anything read it.
function browserEditing(works: boolean | "throws" = true) {
  const calls: string[] = [];
  const edit = (command: string, _ui?: boolean, value?: string) => {
    calls.push(command);
    if (works === false) return false;
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
      if (works === "throws") throw new Error("the page's editing failed");
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

/// An editor on a new document, dispatching as the window's does, with keys waiting for `commit` as the
/// window's wait for their frame; and the stage the window gives its rehearsals, each task right away.
function onStage(text: string) {
  const repo = new Repo({ network: [] });
  const handle = repo.create<Doc>({ text });
  const scheduled: ((drawnAt?: number) => void)[] = [];
  const synced = editorState(handle as never, undefined, (commit) => scheduled.push(commit));
  let rehearsing = false;
  const view: EditorView = new EditorView(document.body.appendChild(document.createElement("div")), {
    state: synced,
    // As the window's editor: with a node view (drawing it again means new node views).
    nodeViews: { horizontal_rule: () => ({ dom: document.createElement("hr") }) },
    dispatchTransaction: (tr) => view.updateState(rehearsing ? view.state.apply(tr) : applyKeepingCaret(view.state, tr)),
  });
  cleanup.push(() => {
    view.destroy();
    view.dom.remove();
  });
  const tasks: boolean[] = [];
  const stage: Stage = {
    nextTask: () => Promise.resolve(),
    ours: () => true,
    during: (on) => {
      rehearsing = on;
      tasks.push(on);
    },
  };
  const commit = () => {
    for (const c of scheduled.splice(0)) c();
  };
  return { handle, synced, view, stage, tasks, commit };
}

const heads = (handle: DocHandle<Doc>) => A.getHeads(handle.doc()).join(",");
const place = [...Array(REHEARSED_KEYS).fill("insertText"), ...Array(REHEARSED_KEYS).fill("delete")];

describe("rehearsing the first keystrokes", () => {
  it("shows the document and every plugin but the sync plugin", () => {
    const { synced } = onStage("Hello world");
    const off = offstage(synced);
    expect(off.doc).toBe(synced.doc);
    expect(off.plugins).toHaveLength(synced.plugins.length - 1);
    expect(off.plugins.some((p) => p.spec.key === syncPluginKey)).toBe(false);
    expect(synced.plugins.some((p) => p.spec.key === syncPluginKey)).toBe(true);
  });

  it("types keys at the start and at the end, reads each and takes them back: the document never has them", async () => {
    const calls = browserEditing();
    const { handle, synced, view, stage, tasks } = onStage("Hello world");
    const was = heads(handle);
    let read = 0;
    view.setProps({
      handleTextInput: (_v, _from, _to, text) => {
        if (text === "a") read++;
        return false;
      },
    });
    expect(await rehearseWhileIdle(view, stage)).toBe(true);
    expect(calls).toEqual(REHEARSAL_PLACES.flatMap(() => place));
    // Every key went through the view's reading of the page's editing, as a person's do.
    expect(read).toBe(REHEARSAL_PLACES.length * REHEARSED_KEYS);
    expect(tasks).toEqual(REHEARSAL_PLACES.flatMap(() => [true, false]));
    expect(view.state).toBe(synced);
    expect(heads(handle)).toBe(was);
    expect(handle.doc().text).toBe("Hello world");
    expect(view.dom.textContent).toBe("Hello world");
    // The focus is back with the page.
    expect(document.activeElement).toBe(document.body);
  });

  it("leaves the editor synced: the person's keys and a teammate's change go through as before", async () => {
    browserEditing();
    const { handle, view, stage, commit } = onStage("Hello world");
    await rehearseWhileIdle(view, stage);
    view.dispatch(view.state.tr.setSelection(TextSelection.atEnd(view.state.doc)).insertText("!"));
    commit();
    expect(handle.doc().text).toBe("Hello world!");
    handle.change((d) => A.splice(d, ["text"], 0, 0, ">"));
    expect(view.dom.textContent).toBe(">Hello world!");
  });

  it("not while another field has the focus: it keeps it, and nothing is typed", async () => {
    const calls = browserEditing();
    const { view, stage, tasks } = onStage("Hello world");
    const field = document.body.appendChild(document.createElement("input"));
    cleanup.push(() => field.remove());
    field.focus();
    expect(await rehearseWhileIdle(view, stage)).toBe(false);
    expect(calls).toEqual([]);
    expect(tasks).toEqual([]);
    expect(document.activeElement).toBe(field);
  });

  it("stops once the person presses a key, clicks or scrolls", async () => {
    for (const type of ["keydown", "pointerdown", "wheel"]) {
      const calls = browserEditing();
      const { view, stage } = onStage("Hello world");
      let task = 0;
      // The person acts between the first place and the second.
      stage.nextTask = async () => {
        if (task++ === 1) document.body.dispatchEvent(new Event(type, { bubbles: true }));
      };
      expect(await rehearseWhileIdle(view, stage)).toBe(false);
      expect(calls).toEqual(place);
    }
  });

  it("not once the editor is gone or the person is in it", async () => {
    const calls = browserEditing();
    const { view, stage } = onStage("Hello world");
    stage.ours = () => false;
    expect(await rehearseWhileIdle(view, stage)).toBe(false);
    expect(calls).toEqual([]);
  });

  it("says so when the page cannot edit, and leaves the document as it was", async () => {
    const calls = browserEditing(false);
    const { handle, view, stage } = onStage("Hello world");
    const was = heads(handle);
    expect(await rehearseWhileIdle(view, stage)).toBe(false);
    expect(calls).toEqual(REHEARSAL_PLACES.map(() => "insertText"));
    expect(heads(handle)).toBe(was);
    expect(view.dom.textContent).toBe("Hello world");
  });

  it("a rehearsal the page's editing broke off is drawn away: its key never reaches the document", async () => {
    vi.useFakeTimers();
    cleanup.push(() => vi.useRealTimers());
    browserEditing("throws");
    const { handle, view, stage, commit } = onStage("Hello world");
    const was = heads(handle);
    expect(await rehearseWhileIdle(view, stage)).toBe(false);
    // The view reads what is left of the page's edits a moment later.
    vi.advanceTimersByTime(100);
    commit();
    expect(view.dom.textContent).toBe("Hello world");
    expect(heads(handle)).toBe(was);
  });
});
