// Which links the window shows (activity items, links in chat messages): absolute http(s) only, the same
// rule as the relay and the shell's open_link command (teamflow_protocol::api::integrations::is_web_link).
// Anything else renders as text (links in chat text are found by markdown-it: features/chat/format.ts).

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

