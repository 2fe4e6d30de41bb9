// Profiling harness, not a test: what loading the converted automerge-paper document costs in
// JavaScriptCore, split into `A.load` and the full diff automerge-repo's handle computes on import; and
// what copying its spans costs, as the binding does on every transaction.
import "./polyfills";
import { next as A } from "@automerge/automerge/slim";
import { cloneSpans } from "@automerge/prosemirror/dist/spans.js";
import { automergeReady } from "../../src/features/editor/repo";

declare const readFile: (path: string, mode: "binary") => Uint8Array;
declare const print: (...a: unknown[]) => void;
const args = (globalThis as unknown as { arguments: string[] }).arguments;

async function main() {
  await automergeReady();
  const bytes = readFile(args[0], "binary");
  let t = performance.now();
  const inc = A.loadIncremental(A.init(), bytes);
  print("A.loadIncremental into an empty doc", (performance.now() - t).toFixed(0));
  t = performance.now();
  const doc = A.load(bytes);
  print("A.load", (performance.now() - t).toFixed(0));
  t = performance.now();
  const patches = A.diff(inc, [], A.getHeads(inc));
  print("A.diff from nothing", (performance.now() - t).toFixed(0), patches.length, "patches");
  t = performance.now();
  const spans = A.spans(doc, ["text"]);
  print("A.spans", (performance.now() - t).toFixed(0), spans.length, "spans");
  // What the binding does to the spans on every transaction before mapping its patches (`cloneSpans`).
  const clones: string[] = [];
  for (let i = 0; i < 20; i++) {
    t = performance.now();
    cloneSpans(spans);
    clones.push((performance.now() - t).toFixed(1));
  }
  print("cloneSpans, 20 times in a row (ms):", clones.join(" "));
}
main().catch((e) => print("failed:", e, e?.stack));
