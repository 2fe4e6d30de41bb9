import { describe, expect, it } from "vitest";
import { formatted, type Inline } from "./format";
import { mentionToken } from "./mentions";

const ADA = "0190a5b2-0000-7000-8000-000000000001";

describe("formatted", () => {
  it("reads bold, italic, struck, code and links in a paragraph, lines kept", () => {
    expect(formatted("ship **today** or _maybe_ ~~never~~, run `make`\nsee https://example.com/pr/12.")).toEqual([
      {
        kind: "paragraph",
        children: [
          { kind: "text", text: "ship " },
          { kind: "strong", children: [{ kind: "text", text: "today" }] },
          { kind: "text", text: " or " },
          { kind: "em", children: [{ kind: "text", text: "maybe" }] },
          { kind: "text", text: " " },
          { kind: "s", children: [{ kind: "text", text: "never" }] },
          { kind: "text", text: ", run " },
          { kind: "code", text: "make" },
          { kind: "break" },
          { kind: "text", text: "see " },
          { kind: "link", url: "https://example.com/pr/12", children: [{ kind: "text", text: "https://example.com/pr/12" }] },
          { kind: "text", text: "." },
        ],
      },
    ]);
  });

  it("keeps a fenced block as code, with its indentation, and paragraphs around it", () => {
    expect(formatted("before\n```\nfn main() {\n    run();\n}\n```\nafter")).toEqual([
      { kind: "paragraph", children: [{ kind: "text", text: "before" }] },
      { kind: "code", text: "fn main() {\n    run();\n}" },
      { kind: "paragraph", children: [{ kind: "text", text: "after" }] },
    ]);
  });

  it("puts mentions back as mentions, inside formatting too, and as names inside code", () => {
    const ada = mentionToken(ADA, "Ada_Lovelace *1*");
    expect(formatted(`**ask ${ada}** and \`${ada}\``)).toEqual([
      {
        kind: "paragraph",
        children: [
          { kind: "strong", children: [{ kind: "text", text: "ask " }, { kind: "mention", mention: { userId: ADA, name: "Ada_Lovelace *1*" } }] },
          { kind: "text", text: " and " },
          { kind: "code", text: "@Ada_Lovelace *1*" },
        ],
      },
    ]);
  });

  it("keeps lines, blank lines and leading spaces as written, and ~~~ as text", () => {
    const shape = "Traceback:\n  File \"app.py\", line 3\n    run()\n\n\nValueError: boom\n~~~\nnot code";
    expect(formatted(shape)).toEqual([{ kind: "paragraph", children: shape.split("\n").flatMap((line, i) => [...(i > 0 ? [{ kind: "break" }] : []), ...(line ? [{ kind: "text", text: line }] : [])]) }]);
    // Formatting stays within its line.
    expect(JSON.stringify(formatted("**not\nbold**"))).not.toContain("strong");
  });

  it("links file names only when written as web addresses", () => {
    for (const text of ["see README.md, lib.rs, setup.py and install.sh", "v1.2.3", "a.b"]) {
      expect(JSON.stringify(formatted(text)), text).not.toContain('"kind":"link"');
    }
    for (const [text, url] of [["example.com/pr/12", "http://example.com/pr/12"], ["teamflow.dev", "http://teamflow.dev"], ["https://example.co.uk/x", "https://example.co.uk/x"]]) {
      expect(JSON.stringify(formatted(text)), text).toContain(`"url":"${url}"`);
    }
  });

  it("never takes typed hole characters for mentions, nor a mention into a link", () => {
    const ada = mentionToken(ADA, "Ada");
    expect(formatted(`${ada} \uE0000\uE001`)).toEqual([
      { kind: "paragraph", children: [{ kind: "mention", mention: { userId: ADA, name: "Ada" } }, { kind: "text", text: " \uFFFD0\uFFFD" }] },
    ]);
    const glued = formatted(`https://example.com/a${ada}`);
    expect(JSON.stringify(glued)).not.toContain('"kind":"link"');
    expect(JSON.stringify(glued)).toContain('"kind":"mention"');
  });

  it("leaves what is not chat formatting as written", () => {
    const plain = (items: Inline[]): string =>
      items.map((i) => (i.kind === "text" || i.kind === "code" ? i.text : i.kind === "break" ? "\n" : i.kind === "mention" ? `@${i.mention.name}` : plain(i.children))).join("");
    for (const text of ["# not a heading", "> not a quote", "- not a list", "1. not a list", "![img](https://example.com/a.png)", "<b>not html</b>", "[text](https://example.com)", "mail ada@example.com", "javascript:alert(1)", "2 * 3 * 4", "snake_case_name"]) {
      const blocks = formatted(text);
      expect(blocks.length, text).toBe(1);
      const [block] = blocks;
      expect(block.kind === "paragraph" && plain(block.children), text).toBe(text);
      expect(/"kind":"(strong|em)"/.test(JSON.stringify(blocks)), text).toBe(false);
    }
    // A web address inside Markdown's link or image syntax is a link by itself; the syntax stays text.
    expect(JSON.stringify(formatted("[text](https://example.com)"))).toContain('"url":"https://example.com"');
    expect(formatted("\\*not italic\\*")).toEqual([{ kind: "paragraph", children: [{ kind: "text", text: "*not italic*" }] }]);
    expect(formatted("")).toEqual([]);
  });
});
