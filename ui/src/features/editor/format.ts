// Formatting as Markdown in the text itself, so every client (and the JavaScript automerge-repo ones)
// reads the same document: wrap the selection, or prefix its lines. Indices are UTF-16, as the textarea's.
export type Format = "bold" | "italic" | "link" | "heading" | "list";

export interface Edited {
  text: string;
  start: number;
  end: number;
}

export function applyFormat(text: string, start: number, end: number, format: Format): Edited {
  const selected = text.slice(start, end);
  const wrap = (before: string, after: string, placeholder: string): Edited => {
    const inner = selected || placeholder;
    return { text: text.slice(0, start) + before + inner + after + text.slice(end), start: start + before.length, end: start + before.length + inner.length };
  };
  switch (format) {
    case "bold":
      return wrap("**", "**", "bold");
    case "italic":
      return wrap("_", "_", "italic");
    case "link": {
      const label = selected || "link";
      const inserted = `[${label}](https://)`;
      const urlStart = start + label.length + 3;
      return { text: text.slice(0, start) + inserted + text.slice(end), start: urlStart, end: urlStart + "https://".length };
    }
    case "heading":
      return prefixLines(text, start, end, "# ");
    case "list":
      return prefixLines(text, start, end, "- ");
  }
}

/** Adds `prefix` to each selected line, or removes it when every line has it already. */
function prefixLines(text: string, start: number, end: number, prefix: string): Edited {
  const lineStart = text.lastIndexOf("\n", start - 1) + 1;
  const lineEndAt = text.indexOf("\n", end);
  const lineEnd = lineEndAt === -1 ? text.length : lineEndAt;
  const lines = text.slice(lineStart, lineEnd).split("\n");
  const remove = lines.every((l) => l.startsWith(prefix));
  const changed = lines.map((l) => (remove ? l.slice(prefix.length) : prefix + l)).join("\n");
  const delta = remove ? -prefix.length : prefix.length;
  return {
    text: text.slice(0, lineStart) + changed + text.slice(lineEnd),
    start: Math.max(lineStart, start + delta),
    end: end + delta * lines.length,
  };
}

/** The format a key press asks for, if any (Ctrl or Cmd with B, I, K; with Alt, 1 for heading, 8 for list). */
export function formatForKey(e: { key: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean }): Format | null {
  if (!(e.ctrlKey || e.metaKey)) return null;
  const key = e.key.toLowerCase();
  if (e.altKey) return key === "1" ? "heading" : key === "8" ? "list" : null;
  return key === "b" ? "bold" : key === "i" ? "italic" : key === "k" ? "link" : null;
}
