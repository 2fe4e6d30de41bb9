import { describe, expect, it } from "vitest";
import { markdownRanges, pieces } from "./decorate";

describe("markdownRanges", () => {
  it("finds headings, list markers, bold, italic and links by code point", () => {
    const text = "# Plan 😀\n**ship** it _soon_ [doc](https://x)\n- one";
    const styles = markdownRanges(text).map((r) => [r.className, Array.from(text).slice(r.start, r.end).join("")]);
    expect(styles).toEqual([
      ["md-heading", "# Plan 😀"],
      ["md-marker", "# "],
      ["md-bold", "**ship**"],
      ["md-italic", "_soon_"],
      ["md-link", "[doc](https://x)"],
      ["md-marker", "- "],
    ]);
  });

  it("leaves snake_case words alone", () => {
    expect(markdownRanges("a snake_case_name here")).toEqual([]);
  });
});

describe("pieces", () => {
  it("keeps every character once, in order, with carets between them", () => {
    const text = "hello **world**";
    const out = pieces(text, [...markdownRanges(text), { start: 0, end: 5, color: "#f00" }], [{ key: "p", at: 3, name: "Bob", color: "#00f" }]);
    const rebuilt = out.map((p) => (p.kind === "text" ? p.text : "|")).join("");
    expect(rebuilt).toBe("hel|lo **world**");
    expect(out.find((p) => p.kind === "text" && p.text === "hel")).toMatchObject({ background: "#f00" });
    expect(out.find((p) => p.kind === "text" && p.text === "**world**")).toMatchObject({ classes: ["md-bold"], background: null });
  });

  it("clamps a caret past the end (a teammate ahead of us) to the end", () => {
    const out = pieces("ab", [], [{ key: "p", at: 9, name: "Bob", color: "#00f" }]);
    expect(out.map((p) => p.kind)).toEqual(["text", "caret"]);
  });
});
