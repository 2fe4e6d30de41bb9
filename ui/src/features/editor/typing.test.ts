// Keys drawn first, put into the document right after: the binding's `schedule` (what a keystroke's frame no
// longer waits for) against real Automerge documents, with every way the document can be needed before the
// scheduled commit runs: another edit that is not typing, a teammate's change (drawn under the waiting
// keys), the editor closing, and an explicit `commitTyping`; and the node's frames held meanwhile.
import { next as A } from "@automerge/automerge/slim";
import { Repo, type DocHandle } from "@automerge/automerge-repo/slim";
import { commitTyping, isTyping, typingWaits } from "@automerge/prosemirror";
import { EditorView } from "prosemirror-view";
import { TextSelection, type EditorState, type Transaction } from "prosemirror-state";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { automergeReady } from "./repo";
import type { Pipe } from "./ipc";
import { applyKeepingCaret, editorState } from "./state";
import { schema, TEXT_PATH } from "./schema";
import { toggleBlock, toggleMark, undo } from "./commands";
import { afterFrame, afterKeys, FRAME_LATEST_MS } from "./frames";

type Doc = { text: string };

beforeAll(automergeReady);

const views: EditorView[] = [];
afterEach(() => {
  for (const v of views.splice(0)) v.destroy();
});

/// An editor whose keys wait until the test runs `commit` (the app's `afterFrame` stands in a real frame).
function open(text = "") {
  const repo = new Repo({ network: [] });
  const handle = repo.create<Doc>({ text });
  const scheduled: ((drawnAt?: number) => void)[] = [];
  const view: EditorView = new EditorView(document.createElement("div"), {
    state: editorState(handle as never, undefined, (commit) => scheduled.push(commit)),
    dispatchTransaction: (tr) => view.updateState(applyKeepingCaret(view.state, tr)),
  });
  views.push(view);
  const commit = (drawnAt?: number) => {
    for (const c of scheduled.splice(0)) c(drawnAt);
  };
  return { handle, view, scheduled, commit };
}

function type(view: EditorView, text: string) {
  for (const ch of text) {
    const { from, to } = view.state.selection;
    const handled = view.someProp("handleTextInput", (f) => f(view, from, to, ch, () => view.state.tr.insertText(ch, from, to)));
    if (!handled) view.dispatch(view.state.tr.insertText(ch, from, to));
  }
}

const text = (handle: DocHandle<Doc>) => handle.doc().text.replace(/\uFFFC/g, "|");
const shown = (view: EditorView) => view.state.doc.textBetween(0, view.state.doc.content.size, "|");
const changes = (handle: DocHandle<Doc>) => A.getAllChanges(handle.doc()).length;

const setHeading = (state: EditorState, dispatch: (tr: Transaction) => void) => toggleBlock(schema.nodes.heading, { level: 1 })(state, dispatch);

/// A teammate's copy of `handle`'s document, under an actor that sorts after the window's, so that which of
/// two inserts at one place comes first is the same in every run.
const theirCopy = (handle: DocHandle<Doc>) => A.clone(handle.doc(), "ff".repeat(16));

/// A teammate's change reaching the editor's document, as a sync message would bring it.
function arrive(handle: DocHandle<Doc>, changed: A.Doc<Doc>) {
  (handle as unknown as { update(fn: (d: A.Doc<Doc>) => A.Doc<Doc>): void }).update((d) => A.merge(d, changed));
}

function atEnd(view: EditorView) {
  view.dispatch(view.state.tr.setSelection(TextSelection.atEnd(view.state.doc)));
}

