// Profiling harness, not a test: what loading the converted automerge-paper document costs in
// JavaScriptCore, split into `A.load` and the full diff automerge-repo's handle computes on import.
import "./polyfills";
import { next as A } from "@automerge/automerge/slim";
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
  A.spans(doc, ["text"]);
  print("A.spans", (performance.now() - t).toFixed(0));
}
main().catch((e) => print("failed:", e, e?.stack));
