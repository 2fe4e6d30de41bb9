// The editor's ProseMirror schema and how it maps onto Automerge's rich text (block markers and marks in the
// document's `text`), so every automerge client reads the same structure. It follows the Automerge rich
// text schema (paragraph, heading, ordered-/unordered-list-item, blockquote, code-block; strong, em, link,
// code) and extends it where that has no word: underline, strike, check-list-item (attr `checked`) and
// horizontal-rule (an embed, drawn on a line of its own).
import { SchemaAdapter, type MappedSchemaSpec } from "@automerge/prosemirror";
import type { Node, Mark } from "prosemirror-model";

/// The field of the document root that holds the text (`teamflow_sync::TEXT_FIELD`).
export const TEXT_PATH = ["text"];

const spec: MappedSchemaSpec = {
  nodes: {
    doc: { content: "block+" },
    paragraph: {
      automerge: { block: "paragraph" },
      content: "inline*",
      group: "block",
      parseDOM: [{ tag: "p" }],
      toDOM: () => ["p", 0],
    },
    unknownBlock: {
      automerge: { unknownBlock: true },
      group: "block",
      content: "block+",
      parseDOM: [{ tag: "div", attrs: { "data-unknown-block": "true" } }],
      toDOM: () => ["div", { "data-unknown-block": "true" }, 0],
    },
    heading: {
      automerge: {
        block: "heading",
        attrParsers: {
          fromAutomerge: (block) => ({ level: clampLevel(block.attrs.level) }),
          fromProsemirror: (node: Node) => ({ level: node.attrs.level }),
        },
      },
      attrs: { level: { default: 1 } },
      content: "inline*",
      group: "block",
      defining: true,
      parseDOM: [1, 2, 3, 4, 5, 6].map((n) => ({ tag: `h${n}`, attrs: { level: Math.min(n, 3) } })),
      toDOM: (node: Node) => [`h${node.attrs.level}`, 0],
    },
    blockquote: {
      automerge: { block: "blockquote" },
      content: "block+",
      group: "block",
      defining: true,
      parseDOM: [{ tag: "blockquote" }],
      toDOM: () => ["blockquote", 0],
    },
    code_block: {
      automerge: { block: "code-block" },
      content: "text*",
      marks: "",
      group: "block",
      code: true,
      defining: true,
      parseDOM: [{ tag: "pre", preserveWhitespace: "full" }],
      toDOM: () => ["pre", ["code", 0]],
    },
    // An embed, like the schema's images: the binding keeps embeds inline, so a rule is drawn as a line
    // filling a paragraph of its own.
    horizontal_rule: {
      automerge: { block: "horizontal-rule", isEmbed: true },
      inline: true,
      group: "inline",
      atom: true,
      selectable: true,
      parseDOM: [{ tag: "hr" }],
      toDOM: () => ["hr"],
    },
    ordered_list: {
      group: "block",
      content: "list_item+",
      attrs: { order: { default: 1 } },
      parseDOM: [{ tag: "ol", getAttrs: (dom: HTMLElement) => ({ order: dom.hasAttribute("start") ? Number(dom.getAttribute("start")) : 1 }) }],
      toDOM: (node: Node) => (node.attrs.order === 1 ? ["ol", 0] : ["ol", { start: node.attrs.order }, 0]),
    },
    bullet_list: {
      group: "block",
      content: "list_item+",
      parseDOM: [{ tag: "ul", priority: 40 }],
      toDOM: () => ["ul", 0],
    },
    list_item: {
      automerge: { block: { within: { ordered_list: "ordered-list-item", bullet_list: "unordered-list-item" } } },
      content: "paragraph block*",
      defining: true,
      parseDOM: [{ tag: "li", priority: 40 }],
      toDOM: () => ["li", 0],
    },
    check_list: {
      group: "block",
      content: "check_item+",
      parseDOM: [{ tag: "ul[data-check-list]", priority: 60 }],
      toDOM: () => ["ul", { "data-check-list": "true", class: "check-list" }, 0],
    },
    check_item: {
      automerge: { block: { within: { check_list: "check-list-item" } } },
      attrs: { checked: { default: false } },
      content: "paragraph block*",
      defining: true,
      parseDOM: [
        {
          tag: "li[data-checked]",
          priority: 60,
          getAttrs: (dom: HTMLElement) => ({ checked: dom.getAttribute("data-checked") === "true" }),
        },
      ],
      toDOM: (node: Node) => ["li", { "data-checked": String(node.attrs.checked), class: "check-item" }, 0],
    },
    text: { group: "inline" },
  },
  marks: {
    link: {
      attrs: { href: {}, title: { default: null } },
      inclusive: false,
      parseDOM: [{ tag: "a[href]", getAttrs: (dom: HTMLElement) => ({ href: dom.getAttribute("href"), title: dom.getAttribute("title") }) }],
      toDOM: (mark: Mark) => ["a", { href: mark.attrs.href, title: mark.attrs.title, rel: "noopener noreferrer" }, 0],
      automerge: {
        markName: "link",
        parsers: {
          // The schema's link value: a JSON string with the address (and title).
          fromAutomerge: (value) => {
            if (typeof value === "string") {
              try {
                const parsed = JSON.parse(value) as { href?: string; title?: string };
                return { href: parsed.href ?? "", title: parsed.title ?? null };
              } catch {
                return { href: value, title: null };
              }
            }
            return { href: "", title: null };
          },
          fromProsemirror: (mark: Mark) => JSON.stringify({ href: mark.attrs.href, title: mark.attrs.title ?? "" }),
        },
      },
    },
    strong: {
      parseDOM: [
        { tag: "strong" },
        // Google Docs wraps pasted text in <b style="font-weight:normal">.
        { tag: "b", getAttrs: (node: HTMLElement) => node.style.fontWeight !== "normal" && null },
        { style: "font-weight=400", clearMark: (m) => m.type.name === "strong" },
        { style: "font-weight", getAttrs: (value: string) => /^(bold(er)?|[5-9]\d{2,})$/.test(value) && null },
      ],
      toDOM: () => ["strong", 0],
      automerge: { markName: "strong" },
    },
    em: {
      parseDOM: [{ tag: "i" }, { tag: "em" }, { style: "font-style=italic" }, { style: "font-style=normal", clearMark: (m) => m.type.name === "em" }],
      toDOM: () => ["em", 0],
      automerge: { markName: "em" },
    },
    underline: {
      parseDOM: [{ tag: "u" }, { style: "text-decoration=underline" }],
      toDOM: () => ["u", 0],
      automerge: { markName: "underline" },
    },
    strike: {
      parseDOM: [{ tag: "s" }, { tag: "del" }, { tag: "strike" }, { style: "text-decoration=line-through" }],
      toDOM: () => ["s", 0],
      automerge: { markName: "strike" },
    },
    code: {
      parseDOM: [{ tag: "code" }],
      toDOM: () => ["code", 0],
      automerge: { markName: "code" },
    },
  },
};

function clampLevel(level: unknown): number {
  const n = typeof level === "number" ? level : Number(level);
  return Number.isFinite(n) ? Math.min(Math.max(Math.round(n), 1), 3) : 1;
}

export const adapter = new SchemaAdapter(spec);

// The binding carries attributes only for blocks mapped by name; a check-list item is mapped by its list
// (`within`), so its `checked` attribute is given the same parsers here.
for (const mapping of adapter.nodeMappings) {
  if (mapping.blockName === "check-list-item") {
    mapping.attrParsers = {
      fromAutomerge: (block) => ({ checked: block.attrs.checked === true }),
      fromProsemirror: (node: Node) => ({ checked: node.attrs.checked === true }),
    };
  }
}

export const schema = adapter.schema;
