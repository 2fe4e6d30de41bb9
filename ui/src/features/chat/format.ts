// A chat message's light formatting, as people write it in chat apps: **bold**, *italic* (or _italic_),
// ~~struck~~, `code`, ``` fenced code blocks ```, and web links, read by markdown-it with only those rules on
// (no headings, lists, quotes, images, Markdown links or HTML: a line starting "# " or "> " stays as
// written). Mentions are taken out first and put back as mentions wherever they land, so no formatting can
// break one apart.
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

const md = MarkdownIt("zero", { linkify: true }).enable(["fence", "paragraph", "backticks", "emphasis", "strikethrough", "linkify", "escape"]);
// A bare address links only under these names: every two-letter country's would make README.md, lib.rs
// and setup.py links. Anything written with http(s):// links whatever its name.
md.linkify.tlds(["com", "org", "net", "edu", "gov", "io", "dev", "app", "info"], false);
// Web links only (linkify-it also finds email addresses, as mailto:), as the shell's open_link takes them,
// and none that ran into a mention (which would carry the mention's hole in its address).
md.validateLink = (url) => webLink(url) !== null && !/\uE000|\uE001|%EE%80%8[01]/i.test(url);

/** Where a mention stood: a private-use character around its index, which nothing else reads as syntax. */
const HOLE = /\uE000(\d+)\uE001/g;

/**
 * `content` as blocks: code fenced with ``` (markdown-it's block rules find them), and the text around, each
 * line read by markdown-it's inline rules on its own. Lines stay lines, blank lines and leading spaces stay
 * (a pasted stack trace keeps its shape), and formatting does not run from one line into the next.
 */
export function formatted(content: string): Block[] {
  const mentions: Extract<Segment, { mention: unknown }>["mention"][] = [];
  // The two hole characters typed by someone are not holes.
  const source = segments(content)
    .map((s) => ("text" in s ? s.text.replace(/[\uE000\uE001]/g, "\uFFFD") : `\uE000${mentions.push(s.mention) - 1}\uE001`))
    .join("");
  const lines = source.split("\n");
  const blocks: Block[] = [];
  let textFrom = 0;
  const text = (to: number) => {
    const shown = lines.slice(textFrom, to);
    // Blank lines at a block's edges are the fences' own spacing.
    while (shown.length > 0 && shown[0].trim() === "") shown.shift();
    while (shown.length > 0 && shown[shown.length - 1].trim() === "") shown.pop();
    if (shown.length > 0) blocks.push({ kind: "paragraph", children: shown.flatMap((line, i) => [...(i > 0 ? [{ kind: "break" } as const] : []), ...inlineLine(line, mentions)]) });
  };
  for (const token of md.parse(source, {})) {
    // ``` only: a line of ~~~ is not code in a chat.
    if (token.type !== "fence" || !token.markup.startsWith("`") || !token.map) continue;
    text(token.map[0]);
    blocks.push({ kind: "code", text: withMentions(token.content.replace(/\n$/, ""), mentions) });
    textFrom = token.map[1];
  }
  text(lines.length);
  return blocks;
}

function inlineLine(line: string, mentions: Extract<Segment, { mention: unknown }>["mention"][]): Inline[] {
  return md.parseInline(line, {}).flatMap((token) => inlines(token.children ?? [], mentions));
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