describe("keys drawn before they go into the document", () => {
  it("shows a key at once and puts it in the document when the schedule calls back, one change per key", () => {
    const { handle, view, scheduled, commit } = open("");
    const before = changes(handle);
    type(view, "abc");
    expect(shown(view)).toBe("abc");
    expect(text(handle)).not.toContain("abc");
    // One callback for the keys waiting together, not one per key.
    expect(scheduled).toHaveLength(1);
    commit();
    expect(text(handle)).toContain("abc");
    expect(changes(handle) - before).toBe(3);
    // Later keys are scheduled afresh.
    type(view, "d");
    expect(scheduled).toHaveLength(1);
    commit();
    expect(text(handle)).toContain("abcd");
  });

  it("waits for the next frame when a key came after the frame it waited for, but not for ever", () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      const { handle, view, scheduled, commit } = open("");
      type(view, "a");
      const drawn = performance.now();
      vi.advanceTimersByTime(5);
      type(view, "b");
      // The frame drew "a" only: committing now would hold back "b"'s frame.
      commit(drawn);
      expect(text(handle)).not.toContain("a");
      expect(scheduled).toHaveLength(1);
      // The next frame drew both.
      commit(performance.now());
      expect(text(handle)).toContain("ab");
      // Keys that keep coming before their frames hold the first back at most LONGEST_WAIT_MS (200 ms).
      type(view, "c");
      const typed = performance.now();
      while (!text(handle).includes("c") && performance.now() - typed < 1000) {
        const frame = performance.now();
        vi.advanceTimersByTime(16);
        type(view, "x");
        commit(frame);
      }
      expect(text(handle)).toContain("abc");
      expect(performance.now() - typed).toBeGreaterThanOrEqual(200);
      expect(performance.now() - typed).toBeLessThan(200 + 16);
    } finally {
      vi.useRealTimers();
    }
  });

  it("gives text typed inside bold the bold mark in the document", () => {
    const { handle, view, commit } = open("");
    type(view, "plain ");
    toggleMark(schema.marks.strong)(view.state, view.dispatch);
    type(view, "bold");
    expect(text(handle)).not.toContain("bold");
    commit();
    const marked = A.marks(handle.doc(), TEXT_PATH).filter((m) => m.name === "strong");
    const spans = A.spans(handle.doc(), TEXT_PATH).filter((s) => s.type === "text") as { value: string; marks?: Record<string, unknown> }[];
    expect(marked.length).toBeGreaterThan(0);
    expect(spans.find((s) => s.value === "bold")?.marks?.strong).toBe(true);
    expect(spans.find((s) => s.value.startsWith("plain"))?.marks?.strong).toBeUndefined();
  });

  it("puts the waiting keys in first when an edit that is not typing comes", () => {
    const { handle, view, scheduled } = open("");
    type(view, "one");
    // Enter splits the block: structure, committed at once, after the keys before it.
    const { $from } = view.state.selection;
    view.dispatch(view.state.tr.split($from.pos));
    type(view, "two");
    expect(scheduled.length).toBeGreaterThan(0);
    // Without running the schedule: "one" and the split are in already, "two" waits.
    expect(text(handle)).toContain("one");
    expect(text(handle)).not.toContain("two");
    commitTyping();
    expect(text(handle)).toMatch(/one\|two$/);
    expect(shown(view)).toBe("one|two");
  });

  /// An editor with "start end" in its document and "!!" typed at the end, waiting, and a teammate's
  /// "middle " before "end" made on the same version; `arrive` merges it into the editor's document.
  function teammateWhileWaiting() {
    const opened = open("");
    const { handle, view } = opened;
    type(view, "start end");
    commitTyping();
    const theirs = theirCopy(handle);
    const at = theirs.text.indexOf("end");
    const changed = A.change(theirs, (d) => A.splice(d, TEXT_PATH, at, 0, "middle "));
    atEnd(view);
    type(view, "!!");
    expect(text(handle)).not.toContain("!!");
    return { ...opened, arrive: () => arrive(handle, changed) };
  }

  it("keeps both a teammate's change and the keys that waited when the change arrives first", () => {
    const { handle, view, arrive, commit } = teammateWhileWaiting();
    arrive();
    // Drawn under my keys at once; my keys still wait, now on top of it.
    expect(shown(view)).toBe("start middle end!!");
    expect(text(handle)).not.toContain("!!");
    commit();
    expect(text(handle)).toMatch(/start middle end!!$/);
    // The editor goes on typing where I was.
    type(view, "?");
    commitTyping();
    expect(text(handle)).toMatch(/start middle end!!\?$/);
    expect(shown(view)).toBe(text(handle).replace(/^\|/, ""));
  });

  it("undoes my keys, not the teammate's change, after it arrived under them", () => {
    const { handle, view, arrive } = teammateWhileWaiting();
    arrive();
    commitTyping();
    // All I typed here is one event of the history: undone, the teammate's words stay.
    undo(view.state, view.dispatch);
    commitTyping();
    expect(shown(view)).toBe("middle ");
    expect(text(handle)).toMatch(/^\|?middle $/);
  });

  it("drops a waiting deletion of text the teammate deleted too", () => {
    const { handle, view, commit } = open("");
    type(view, "keep this");
    commitTyping();
    const theirs = theirCopy(handle);
    const at = theirs.text.indexOf("this");
    const changed = A.change(theirs, (d) => A.splice(d, TEXT_PATH, at, 4, ""));
    // I delete the "s" of "this" while their deletion of the whole word is on its way.
    const end = view.state.doc.content.size - 1;
    view.dispatch(view.state.tr.delete(end - 1, end));
    expect(text(handle)).toMatch(/this$/);
    arrive(handle, changed);
    commit();
    expect(text(handle)).toMatch(/keep $/);
    expect(shown(view)).toBe("keep ");
  });

  /// A teammate's change made through the binding itself, on a copy of `handle`'s document: what their editor
  /// writes. `edit` runs on their editor's state.
  function theirEdit(handle: DocHandle<Doc>, edit: (state: EditorState, dispatch: (tr: Transaction) => void) => void): A.Doc<Doc> {
    let copy = theirCopy(handle);
    const theirs = { doc: () => copy, change: (fn: (d: Doc) => void) => void (copy = A.change(copy, fn)), on() {}, off() {} };
    let state = editorState(theirs as never);
    edit(state, (tr) => (state = state.apply(tr)));
    return copy;
  }

  /// "start end" in the document, the caret at its end: `then` runs there (keys that wait).
  function atEndOfStartEnd(then: (view: EditorView) => void) {
    const opened = open("");
    type(opened.view, "start end");
    commitTyping();
    atEnd(opened.view);
    then(opened.view);
    return opened;
  }

  it("keeps keys typed into a block a teammate made a heading meanwhile", () => {
    const { handle, view, commit } = atEndOfStartEnd((view) => type(view, "!!"));
    expect(text(handle)).not.toContain("!!");
    // Their editor draws the block anew: the keys' place is gone from the map.
    const changed = theirEdit(handle, (state, dispatch) => {
      dispatch(state.tr.setSelection(TextSelection.atStart(state.doc)));
      setHeading(state, dispatch);
    });
    arrive(handle, changed);
    commit();
    expect(text(handle)).toMatch(/start end!!$/);
    expect(view.state.doc.firstChild?.type.name).toBe("heading");
    expect(shown(view)).toBe("start end!!");
  });

  it("keeps keys typed at the end of a block a teammate split meanwhile at its end, not at the split", () => {
    const { handle, view, commit } = atEndOfStartEnd((view) => type(view, "!!"));
    // Their Enter after "sta": the binding draws the rest of the block anew, and the keys' place with it;
    // Automerge still knows the keys came after "end".
    const changed = theirEdit(handle, (state, dispatch) => dispatch(state.tr.split(4)));
    arrive(handle, changed);
    expect(shown(view)).toBe("sta|rt end!!");
    commit();
    expect(text(handle)).toMatch(/sta\|rt end!!$/);
    // And I go on typing where I was.
    type(view, "?");
    commitTyping();
    expect(shown(view)).toBe("sta|rt end!!?");
  });

  it("keeps keys typed at the start of a block another client rewrote meanwhile in that block", () => {
    const { handle, view, commit } = open("");
    type(view, "first");
    view.dispatch(view.state.tr.split(view.state.selection.from));
    type(view, "second");
    commitTyping();
    // At the start of "second", then two keys that wait.
    view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, view.state.doc.content.size - 1 - "second".length)));
    type(view, "!!");
    // A stock client's `updateBlock`: the block's marker deleted and a new one inserted.
    const theirs = theirCopy(handle);
    const marker = theirs.text.lastIndexOf("\uFFFC");
    arrive(handle, A.change(theirs, (d) => A.updateBlock(d, TEXT_PATH, marker, { type: new A.RawString("heading"), parents: [], attrs: { level: 2 } })));
    commit();
    expect(text(handle)).toMatch(/first\|!!second$/);
    expect(shown(view)).toBe("first|!!second");
    expect(view.state.doc.lastChild?.type.name).toBe("heading");
    type(view, "?");
    commitTyping();
    expect(shown(view)).toBe("first|!!?second");
  });

  it("deletes what a waiting key deleted from a block a teammate split meanwhile", () => {
    // Backspace: the "d" goes, and waits to go from the document.
    const { handle, view, commit } = atEndOfStartEnd((view) => view.dispatch(view.state.tr.delete(view.state.selection.from - 1, view.state.selection.from)));
    expect(text(handle)).toMatch(/end$/);
    arrive(handle, theirEdit(handle, (state, dispatch) => dispatch(state.tr.split(4))));
    commit();
    expect(text(handle)).toMatch(/sta\|rt en$/);
    expect(shown(view)).toBe("sta|rt en");
  });

  it("undoes nothing of a teammate's after keys typed elsewhere under one change met another", () => {
    const { handle, view, commit } = atEndOfStartEnd((view) => type(view, "!!"));
    // Their Enter puts the keys elsewhere (no entry of their own in the history to rebase), then, before
    // the keys go in, more of their text arrives under them.
    arrive(handle, theirEdit(handle, (state, dispatch) => dispatch(state.tr.split(4))));
    const more = theirCopy(handle);
    arrive(handle, A.change(more, (d) => A.splice(d, TEXT_PATH, d.text.indexOf("sta"), 0, "X")));
    commit();
    expect(text(handle)).toMatch(/Xsta\|rt end!!$/);
    for (let i = 0; i < 3; i++) {
      undo(view.state, view.dispatch);
      commitTyping();
      expect(shown(view)).toBe(text(handle).replace(/^\|/, ""));
      expect(text(handle)).toMatch(/Xsta\|rt end/);
    }
  });

  it("keeps keys typed into words a teammate deleted meanwhile, where the words were", () => {
    const { handle, view, commit } = open("");
    type(view, "start middle end");
    commitTyping();
    const inside = view.state.doc.textContent.indexOf("dle") + 1;
    view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, inside)));
    type(view, "!!");
    const theirs = theirCopy(handle);
    const at = theirs.text.indexOf("middle ");
    arrive(handle, A.change(theirs, (d) => A.splice(d, TEXT_PATH, at, "middle ".length, "")));
    commit();
    expect(text(handle)).toMatch(/start !!end$/);
    expect(shown(view)).toBe("start !!end");
  });

  it("puts all three in when an edit that is not typing comes after the teammate's change", () => {
    const { handle, view, arrive } = teammateWhileWaiting();
    arrive();
    view.dispatch(view.state.tr.split(view.state.selection.from));
    type(view, "next");
    commitTyping();
    expect(text(handle)).toMatch(/start middle end!!\|next$/);
    expect(shown(view)).toBe(text(handle).replace(/^\|/, ""));
  });

  it("puts the keys in where they were typed when the editor closes after the teammate's change", () => {
    const { handle, view, arrive } = teammateWhileWaiting();
    arrive();
    views.splice(views.indexOf(view), 1);
    view.destroy();
    expect(text(handle)).toMatch(/start middle end!!$/);
  });

  it("puts the waiting keys in when the editor closes", () => {
    const { handle, view } = open("");
    type(view, "last words");
    expect(text(handle)).not.toContain("last");
    views.splice(views.indexOf(view), 1);
    view.destroy();
    expect(text(handle)).toContain("last words");
  });

  it("holds the node's frames while a key waits, and hands them over in order after the next frame", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "performance"] });
    const frames: FrameRequestCallback[] = [];
    vi.stubGlobal("requestAnimationFrame", (f: FrameRequestCallback) => frames.push(f));
    try {
      const { view, commit } = open("");
      let deliver: (frame: Uint8Array) => void = () => {};
      const pipe: Pipe = {
        open: async (receive) => {
          deliver = receive;
        },
        send: async () => {},
      };
      const got: number[] = [];
      await afterKeys(pipe).open((frame) => got.push(frame[0]));
      deliver(new Uint8Array([1]));
      expect(got).toEqual([1]);
      type(view, "a");
      expect(typingWaits()).toBe(true);
      deliver(new Uint8Array([2]));
      commit();
      // Held even once the key is in: the frames keep their order.
      expect(typingWaits()).toBe(false);
      deliver(new Uint8Array([3]));
      expect(got).toEqual([1]);
      for (const f of frames.splice(0)) f(0);
      vi.advanceTimersByTime(0);
      expect(got).toEqual([1, 2, 3]);
      deliver(new Uint8Array([4]));
      expect(got).toEqual([1, 2, 3, 4]);
    } finally {
      vi.unstubAllGlobals();
      vi.useRealTimers();
    }
  });

  it("tells a keystroke's transaction from one that changes structure or marks", () => {
    const { view } = open("");
    type(view, "abc");
    const { state } = view;
    expect(isTyping(state.tr.insertText("x"))).toBe(true);
    expect(isTyping(state.tr.delete(1, 2))).toBe(true);
    expect(isTyping(state.tr.split(2))).toBe(false);
    expect(isTyping(state.tr.addMark(1, 3, schema.marks.strong.create()))).toBe(false);
    expect(isTyping(state.tr.insertText("x").insertText("y"))).toBe(false);
    // Deleting across two blocks joins them: structure.
    const split = state.apply(state.tr.split(2));
    expect(isTyping(split.tr.delete(1, 5))).toBe(false);
  });
});

describe("afterFrame", () => {
  it("calls back once, after the frame or, with no frame drawn, after its deadline", () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "performance"] });
    try {
      const frames: FrameRequestCallback[] = [];
      vi.stubGlobal("requestAnimationFrame", (f: FrameRequestCallback) => frames.push(f));
      const calls: (number | undefined)[] = [];
      afterFrame((drawnAt) => calls.push(drawnAt));
      expect(calls).toEqual([]);
      vi.advanceTimersByTime(7);
      for (const f of frames.splice(0)) f(0);
      vi.advanceTimersByTime(0);
      // When the frame's callbacks ran: keys handled before then are on screen.
      expect(calls).toEqual([performance.now()]);
      vi.advanceTimersByTime(FRAME_LATEST_MS);
      expect(calls).toHaveLength(1);
      // A hidden window: no frame comes, and the callback has no frame to name.
      afterFrame((drawnAt) => calls.push(drawnAt));
      vi.advanceTimersByTime(FRAME_LATEST_MS - 1);
      expect(calls).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(calls).toHaveLength(2);
      expect(calls[1]).toBeUndefined();
    } finally {
      vi.unstubAllGlobals();
      vi.useRealTimers();
    }
  });
});
