// Exports of a document, made from what the editor shows: Markdown (the same as "Copy as Markdown") and a
// standalone HTML page. The shell only saves them where the person picks in the save dialog.
import { DOMSerializer, type Node } from "prosemirror-model";
import { toMarkdown } from "./markdown";

export type ExportFormat = "markdown" | "html";

const PAGE_STYLE = [
  "body { font: 16px/1.6 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }",
  "pre { background: #f4f4f5; padding: 0.75rem; overflow-x: auto; }",
  "ul.check-list { list-style: none; padding-left: 0.5rem; }",
  "li.check-item input { margin-right: 0.5rem; }",
].join("\n");

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/// The document as a page of its own: the editor's own rendering of each block and mark, check items with
/// a (read-only) check box, and the title as the page's title and first heading.
export function toHtml(doc: Node, title: string, dom: Document = document): string {
  const body = dom.createElement("div");
  body.appendChild(DOMSerializer.fromSchema(doc.type.schema).serializeFragment(doc.content, { document: dom }));
  for (const item of Array.from(body.querySelectorAll("li.check-item"))) {
    const box = dom.createElement("input");
    box.type = "checkbox";
    box.disabled = true;
    if (item.getAttribute("data-checked") === "true") box.setAttribute("checked", "");
    item.insertBefore(box, item.firstChild);
  }
  const name = escapeHtml(title);
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<title>${name}</title>`,
    `<style>\n${PAGE_STYLE}\n</style>`,
    "</head>",
    "<body>",
    `<h1>${name}</h1>`,
    body.innerHTML,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/// What an export of `doc` in `format` holds.
export function exportText(doc: Node, title: string, format: ExportFormat): string {
  return format === "html" ? toHtml(doc, title) : toMarkdown(doc);
}
