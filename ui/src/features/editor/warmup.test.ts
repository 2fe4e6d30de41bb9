// Warming the typing path on a copy: the document itself is left exactly as it was.
import { next as A } from "@automerge/automerge/slim";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { automergeReady } from "./repo";
import { TEXT_PATH } from "./schema";
import { WARM_FROM_CHARS, warmTyping, warmTypingOnce } from "./warmup";

type Doc = { text: string };

beforeAll(automergeReady);

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

describe("warming the typing path", () => {
  it("types into a copy of a long document and leaves the document as it was", () => {
    const doc = rich(Math.ceil(WARM_FROM_CHARS / 40) + 1, "a line of a long document, forty chars.");
    const heads = A.getHeads(doc);
    const text = doc.text;
    expect(warmTyping(doc)).toBe(true);
    expect(A.getHeads(doc)).toEqual(heads);
    expect(doc.text).toBe(text);
    // Still a live document: it takes changes as before.
    const next = A.change(doc, (d) => A.splice(d, TEXT_PATH, 1, 0, "x"));
    expect(next.text.slice(0, 3)).toBe("\ufffcxa");
  });

  it("leaves a short document alone", () => {
    const doc = rich(3, "short");
    expect(warmTyping(doc)).toBe(false);
  });

  it("fails quietly: the document opens all the same", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const doc = rich(Math.ceil(WARM_FROM_CHARS / 40) + 1, "a line of a long document, forty chars.");
    A.free(doc);
    expect(warmTyping(doc)).toBe(false);
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
  });

  it("warms once per window: a short document does not count, the first long one does", () => {
    const long = rich(Math.ceil(WARM_FROM_CHARS / 40) + 1, "a line of a long document, forty chars.");
    expect(warmTypingOnce(rich(3, "short"))).toBe(false);
    expect(warmTypingOnce(long)).toBe(true);
    expect(warmTypingOnce(long)).toBe(false);
  });
});
