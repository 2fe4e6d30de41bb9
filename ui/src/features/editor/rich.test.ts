// The editor's glue against real Automerge documents: what formatting becomes in the document (marks and
// block markers any automerge client reads), Markdown shortcuts, undo leaving teammates' changes alone,
// carets mapped between the text and the editor, and documents written before the rich editor.
import { next as A } from "@automerge/automerge/slim";
import { Repo, type DocHandle } from "@automerge/automerge-repo/slim";
import { EditorView } from "prosemirror-view";
import { TextSelection } from "prosemirror-state";
import { beforeAll, describe, expect, it } from "vitest";
import { automergeReady } from "./repo";
import { openEditor as open, type Doc } from "./testing";
import { applyKeepingCaret, editorState } from "./state";
import { schema, TEXT_PATH } from "./schema";
import { active, insertRule, setLink, toggleBlock, toggleCheck, toggleList, toggleMark, toolbarShows, undo } from "./commands";
import { pmPosition, textIndex } from "./carets";
import { convertMarkdown, needsConversion, parseMarkdown, toMarkdown } from "./markdown";

beforeAll(automergeReady);

/// Types like a person: each character through the editor's text input (so input rules run).
function type(view: EditorView, text: string) {
  for (const ch of text) {
    const { from, to } = view.state.selection;
    const handled = view.someProp("handleTextInput", (f) => f(view, from, to, ch, () => view.state.tr.insertText(ch, from, to)));
    if (!handled) view.dispatch(view.state.tr.insertText(ch, from, to));
  }
}

/// A document's structure without the binding's bookkeeping attributes (whether a node came from a block
/// marker), which differ between an editor that made the blocks and one that read them.
function shape(json: unknown): unknown {
  return JSON.parse(JSON.stringify(json, (k, v) => (k === "isAmgBlock" || k === "unknownAttrs" ? undefined : v)));
}

/// Presses a key as the keymaps see it.
function press(view: EditorView, key: string) {
  const event = new KeyboardEvent("keydown", { key });
  const handled = view.someProp("handleKeyDown", (f) => f(view, event));
  expect(handled).toBe(true);
}

function blocks(handle: DocHandle<Doc>) {
  return A.spans(handle.doc(), TEXT_PATH)
    .filter((s) => s.type === "block")
    .map((s) => {
      const v = (s as unknown as { value: { type: unknown; attrs: Record<string, unknown> } }).value;
      return { type: String(v.type), attrs: v.attrs };
    });
}

function marks(handle: DocHandle<Doc>) {
  return A.marks(handle.doc(), TEXT_PATH).map((m) => ({ name: m.name, value: m.value, text: handle.doc().text.slice(m.start, m.end) }));
}

function run(view: EditorView, command: (s: EditorView["state"], d: EditorView["dispatch"]) => boolean) {
  expect(command(view.state, view.dispatch)).toBe(true);
}

function selectText(view: EditorView, needle: string) {
  let found = -1;
  view.state.doc.descendants((node, pos) => {
    if (found < 0 && node.isText && node.text!.includes(needle)) found = pos + node.text!.indexOf(needle);
  });
  expect(found).toBeGreaterThanOrEqual(0);
  view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, found, found + needle.length)));
}

