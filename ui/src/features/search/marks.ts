// Splits the node's search titles and snippets into plain and matched parts. The node marks matches with
// U+0002 ... U+0003 (characters indexed text never holds), so nothing from the index is ever read as markup.
export type Part = { text: string; match: boolean };

const START = "\u0002";
const END = "\u0003";

export function parts(marked: string): Part[] {
  const out: Part[] = [];
  let rest = marked;
  while (rest.length > 0) {
    const start = rest.indexOf(START);
    if (start < 0) {
      out.push({ text: rest, match: false });
      break;
    }
    if (start > 0) out.push({ text: rest.slice(0, start), match: false });
    const end = rest.indexOf(END, start + 1);
    // An unclosed mark runs to the end of the text.
    const stop = end < 0 ? rest.length : end;
    const text = rest.slice(start + 1, stop);
    if (text.length > 0) out.push({ text, match: true });
    rest = end < 0 ? "" : rest.slice(end + 1);
  }
  return out;
}

/** The text without marks, for labels read aloud. */
export function plain(marked: string): string {
  return parts(marked)
    .map((p) => p.text)
    .join("");
}
