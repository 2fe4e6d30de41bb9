import { describe, expect, it } from "vitest";
import { applyFormat, formatForKey } from "./format";

describe("applyFormat", () => {
  it("wraps the selection and keeps it selected", () => {
    expect(applyFormat("say hello now", 4, 9, "bold")).toEqual({ text: "say **hello** now", start: 6, end: 11 });
    expect(applyFormat("x", 1, 1, "italic")).toEqual({ text: "x_italic_", start: 2, end: 8 });
  });
  it("toggles line prefixes for headings and lists", () => {
    const listed = applyFormat("one\ntwo", 0, 7, "list");
    expect(listed.text).toBe("- one\n- two");
    expect(applyFormat(listed.text, 0, listed.text.length, "list").text).toBe("one\ntwo");
    expect(applyFormat("a\ntitle", 3, 3, "heading").text).toBe("a\n# title");
  });
  it("selects the address of a new link", () => {
    const r = applyFormat("see docs", 4, 8, "link");
    expect(r.text).toBe("see [docs](https://)");
    expect(r.text.slice(r.start, r.end)).toBe("https://");
  });
  it("maps shortcuts", () => {
    expect(formatForKey({ key: "b", ctrlKey: true, metaKey: false, altKey: false })).toBe("bold");
    expect(formatForKey({ key: "1", ctrlKey: false, metaKey: true, altKey: true })).toBe("heading");
    expect(formatForKey({ key: "b", ctrlKey: false, metaKey: false, altKey: false })).toBeNull();
  });
});