describe("formatting becomes marks and blocks in the document", () => {
  it("stores inline marks under the schema's names", () => {
    const { handle, view } = open();
    type(view, "bold italic under strike code link");
    for (const [word, mark] of [
      ["bold", schema.marks.strong],
      ["italic", schema.marks.em],
      ["under", schema.marks.underline],
      ["strike", schema.marks.strike],
      ["code", schema.marks.code],
    ] as const) {
      selectText(view, word);
      run(view, toggleMark(mark));
    }
    selectText(view, "link");
    run(view, setLink("https://example.com"));
    const found = marks(handle);
    expect(found).toEqual(
      expect.arrayContaining([
        { name: "strong", value: true, text: "bold" },
        { name: "em", value: true, text: "italic" },
        { name: "underline", value: true, text: "under" },
        { name: "strike", value: true, text: "strike" },
        { name: "code", value: true, text: "code" },
      ]),
    );
    const link = found.find((m) => m.name === "link");
    expect(link?.text).toBe("link");
    expect(JSON.parse(String(link?.value)).href).toBe("https://example.com");
  });

  it("stores headings, lists, quotes, code and rules as block markers", () => {
    const { handle, view } = open();
    type(view, "Title");
    run(view, toggleBlock(schema.nodes.heading, { level: 2 }));
    view.dispatch(view.state.tr.split(view.state.selection.from));
    run(view, toggleBlock(schema.nodes.paragraph));
    type(view, "item");
    run(view, toggleList(schema.nodes.bullet_list));
    expect(blocks(handle).map((b) => b.type)).toEqual(["heading", "unordered-list-item"]);
    expect(blocks(handle)[0].attrs.level).toBe(2);
    run(view, insertRule);
    expect(blocks(handle).map((b) => b.type)).toContain("horizontal-rule");
    press(view, "Enter");
    type(view, "---");
    expect(blocks(handle).filter((b) => b.type === "horizontal-rule")).toHaveLength(2);
    // The document reads back the same in a fresh editor (what a teammate's window shows).
    const again = new EditorView(document.createElement("div"), { state: editorState(handle as never) });
    expect(shape(again.state.doc.toJSON())).toEqual(shape(view.state.doc.toJSON()));
  });

  it("applies Markdown shortcuts as they are typed", () => {
    const { handle, view } = open();
    type(view, "# Plan");
    expect(view.state.doc.firstChild?.type.name).toBe("heading");
    expect(view.state.doc.firstChild?.textContent).toBe("Plan");
    view.dispatch(view.state.tr.split(view.state.selection.from));
    run(view, toggleBlock(schema.nodes.paragraph));
    type(view, "- first");
    press(view, "Enter");
    type(view, "say **loud** and *soft* and `x` and ~~gone~~");
    expect(blocks(handle).map((b) => b.type)).toEqual(["heading", "unordered-list-item", "unordered-list-item"]);
    expect(handle.doc().text).not.toContain("**");
    expect(marks(handle)).toEqual(
      expect.arrayContaining([
        { name: "strong", value: true, text: "loud" },
        { name: "em", value: true, text: "soft" },
        { name: "code", value: true, text: "x" },
        { name: "strike", value: true, text: "gone" },
      ]),
    );
  });

  it("turns `[ ] ` and `[x] ` into check-list items with their state", () => {
    const { handle, view } = open();
    type(view, "[x] done");
    const checks = blocks(handle).filter((b) => b.type === "check-list-item");
    expect(checks).toHaveLength(1);
    expect(checks[0].attrs.checked).toBe(true);
    expect(view.state.doc.firstChild?.type.name).toBe("check_list");
  });

  it("ticks and unticks the item at the caret with Ctrl+Enter, and leaves other blocks to the code-block exit", () => {
    const { handle, view } = open();
    type(view, "[ ] ship it");
    const checked = () => blocks(handle).filter((b) => b.type === "check-list-item").map((b) => b.attrs.checked);
    expect(checked()).toEqual([false]);
    const ctrlEnter = () => view.someProp("handleKeyDown", (f) => f(view, new KeyboardEvent("keydown", { key: "Enter", ctrlKey: true })));
    expect(ctrlEnter()).toBe(true);
    expect(checked()).toEqual([true]);
    expect(ctrlEnter()).toBe(true);
    expect(checked()).toEqual([false]);
    expect(view.state.doc.textContent).toBe("ship it");
    const plain = open("just words");
    expect(toggleCheck(plain.view.state, plain.view.dispatch)).toBe(false);
  });
});

/// A paste event (jsdom has no ClipboardEvent; the editor reads only what it is given).
const paste = () => new Event("paste") as ClipboardEvent;

describe("the toolbar", () => {
  it("shows what applies at the caret, and typing plain text leaves what it shows as it was", () => {
    const { view } = open();
    type(view, "plain words");
    const plain = toolbarShows(view.state);
    expect(plain).toMatch(/^0+$/);
    // Each keystroke into plain text: nothing for the toolbar to draw again.
    for (const ch of " and more") {
      type(view, ch);
      expect(toolbarShows(view.state)).toBe(plain);
    }
    // Bold at the caret, then a heading: each shows, in its own place.
    run(view, toggleMark(schema.marks.strong));
    expect(active.strong(view.state)).toBe(true);
    const bold = toolbarShows(view.state);
    expect(bold).not.toBe(plain);
    run(view, toggleBlock(schema.nodes.heading, { level: 2 }));
    expect(active.heading2(view.state) && !active.heading1(view.state)).toBe(true);
    expect(toolbarShows(view.state)).not.toBe(bold);
  });
});

