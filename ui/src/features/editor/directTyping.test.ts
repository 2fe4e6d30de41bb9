// Typed characters taken by the editor itself (`directTyping.ts`), with real key events on a real view over
// a real Automerge document: what goes into the document, the Markdown shortcuts and marks on the way, and
// the keys left to the browser.
import { next as A } from "@automerge/automerge/slim";
import type { DocHandle } from "@automerge/automerge-repo/slim";
import { TextSelection } from "prosemirror-state";
import { EditorView } from "prosemirror-view";
import { beforeAll, describe, expect, it } from "vitest";
import { automergeReady } from "./repo";
import { openEditor, type Doc } from "./testing";
import { schema, TEXT_PATH } from "./schema";
import { toggleMark, undo } from "./commands";
import { typedText } from "./directTyping";

beforeAll(automergeReady);


/// A `keypress` for `key` as WebKit sends one (its `charCode` the key's code point), dispatched on the
/// editor; answers whether something took it (the browser's editing would not run).
function keypress(view: EditorView, key: string, init: KeyboardEventInit = {}): boolean {
  const event = new KeyboardEvent("keypress", { key, charCode: key.codePointAt(0), bubbles: true, cancelable: true, ...init });
  view.dom.dispatchEvent(event);
  return event.defaultPrevented;
}

function typeKeys(view: EditorView, text: string) {
  for (const ch of text) expect(keypress(view, ch), `"${ch}" taken`).toBe(true);
}

function caretAtEnd(view: EditorView) {
  view.dispatch(view.state.tr.setSelection(TextSelection.atEnd(view.state.doc)));
}

function text(handle: DocHandle<Doc>): string {
  return A.spans(handle.doc(), TEXT_PATH)
    .filter((s) => s.type === "text")
    .map((s) => (s as { value: string }).value)
    .join("");
}

describe("typed characters", () => {
  it("go into the editor and the document at the caret, without the browser's editing", () => {
    const { handle, view } = openEditor("start end");
    view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, 7)));
    typeKeys(view, "and ");
    expect(view.state.doc.textContent).toBe("start and end");
    expect(text(handle)).toBe("start and end");
    // The caret follows, as after the browser's typing.
    expect(view.state.selection.from).toBe(11);
    // The view drew them: its element shows what the state holds.
    expect(view.dom.textContent).toBe("start and end");
  });

  it("run the Markdown shortcuts", () => {
    const { handle, view } = openEditor("");
    typeKeys(view, "# Runbook");
    expect(view.state.doc.firstChild?.type.name).toBe("heading");
    expect(view.state.doc.firstChild?.textContent).toBe("Runbook");
    const block = A.spans(handle.doc(), TEXT_PATH).find((s) => s.type === "block") as { value: { type: unknown } } | undefined;
    expect(String(block?.value.type)).toBe("heading");
    typeKeys(view, " **now**");
    expect(view.state.doc.firstChild?.textContent).toBe("Runbook now");
    const bold = A.marks(handle.doc(), TEXT_PATH).find((m) => m.name === "strong");
    expect(bold, "the shortcut's bold is a mark in the document").toBeDefined();
  });

  it("take the marks at the caret, those toggled there too", () => {
    const { handle, view } = openEditor("plain");
    caretAtEnd(view);
    toggleMark(schema.marks.strong)(view.state, view.dispatch);
    typeKeys(view, "BOLD");
    const marks = A.marks(handle.doc(), TEXT_PATH).filter((m) => m.name === "strong");
    expect(marks.map((m) => [m.start, m.end])).toEqual([[5, 9]]);
    expect(view.state.doc.firstChild?.lastChild?.marks.map((m) => m.type.name)).toEqual(["strong"]);
  });

  it("are undone as typing is", () => {
    const { handle, view } = openEditor("start");
    caretAtEnd(view);
    typeKeys(view, " typed");
    expect(undo(view.state, view.dispatch)).toBe(true);
    expect(view.state.doc.textContent).toBe("start");
    expect(text(handle)).toBe("start");
  });

  it("include characters beyond the Basic Multilingual Plane, whole, and AltGr's", () => {
    const { handle, view } = openEditor("");
    expect(keypress(view, "😀")).toBe(true);
    // AltGr is Ctrl+Alt on Windows: a character, not a command.
    expect(keypress(view, "€", { ctrlKey: true, altKey: true })).toBe(true);
    expect(text(handle)).toBe("😀€");
  });

  it("leave commands, line breaks, input methods and non-characters to the keymaps and the browser", () => {
    const { handle, view } = openEditor("start");
    caretAtEnd(view);
    expect(keypress(view, "a", { ctrlKey: true })).toBe(false);
    expect(keypress(view, "a", { metaKey: true })).toBe(false);
    expect(keypress(view, "a", { isComposing: true })).toBe(false);
    expect(keypress(view, "Enter", { charCode: 13 })).toBe(false);
    expect(keypress(view, "ArrowLeft", { charCode: 0 })).toBe(false);
    expect(keypress(view, "Dead", { charCode: 0 })).toBe(false);
    expect(text(handle)).toBe("start");
    expect(view.state.doc.textContent).toBe("start");
  });
});

describe("typedText", () => {
  const event = (key: string, init: KeyboardEventInit = {}) => new KeyboardEvent("keypress", { key, charCode: key.codePointAt(0), ...init });

  it("is the character of a plain or shifted key", () => {
    expect(typedText(event("a"))).toBe("a");
    expect(typedText(event("A", { shiftKey: true }))).toBe("A");
    expect(typedText(event(" "))).toBe(" ");
  });

  it("is null for a line break, a named key, a command or a composition", () => {
    expect(typedText(event("\r"))).toBeNull();
    expect(typedText(event("Enter", { charCode: 13 }))).toBeNull();
    expect(typedText(event("Tab", { charCode: 0 }))).toBeNull();
    expect(typedText(event("s", { ctrlKey: true }))).toBeNull();
    expect(typedText(event("s", { metaKey: true }))).toBeNull();
    expect(typedText(event("n", { isComposing: true }))).toBeNull();
  });
});
