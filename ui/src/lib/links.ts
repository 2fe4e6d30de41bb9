// Which links the window shows (activity items, links in chat messages): absolute http(s) only, the same
// rule as the relay and the shell's open_link command (teamflow_protocol::api::integrations::is_web_link).
// Anything else renders as text. Links in text are found by linkify-it, as markdown-it finds them.
import LinkifyIt from "linkify-it";

const MAX_LINK = 2048;

/** The link to show for `url`, or null when it must not be a link (javascript:, file:, data:, relative...). */
export function webLink(url: string | null | undefined): string | null {
  if (!url || url.length > MAX_LINK) return null;
  const scheme = url.slice(0, 8).toLowerCase();
  if (!scheme.startsWith("https://") && !scheme.startsWith("http://")) return null;
  // Whitespace or control characters have no place in a link a provider sent; refuse rather than guess.
  if (/[\s\u0000-\u001f\u007f-\u009f]/u.test(url)) return null;
  return url;
}

/** A piece of a text: words, or a link found in them (`text` as written, `url` to open). */
export type TextPart = { text: string } | { text: string; url: string };

const linkify = new LinkifyIt();

/**
 * `text` cut where links are: `https://…` and `http://…` as written, and bare addresses ("example.com/pr/12")
 * as http. Trailing punctuation stays text ("see example.com." links "example.com"). Email addresses,
 * `mailto:`, `ftp:` and schemeless `//host` stay text: the window opens web links only.
 */
export function linkParts(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let at = 0;
  for (const match of linkify.match(text) ?? []) {
    const url = match.schema === "" || match.schema.toLowerCase() === "http:" || match.schema.toLowerCase() === "https:" ? webLink(match.url) : null;
    if (url === null) continue;
    if (match.index > at) parts.push({ text: text.slice(at, match.index) });
    parts.push({ text: match.raw, url });
    at = match.lastIndex;
  }
  if (at < text.length) parts.push({ text: text.slice(at) });
  return parts;
}