describe("pasting", () => {
  it("keeps the structure and formatting of pasted HTML", () => {
    const { handle, view } = open();
    expect(view.pasteHTML("<h2>Notes</h2><ul><li>one <b>bold</b></li></ul><p>see <a href='https://example.com'>this</a> <u>now</u></p>", paste())).toBe(true);
    expect(blocks(handle).map((b) => b.type)).toEqual(expect.arrayContaining(["heading", "unordered-list-item"]));
    expect(marks(handle)).toEqual(expect.arrayContaining([{ name: "strong", value: true, text: "bold" }, { name: "underline", value: true, text: "now" }]));
    expect(marks(handle).some((m) => m.name === "link" && m.text === "this")).toBe(true);
  });

  it("makes paragraphs of pasted plain text", () => {
    const { handle, view } = open();
    expect(view.pasteText("first line\n\nsecond line", paste())).toBe(true);
    expect(view.state.doc.childCount).toBe(2);
    expect(handle.doc().text.replace(/\uFFFC/g, "|")).toContain("first line");
    expect(handle.doc().text).toContain("second line");
  });
});

describe("undo is per person", () => {
  it("undoes my typing and keeps a teammate's edit", () => {
    const { handle, view } = open();
    type(view, "mine");
    // A teammate's change arrives through the document, not the editor.
    handle.change((d) => A.splice(d, TEXT_PATH, 0, 0, "theirs "));
    expect(view.state.doc.textContent).toBe("theirs mine");
    undo(view.state, view.dispatch);
    expect(handle.doc().text.replace(/\uFFFC/g, "")).toBe("theirs ");
    expect(view.state.doc.textContent).toBe("theirs ");
  });
});

describe("a teammate typing where I type", () => {
  it("leaves my caret before their text, so my typing continues mine", () => {
    const { handle, view } = open();
    type(view, "first draft");
    const end = handle.doc().text.length;
    handle.change((d) => A.splice(d, TEXT_PATH, end, 0, " (bob)"));
    expect(view.state.doc.textContent).toBe("first draft (bob)");
    type(view, " and more");
    expect(handle.doc().text).toBe("first draft and more (bob)");
  });

  it("moves my caret along when they type before it", () => {
    const { handle, view } = open();
    type(view, "draft");
    handle.change((d) => A.splice(d, TEXT_PATH, 0, 0, "Bob: "));
    type(view, "!");
    expect(handle.doc().text).toBe("Bob: draft!");
  });
});

describe("a block another client changes", () => {
  // Stock clients change a block with `updateBlock`, which Automerge reports as the block's marker deleted and
  // a new one inserted, then its fields put: the editor draws the block again, with all of its text.
  for (const [what, block] of [
    ["made a heading", { type: new A.RawString("heading"), parents: [], attrs: { level: 2 } }],
    ["written again unchanged", { type: new A.RawString("paragraph"), parents: [], attrs: {} }],
  ] as const) {
    it(`shows the block ${what} with all of its text, as a fresh editor does`, () => {
      const { handle, view } = open();
      type(view, "start end");
      view.dispatch(view.state.tr.split(view.state.doc.content.size - 1));
      type(view, "second");
      const theirs = A.change(A.clone(handle.doc(), "ff".repeat(16)), (d) => A.updateBlock(d, TEXT_PATH, d.text.indexOf("\uFFFC"), block));
      (handle as unknown as { update(fn: (d: A.Doc<Doc>) => A.Doc<Doc>): void }).update((d) => A.merge(d, theirs));
      expect(view.state.doc.textBetween(0, view.state.doc.content.size, "|")).toBe("start end|second");
      expect(shape(view.state.doc.toJSON())).toEqual(shape(editorState(handle as never).doc.toJSON()));
      expect(view.state.doc.firstChild?.type.name).toBe(block.type.val === "heading" ? "heading" : "paragraph");
    });
  }
});

