// What the editor draws under its (transparent-text) textarea: the same characters, styled by their
// Markdown, with teammates' selections and carets. Every character keeps its place, markers included, so
// the drawing lines up with the textarea exactly. Positions are code points.

export interface Range {
  start: number;
  end: number;
  /** A Markdown style: md-heading, md-bold, md-italic, md-link, md-marker. */
  className?: string;
  /** A teammate's selection colour. */
  color?: string;
}

export interface Caret {
  key: string;
  at: number;
  name: string;
  color: string;
}

export type Piece = { kind: "text"; text: string; classes: string[]; background: string | null } | { kind: "caret"; caret: Caret };

const INLINE: [RegExp, string][] = [
  [/\*\*[^*\n]+\*\*/gu, "md-bold"],
  [/(?<![\w*])_[^_\n]+_(?!\w)/gu, "md-italic"],
  [/\[[^\]\n]*\]\([^)\s]*\)/gu, "md-link"],
];

/** The Markdown styles in `text`. */
export function markdownRanges(text: string): Range[] {
  const ranges: Range[] = [];
  const chars = Array.from(text);
  // Regexes run on the UTF-16 string; convert their indices to code points once per line.
  let lineStart = 0;
  for (const line of text.split("\n")) {
    const cp = (utf16: number) => lineStart + Array.from(line.slice(0, utf16)).length;
    const lineLength = Array.from(line).length;
    const heading = /^#{1,6} /u.exec(line);
    if (heading) {
      ranges.push({ start: lineStart, end: lineStart + lineLength, className: "md-heading" });
      ranges.push({ start: lineStart, end: cp(heading[0].length), className: "md-marker" });
    }
    const bullet = /^\s*(?:[-*]|\d+\.) /u.exec(line);
    if (bullet) ranges.push({ start: lineStart, end: cp(bullet[0].length), className: "md-marker" });
    for (const [pattern, className] of INLINE) {
      for (const m of line.matchAll(pattern)) {
        ranges.push({ start: cp(m.index), end: cp(m.index + m[0].length), className });
      }
    }
    lineStart += lineLength + 1;
  }
  return ranges.filter((r) => r.end > r.start && r.end <= chars.length);
}

/** Cuts `text` where any range starts or ends and puts carets between the pieces. */
export function pieces(text: string, ranges: Range[], carets: Caret[]): Piece[] {
  const chars = Array.from(text);
  const cuts = new Set<number>([0, chars.length]);
  for (const r of ranges) {
    cuts.add(Math.min(r.start, chars.length));
    cuts.add(Math.min(r.end, chars.length));
  }
  for (const c of carets) cuts.add(Math.min(c.at, chars.length));
  const points = [...cuts].sort((a, b) => a - b);
  const out: Piece[] = [];
  for (let i = 0; i < points.length; i++) {
    const at = points[i];
    for (const c of carets) if (Math.min(c.at, chars.length) === at) out.push({ kind: "caret", caret: c });
    const next = points[i + 1];
    if (next === undefined || next === at) continue;
    const covering = ranges.filter((r) => r.start <= at && r.end >= next);
    out.push({
      kind: "text",
      text: chars.slice(at, next).join(""),
      classes: covering.flatMap((r) => (r.className ? [r.className] : [])),
      background: covering.find((r) => r.color)?.color ?? null,
    });
  }
  return out;
}
