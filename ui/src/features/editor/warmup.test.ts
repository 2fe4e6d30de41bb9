// Warming the typing path on a copy: keys go through the editor's view into the copy, and the document
// itself is left exactly as it was.
import { next as A } from "@automerge/automerge/slim";
import { EditorView } from "prosemirror-view";
import { beforeAll, describe, expect, it } from "vitest";
import { automergeReady } from "./repo";
import { TEXT_PATH } from "./schema";
import { applyKeepingCaret, editorState } from "./state";
import { typeInto, WARM_FROM_CHARS, WARM_KEYS, warmingCopy, warmingCopyOnce } from "./warmup";

type Doc = { text: string };

beforeAll(automergeReady);

const LINE = "a line of a long document, forty chars.";

function rich(paragraphs: number, line: string): A.Doc<Doc> {
  return A.change(A.from<Doc>({ text: "" }), (d) => {
    let at = 0;
    for (let i = 0; i < paragraphs; i++) {
      A.splitBlock(d, TEXT_PATH, at, { type: "paragraph", parents: [], attrs: {} });
      A.splice(d, TEXT_PATH, at + 1, 0, line);
      at += 1 + line.length;
    }
  });
}

const long = () => rich(Math.ceil(WARM_FROM_CHARS / LINE.length) + 1, LINE);

function viewOn(handle: Parameters<typeof editorState>[0]): EditorView {
  const mount = document.createElement("div");
  document.body.append(mount);
  const view: EditorView = new EditorView(mount, {
    state: editorState(handle),
    dispatchTransaction: (tr) => view.updateState(applyKeepingCaret(view.state, tr)),
  });
  return view;
}

describe("warming the typing path", () => {
  it("types into a copy of a long document through the view and leaves the document as it was", async () => {
    const doc = long();
    const heads = A.getHeads(doc);
    const text = doc.text;
    const copy = warmingCopy(doc)!;
    expect(copy).not.toBeNull();
    const view = viewOn(copy.handle);
    await typeInto(view);
    // The keys reached the copy: at its start, and at its end less the deletes.
    const typed = (copy.handle.doc() as Doc).text;
    const { end, start, deletes } = WARM_KEYS;
    expect(typed).toBe(`\ufffc${"a".repeat(start)}${text.slice(1)}${"a".repeat(end - deletes)}`);
    expect(view.state.doc.textContent).toBe(typed.replaceAll("\ufffc", ""));
    // Left unfocused: the person's focus is where it was.
    expect(document.activeElement).not.toBe(view.dom);
    // The document itself: untouched, and still a live document that takes changes.
    expect(A.getHeads(doc)).toEqual(heads);
    expect(doc.text).toBe(text);
    const next = A.change(doc, (d) => A.splice(d, TEXT_PATH, 1, 0, "x"));
    expect(next.text.slice(0, 3)).toBe("\ufffcxa");
    view.destroy();
    copy.free();
  });

  it("leaves a short document alone", () => {
    expect(warmingCopy(rich(3, "short"))).toBeNull();
  });

  it("stops when the editor is closed while it types", async () => {
    const copy = warmingCopy(long())!;
    const view = viewOn(copy.handle);
    const before = (copy.handle.doc() as Doc).text;
    const typing = typeInto(view);
    view.destroy();
    await expect(typing).resolves.toBeUndefined();
    // At most the key typed before the first pause.
    expect((copy.handle.doc() as Doc).text.length - before.length).toBeLessThanOrEqual(1);
    copy.free();
  });

  it("warms once per window: a short document does not count, the first long one does", () => {
    const doc = long();
    expect(warmingCopyOnce(rich(3, "short"))).toBeNull();
    const copy = warmingCopyOnce(doc);
    expect(copy).not.toBeNull();
    expect(warmingCopyOnce(doc)).toBeNull();
    copy!.free();
  });
});
