// A change from elsewhere that the binding cannot draw step by step (a bug path: it says so in the
// console): the editor draws the document again, and keys still waiting to go into it are not lost.
import { next as A } from "@automerge/automerge/slim";
import { Repo, type DocHandle } from "@automerge/automerge-repo/slim";
import { commitTyping, typingWaits } from "@automerge/prosemirror";
import { EditorView } from "prosemirror-view";
import { TextSelection } from "prosemirror-state";
import { afterEach, beforeAll, beforeEach, expect, it, type MockInstance, vi } from "vitest";
import { automergeReady } from "./repo";
import { applyKeepingCaret, editorState } from "./state";
import { TEXT_PATH } from "./schema";

type Doc = { text: string };

// The binding's drawing of a change, made to fail once when a test asks.
const failing = vi.hoisted(() => ({ next: false }));
vi.mock("../../../node_modules/@automerge/prosemirror/dist/patchesToTr.js", async (importOriginal) => {
  const real = await importOriginal<{ patchesToTr: (...args: unknown[]) => unknown }>();
  return {
    ...real,
    patchesToTr: (...args: unknown[]) => {
      if (failing.next) {
        failing.next = false;
        throw new Error("a change the binding cannot map");
      }
      return real.patchesToTr(...args);
    },
  };
});

beforeAll(automergeReady);
const views: EditorView[] = [];
// The binding says in the console what it could not draw: quiet here, and checked where it matters.
let warned: MockInstance<typeof console.warn>;
beforeEach(() => {
  warned = vi.spyOn(console, "warn").mockImplementation(() => {});
});
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
  vi.restoreAllMocks();
});

function open(text: string) {
  const handle = new Repo({ network: [] }).create<Doc>({ text: "" });
  const view: EditorView = new EditorView(document.createElement("div"), {
    // Keys wait until the test commits them (`commitTyping`), as they wait for their frame in the app.
    state: editorState(handle as never, undefined, () => {}),
    dispatchTransaction: (tr) => view.updateState(applyKeepingCaret(view.state, tr)),
  });
  views.push(view);
  view.dispatch(view.state.tr.insertText(text));
  commitTyping();
  return { handle, view };
}

const text = (handle: DocHandle<Doc>) => handle.doc().text.replace(/\uFFFC/g, "|");
const shown = (view: EditorView) => view.state.doc.textBetween(0, view.state.doc.content.size, "|");

function theirChange(handle: DocHandle<Doc>, edit: (d: Doc) => void) {
  const changed = A.change(A.clone(handle.doc(), "ff".repeat(16)), edit);
  (handle as unknown as { update(fn: (d: A.Doc<Doc>) => A.Doc<Doc>): void }).update((d) => A.merge(d, changed));
}

/// A teammate's change that the binding is made to fail to draw: by default "new " before "start".
function undrawable(handle: DocHandle<Doc>, edit: (d: Doc) => void = (d) => A.splice(d, TEXT_PATH, d.text.indexOf("start"), 0, "new ")) {
  failing.next = true;
  theirChange(handle, edit);
}

/// "start end" with `keys` typed at its end, waiting to go into the document.
function typedAtEnd(keys: string) {
  const opened = open("start end");
  const { view } = opened;
  view.dispatch(view.state.tr.setSelection(TextSelection.atEnd(view.state.doc)));
  for (const key of keys) view.dispatch(view.state.tr.insertText(key));
  return opened;
}

it("keeps the keys that waited when a teammate's change cannot be drawn under them, and the caret after them", async () => {
  const { handle, view } = typedAtEnd("!!");
  expect(typingWaits()).toBe(true);

  undrawable(handle, (d) => A.splice(d, TEXT_PATH, d.text.indexOf("end"), 0, "middle "));
  // Put in right after the change's event (a change made inside it would wait for its end).
  await Promise.resolve();

  // Drawn again from the document, which now holds both: the teammate's words and my keys, where I typed them.
  expect(warned).toHaveBeenCalledWith("automerge-prosemirror: redrawing after a change it could not map", expect.any(Error));
  expect(text(handle)).toMatch(/start middle end!!$/);
  expect(shown(view)).toBe("start middle end!!");
  expect(typingWaits()).toBe(false);
  // And typing goes on from there.
  view.dispatch(view.state.tr.insertText("?"));
  commitTyping();
  expect(text(handle)).toMatch(/start middle end!!\?$/);
});

it("keeps the caret in its place in the text when nothing waits", async () => {
  const { handle, view } = open("start end");
  const before = view.state.doc.textContent.indexOf("end") + 1;
  view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, before)));

  undrawable(handle);
  expect(shown(view)).toBe("new start end");
  // Typed before "end" still, not four characters to the left of it.
  view.dispatch(view.state.tr.insertText("the "));
  commitTyping();
  expect(text(handle)).toMatch(/new start the end$/);
});

it("draws every change that arrived before the keys went in, and keeps them", async () => {
  const { handle, view } = typedAtEnd("!");

  undrawable(handle, (d) => A.splice(d, TEXT_PATH, d.text.indexOf("start"), 0, "one "));
  theirChange(handle, (d) => A.splice(d, TEXT_PATH, d.text.indexOf("one"), 0, "two "));
  await Promise.resolve();
  expect(text(handle)).toMatch(/two one start end!$/);
  expect(shown(view)).toBe("two one start end!");
});

it("puts the keys in when the editor closes before they could go in", () => {
  const { handle, view } = typedAtEnd("!");

  undrawable(handle);
  views.splice(views.indexOf(view), 1);
  view.destroy();
  expect(text(handle)).toMatch(/new start end!$/);
  expect(typingWaits()).toBe(false);
});

it("keeps keys typed in the middle of the text, where they were typed", async () => {
  const { handle, view } = open("start end");
  // Before "end" (a paragraph's text starts at position 1).
  const inside = 1 + view.state.doc.textContent.indexOf("end");
  view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, inside)));
  for (const key of "ok ") view.dispatch(view.state.tr.insertText(key));

  undrawable(handle);
  await Promise.resolve();
  expect(text(handle)).toMatch(/new start ok end$/);
  view.dispatch(view.state.tr.insertText("!"));
  commitTyping();
  expect(text(handle)).toMatch(/new start ok !end$/);
});

it("puts in an edit made before the keys went in after them, on the text it was made on", () => {
  const { handle, view } = typedAtEnd("!");

  undrawable(handle);
  // An edit that is not a keystroke (two places at once), before the change's event has ended: it would
  // put the waiting keys in at once, at positions the document no longer has.
  const end = view.state.selection.from;
  const beforeEnd = 1 + view.state.doc.textContent.indexOf("end");
  view.dispatch(view.state.tr.insertText("<", beforeEnd).insertText(">", end + 1));
  commitTyping();
  expect(text(handle)).toMatch(/new start <end!>$/);
  expect(shown(view)).toBe("new start <end!>");
});
