// A chat message's light formatting, as people write it in chat apps: **bold**, *italic* (or _italic_),
// ~~struck~~, `code`, ``` fenced code blocks ```, and web links, read by markdown-it with only those rules on
// (no headings, lists, quotes, images or HTML: a line starting "# " or "> " stays as written). Mentions are
// taken out first and put back as mentions wherever they land, so no formatting can break one apart.
import MarkdownIt from "markdown-it";
import type Token from "markdown-it/lib/token.mjs";
import { webLink } from "../../lib/links";
import { type Segment, segments } from "./mentions";

export type Inline =
  | { kind: "text"; text: string }
  | { kind: "mention"; mention: Extract<Segment, { mention: unknown }>["mention"] }
  | { kind: "code"; text: string }
  | { kind: "break" }
  | { kind: "strong" | "em" | "s"; children: Inline[] }
  | { kind: "link"; url: string; children: Inline[] };

export type Block = { kind: "paragraph"; children: Inline[] } | { kind: "code"; text: string };

const md = MarkdownIt("zero", { linkify: true }).enable(["paragraph", "fence", "backticks", "emphasis", "strikethrough", "linkify", "newline", "escape"]);
// Web links only (linkify-it also finds email addresses, as mailto:), as the shell's open_link takes them.
md.validateLink = (url) => webLink(url) !== null;

/** Where a mention stood: a private-use character around its index, which nothing else reads as syntax. */
const HOLE = /\uE000(\d+)\uE001/g;

/** `content` as blocks of formatted text. */
export function formatted(content: string): Block[] {
  const mentions: Extract<Segment, { mention: unknown }>["mention"][] = [];
  const source = segments(content)
    .map((s) => ("text" in s ? s.text : `\uE000${mentions.push(s.mention) - 1}\uE001`))
    .join("");
  const blocks: Block[] = [];
  for (const token of md.parse(source, {})) {
    if (token.type === "fence") blocks.push({ kind: "code", text: withMentions(token.content.replace(/\n$/, ""), mentions) });
    if (token.type === "inline") blocks.push({ kind: "paragraph", children: inlines(token.children ?? [], mentions) });
  }
  return blocks;
}

/** Text with its mention holes read back as "@Name" (inside code, where nothing is drawn). */
function withMentions(text: string, mentions: { name: string }[]): string {
  return text.replace(HOLE, (hole, i: string) => (mentions[Number(i)] ? `@${mentions[Number(i)].name}` : hole));
}

function inlines(tokens: Token[], mentions: Extract<Segment, { mention: unknown }>["mention"][]): Inline[] {
  const root: Inline[] = [];
  const open: Inline[][] = [root];
  const here = () => open[open.length - 1];
  for (const token of tokens) {
    switch (token.type) {
      case "text": {
        let at = 0;
        for (const hole of token.content.matchAll(HOLE)) {
          const mention = mentions[Number(hole[1])];
          if (!mention) continue;
          if (hole.index > at) here().push({ kind: "text", text: token.content.slice(at, hole.index) });
          here().push({ kind: "mention", mention });
          at = hole.index + hole[0].length;
        }
        if (at < token.content.length) here().push({ kind: "text", text: token.content.slice(at) });
        break;
      }
      case "code_inline":
        here().push({ kind: "code", text: withMentions(token.content, mentions) });
        break;
      case "softbreak":
      case "hardbreak":
        here().push({ kind: "break" });
        break;
      case "strong_open":
      case "em_open":
      case "s_open":
      case "link_open": {
        const children: Inline[] = [];
        const kind = token.type.slice(0, -5) as "strong" | "em" | "s" | "link";
        here().push(kind === "link" ? { kind, url: token.attrGet("href") ?? "", children } : { kind, children });
        open.push(children);
        break;
      }
      case "strong_close":
      case "em_close":
      case "s_close":
      case "link_close":
        if (open.length > 1) open.pop();
        break;
    }
  }
  return root;
}