describe("carets", () => {
  it("map text indices to editor positions and back", () => {
    const { handle, view } = open();
    type(view, "# Head");
    view.dispatch(view.state.tr.split(view.state.selection.from));
    run(view, toggleBlock(schema.nodes.paragraph));
    type(view, "body text");
    const doc = handle.doc();
    const index = doc.text.indexOf("text");
    const pos = pmPosition(doc, index, view.state.doc);
    expect(view.state.doc.textBetween(pos, pos + 4)).toBe("text");
    expect(textIndex(doc, pos)).toBe(index);
  });
});

describe("documents from before the rich editor", () => {
  const old = "---\n# Runbook\nStep one **carefully**\nsee [docs](https://example.com)\n- a\n- b\n1. first\n\n- [x] done\n- [ ] todo";

  it("are converted once into blocks and marks", () => {
    const repo = new Repo({ network: [] });
    const handle = repo.create<Doc>({ text: old });
    expect(needsConversion(handle.doc())).toBe(true);
    handle.change((d) => {
      expect(convertMarkdown(d)).toBe(true);
    });
    expect(needsConversion(handle.doc())).toBe(false);
    // What makes that answer quick on a long document: the converted text starts with a block marker.
    expect(A.block(handle.doc(), TEXT_PATH, 0)).not.toBeNull();
    const types = blocks(handle as never).map((b) => b.type);
    expect(types).toEqual(["paragraph", "horizontal-rule", "heading", "paragraph", "paragraph", "unordered-list-item", "unordered-list-item", "ordered-list-item", "check-list-item", "check-list-item"]);
    expect(handle.doc().text).not.toContain("**");
    expect(marks(handle as never)).toEqual(expect.arrayContaining([{ name: "strong", value: true, text: "carefully" }]));
    const checks = blocks(handle as never).filter((b) => b.type === "check-list-item");
    expect(checks.map((c) => c.attrs.checked)).toEqual([true, false]);
    // A second look changes nothing.
    const heads = A.getHeads(handle.doc());
    handle.change((d) => {
      expect(convertMarkdown(d)).toBe(false);
    });
    expect(A.getHeads(handle.doc())).toEqual(heads);
  });

  it("leave empty and rich documents alone", () => {
    const repo = new Repo({ network: [] });
    expect(needsConversion(repo.create<Doc>({ text: "" }).doc())).toBe(false);
    // Blocks after some plain text (a stock client's edit, say) are not Markdown from before either.
    const mixed = repo.create<Doc>({ text: "plain words" });
    mixed.change((d) => A.splitBlock(d, TEXT_PATH, 5, { type: "paragraph", parents: [], attrs: {} }));
    expect(A.block(mixed.doc(), TEXT_PATH, 0)).toBeNull();
    expect(needsConversion(mixed.doc())).toBe(false);
  });

  it("round-trip through Markdown export", () => {
    const doc = parseMarkdown(old);
    expect(toMarkdown(doc)).toContain("# Runbook");
    expect(toMarkdown(doc)).toContain("- [x] done");
    expect(toMarkdown(doc)).toContain("**carefully**");
    expect(parseMarkdown(toMarkdown(doc)).eq(doc)).toBe(true);
  });
});

describe("authorship", () => {
  it("names the author in the first change an actor makes, and in no later one", () => {
    const repo = new Repo({ network: [] });
    const handle = repo.create<Doc>({ text: "" });
    const created = A.getHistory(handle.doc()).length;
    const view: EditorView = new EditorView(document.createElement("div"), {
      state: editorState(handle as never, "user-7"),
      dispatchTransaction: (tr) => view.updateState(applyKeepingCaret(view.state, tr)),
    });
    type(view, "abc");
    const made = A.getHistory(handle.doc()).slice(created).map((s) => s.change.message);
    expect(made).toEqual(["teamflow-author:user-7", null, null]);
    // A second editor on the same document in this window: the actor was named already.
    const again: EditorView = new EditorView(document.createElement("div"), {
      state: editorState(handle as never, "user-7"),
      dispatchTransaction: (tr) => again.updateState(applyKeepingCaret(again.state, tr)),
    });
    type(again, "d");
    const all = A.getHistory(handle.doc());
    expect(all[all.length - 1].change.message).toBeNull();
  });
});
