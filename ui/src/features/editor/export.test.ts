// Exports: the HTML page carries every block and mark the editor draws, check boxes as they are, and a
// title that cannot break out of its element; Markdown is the editor's own serializer.
import { describe, expect, it } from "vitest";
import { schema } from "./schema";
import { exportText, toHtml } from "./export";

const { nodes, marks } = schema;
const doc = nodes.doc.create(null, [
  nodes.heading.create({ level: 1 }, schema.text("Runbook")),
  nodes.paragraph.create(null, [
    schema.text("Restart "),
    schema.text("carefully", [marks.strong.create()]),
    schema.text(" and "),
    schema.text("read the logs", [marks.link.create({ href: "https://example.test/logs" })]),
  ]),
  nodes.check_list.create(null, [
    nodes.check_item.create({ checked: true }, nodes.paragraph.create(null, schema.text("done"))),
    nodes.check_item.create({ checked: false }, nodes.paragraph.create(null, schema.text("to do"))),
  ]),
  nodes.code_block.create(null, schema.text("systemctl restart teamflow-relay")),
]);

describe("export", () => {
  it("writes a page with the blocks, marks and links the editor shows", () => {
    const html = toHtml(doc, "Ops runbook");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<title>Ops runbook</title>");
    expect(html).toContain("<h1>Runbook</h1>");
    expect(html).toContain("<strong>carefully</strong>");
    expect(html).toMatch(/<a href="https:\/\/example.test\/logs"[^>]*>read the logs<\/a>/);
    expect(html).toContain("<pre><code>systemctl restart teamflow-relay</code></pre>");
  });

  it("draws check items with their state", () => {
    const page = new DOMParser().parseFromString(toHtml(doc, "Ops"), "text/html");
    const boxes = Array.from(page.querySelectorAll<HTMLInputElement>("li.check-item input[type=checkbox]"));
    expect(boxes.map((b) => b.checked)).toEqual([true, false]);
    expect(boxes.every((b) => b.disabled)).toBe(true);
  });

  it("escapes the title", () => {
    const html = toHtml(doc, `</title><script>alert("x")</script>`);
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;/title&gt;&lt;script&gt;");
  });

  it("exports Markdown as Copy as Markdown does", () => {
    const markdown = exportText(doc, "Ops", "markdown");
    expect(markdown).toContain("# Runbook");
    expect(markdown).toContain("**carefully**");
    expect(markdown).toContain("- [x] done");
    expect(markdown).toContain("- [ ] to do");
  });
});
