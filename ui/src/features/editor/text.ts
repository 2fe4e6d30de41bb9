// Text positions and edits in Unicode code points, the unit the Rust side counts in (JavaScript strings
// count UTF-16 units), and the position arithmetic that keeps a caret and unsent keystrokes in place
// while teammates' edits arrive.
import type { Splice } from "../../bindings";

export type { Splice };

/** Code points in `s`. */
export function cpLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The code-point index of UTF-16 index `utf16` in `s`. */
export function toCodePoints(s: string, utf16: number): number {
  return cpLength(s.slice(0, utf16));
}

/** The UTF-16 index of code-point index `cp` in `s`. */
export function toUtf16(s: string, cp: number): number {
  let units = 0;
  let seen = 0;
  for (const ch of s) {
    if (seen === cp) break;
    units += ch.length;
    seen++;
  }
  return units;
}

/**
 * The one edit turning `before` into `after`, or null when equal. `caret` (a code-point index in `after`)
 * says where typing ended, so "aa" -> "aaa" with the caret at 1 is an insert at 0, not at 2.
 */
export function diff(before: string, after: string, caret?: number): Splice | null {
  if (before === after) return null;
  const a = Array.from(before);
  const b = Array.from(after);
  const grown = Math.max(0, b.length - a.length);
  let limit = Math.min(a.length, b.length);
  if (caret !== undefined) limit = Math.min(limit, Math.max(0, caret - grown));
  let prefix = 0;
  while (prefix < limit && a[prefix] === b[prefix]) prefix++;
  let suffix = 0;
  while (suffix < a.length - prefix && suffix < b.length - prefix && a[a.length - 1 - suffix] === b[b.length - 1 - suffix]) {
    suffix++;
  }
  return {
    position: prefix,
    delete: a.length - prefix - suffix,
    insert: b.slice(prefix, b.length - suffix).join(""),
  };
}

/** Applies edits in order. */
export function apply(text: string, edits: Splice[]): string {
  const chars = Array.from(text);
  for (const e of edits) chars.splice(e.position, e.delete, ...Array.from(e.insert));
  return chars.join("");
}

/**
 * Where position `pos` ends up after `edits`. A teammate's insert exactly at the position goes after
 * it, so their typing never pushes a caret along.
 */
export function mapPosition(pos: number, edits: Splice[]): number {
  for (const e of edits) {
    if (e.delete > 0 && pos > e.position) pos = Math.max(e.position, pos - e.delete);
    if (e.position < pos) pos += cpLength(e.insert);
  }
  return pos;
}

/** A local edit made on some text, moved onto that text with `edits` (made concurrently) applied. */
export function rebase(local: Splice, edits: Splice[]): Splice {
  const start = mapPosition(local.position, edits);
  const end = Math.max(start, mapPosition(local.position + local.delete, edits));
  return { position: start, delete: end - start, insert: local.insert };
}
