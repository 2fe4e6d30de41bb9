// Markdown in and out of the rich-text schema: reading documents written before the rich editor (their
// Markdown was the text itself) into blocks and marks once, and writing a document out as Markdown.
import { next as A } from "@automerge/automerge/slim";
import { pmNodeToSpans } from "@automerge/prosemirror";
import MarkdownIt from "markdown-it";
import { MarkdownParser, MarkdownSerializer, type MarkdownSerializerState } from "prosemirror-markdown";
import { Fragment, type Node, type NodeType } from "prosemirror-model";
import { adapter, schema, TEXT_PATH } from "./schema";

const parser = new MarkdownParser(schema, MarkdownIt("commonmark", { html: false }).enable("strikethrough"), {
  blockquote: { block: "blockquote" },
  paragraph: { block: "paragraph" },
  list_item: { block: "list_item" },
  bullet_list: { block: "bullet_list" },
  ordered_list: { block: "ordered_list", getAttrs: (tok) => ({ order: Number(tok.attrGet("start") ?? 1) }) },
  heading: { block: "heading", getAttrs: (tok) => ({ level: Math.min(Number(tok.tag.slice(1)), 3) }) },
  code_block: { block: "code_block", noCloseToken: true },
  fence: { block: "code_block", noCloseToken: true },
  em: { mark: "em" },
  strong: { mark: "strong" },
  s: { mark: "strike" },
  link: { mark: "link", getAttrs: (tok) => ({ href: tok.attrGet("href"), title: tok.attrGet("title") || null }) },
  code_inline: { mark: "code", noCloseToken: true },
});

// A rule is an inline embed (see schema.ts): it gets a paragraph of its own.
// (`tokenHandlers` is public at run time, not in the typings.)
type ParseState = { openNode(type: NodeType, attrs: null): void; addNode(type: NodeType, attrs: null): void; closeNode(): void };
(parser as unknown as { tokenHandlers: Record<string, (state: ParseState) => void> }).tokenHandlers.hr = (state) => {
  state.openNode(schema.nodes.paragraph, null);
  state.addNode(schema.nodes.horizontal_rule, null);
  state.closeNode();
};

/// Lines that start a block of their own in Markdown.
const BLOCK_START = /^\s*([-+*]\s|\d+\.\s|#{1,6}\s|>|```|---|\[( |x)\]\s)/;

/// Before the rich editor each line of the text showed as a line; Markdown would join consecutive plain
/// lines into one paragraph, so a blank line is put between them (outside code fences).
function linesAsParagraphs(markdown: string): string {
  const lines = markdown.split("\n");
  const out: string[] = [];
  let fenced = false;
  lines.forEach((line, i) => {
    out.push(line);
    if (line.trimStart().startsWith("```")) fenced = !fenced;
    const next = lines[i + 1];
    if (!fenced && next !== undefined && line.trim() !== "" && next.trim() !== "" && !BLOCK_START.test(next)) out.push("");
  });
  return out.join("\n");
}

/// Parses Markdown into a document of the schema; `- [ ] x` / `- [x] x` items become check-list items.
export function parseMarkdown(markdown: string): Node {
  const doc = parser.parse(linesAsParagraphs(markdown.replace(/\r\n?/g, "\n")));
  return checkLists(doc);
}

/// Bullet lists whose items all start with `[ ]` or `[x]` become check lists.
function checkLists(node: Node): Node {
  if (node.isTextblock || node.isLeaf) return node;
  const children: Node[] = [];
  node.forEach((child) => children.push(checkLists(child)));
  if (node.type === schema.nodes.bullet_list && children.every((item) => /^\[( |x|X)\]\s/.test(item.firstChild?.textContent ?? ""))) {
    const items = children.map((item) => {
      const first = item.firstChild as Node;
      const checked = /^\[(x|X)\]/.test(first.textContent);
      const rest: Node[] = [];
      item.forEach((c, _offset, i) => i > 0 && rest.push(c));
      const cut = first.textContent.match(/^\[( |x|X)\]\s+/)?.[0].length ?? 0;
      return schema.nodes.check_item.create({ checked }, [first.cut(cut), ...rest]);
    });
    return schema.nodes.check_list.create(null, items);
  }
  return node.copy(Fragment.fromArray(children));
}

/// Whether the text at `path` is Markdown from before the rich editor: text with no block markers.
export function needsConversion(doc: A.Doc<unknown>): boolean {
  // Every document the editor wrote starts with a block marker: one look, where reading every span of a
  // long document costs the page a tenth of a second or more on each opening.
  if (A.block(doc, TEXT_PATH, 0)) return false;
  const spans = A.spans(doc, TEXT_PATH);
  return spans.length > 0 && spans.every((s) => s.type === "text") && spans.some((s) => s.type === "text" && s.value.trim() !== "");
}

/// Converts a document's Markdown text into blocks and marks, in place, as one change of `doc` (pass the
/// document inside `handle.change`). Nothing happens to a document that already has blocks.
export function convertMarkdown(doc: A.Doc<unknown>): boolean {
  if (!needsConversion(doc)) return false;
  const text = A.spans(doc, TEXT_PATH)
    .map((s) => (s.type === "text" ? s.value : ""))
    .join("");
  A.updateSpans(doc, TEXT_PATH, pmNodeToSpans(adapter, parseMarkdown(text)), adapter.updateSpansConfig());
  return true;
}

function inlineMark(open: string, close = open) {
  return { open, close, mixable: true, expelEnclosingWhitespace: true };
}

const serializer = new MarkdownSerializer(
  {
    blockquote: (state, node) => state.wrapBlock("> ", null, node, () => state.renderContent(node)),
    code_block: (state, node) => {
      state.write("```\n");
      state.text(node.textContent, false);
      state.ensureNewLine();
      state.write("```");
      state.closeBlock(node);
    },
    heading: (state, node) => {
      state.write(`${"#".repeat(node.attrs.level)} `);
      state.renderInline(node);
      state.closeBlock(node);
    },
    horizontal_rule: (state) => state.write("---"),
    bullet_list: (state, node) => state.renderList(node, "  ", () => "- "),
    ordered_list: (state, node) => {
      const start = node.attrs.order ?? 1;
      const width = String(start + node.childCount - 1).length;
      const space = " ".repeat(width + 2);
      state.renderList(node, space, (i) => {
        const n = String(start + i);
        return `${" ".repeat(width - n.length)}${n}. `;
      });
    },
    check_list: (state, node) => state.renderList(node, "  ", (i) => `- [${node.child(i).attrs.checked ? "x" : " "}] `),
    list_item: (state, node) => state.renderContent(node),
    check_item: (state, node) => state.renderContent(node),
    paragraph: (state, node) => {
      state.renderInline(node);
      state.closeBlock(node);
    },
    unknownBlock: (state, node) => state.renderContent(node),
    unknownLeaf: () => {},
    text: (state: MarkdownSerializerState, node) => state.text(node.text ?? ""),
  },
  {
    em: inlineMark("*"),
    strong: inlineMark("**"),
    strike: inlineMark("~~"),
    underline: inlineMark("<u>", "</u>"),
    link: {
      open: "[",
      close: (_state, mark) => `](${String(mark.attrs.href).replace(/[()"]/g, "\\$&")})`,
      mixable: false,
    },
    code: { open: "`", close: "`", escape: false },
    unknownMark: { open: "", close: "" },
  },
);

/// The document as Markdown.
export function toMarkdown(doc: Node): string {
  return serializer.serialize(doc);
}
