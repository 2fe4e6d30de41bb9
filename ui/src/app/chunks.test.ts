// What the app's own chunk pulls in, read from the sources' static imports: Automerge (its WebAssembly
// inlined) and ProseMirror are the editor's chunk's, loaded with the first document opened. One static
// import from the app's side puts 5 MB in front of the sign-in form (it happened once, through the quit
// hand-over: docs/benchmarks.md).
import { readFileSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { expect, it } from "vitest";

const src = resolve(__dirname, "..");

/// The relative and package modules `file` imports for its value (not `import type`, not `import()`).
function staticImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+"([^"]+)";?/gms)) found.push(m[1]);
  for (const m of text.matchAll(/^import\s+"([^"]+)";?/gm)) found.push(m[1]);
  return found;
}

function resolveModule(from: string, spec: string): string | null {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`]) {
    if (existsSync(candidate) && candidate.match(/\.tsx?$/)) return candidate;
  }
  return null;
}

function appChunk(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const imports = staticImports(file);
    seen.set(file, imports);
    for (const spec of imports) {
      if (!spec.startsWith(".")) continue;
      const next = resolveModule(file, spec);
      if (next) queue.push(next);
    }
  }
  return seen;
}

it("keeps Automerge and ProseMirror out of the app's own chunk", () => {
  const chunk = appChunk(resolve(src, "main.tsx"));
  expect(chunk.size).toBeGreaterThan(10);
  const offending = [...chunk].flatMap(([file, imports]) =>
    imports.filter((spec) => spec.startsWith("@automerge/") || spec.startsWith("prosemirror-")).map((spec) => `${file.slice(src.length + 1)} imports ${spec}`),
  );
  expect(offending).toEqual([]);
});
