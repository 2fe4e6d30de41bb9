// What the app's own chunk pulls in, read from the sources' static imports: Automerge (its WebAssembly
// inlined) and ProseMirror are the editor's chunk's, loaded with the first document opened. One static
// import from the app's side puts 5 MB in front of the sign-in form (it happened once, through the quit
// hand-over: docs/benchmarks.md).
import { expect, it } from "vitest";

/// Every source module's text, by its path from `src/` ("app/App.tsx").
const sources: Record<string, string> = Object.fromEntries(
  Object.entries(import.meta.glob(["/src/**/*.ts", "/src/**/*.tsx", "!/src/**/*.test.ts", "!/src/**/*.test.tsx"], { query: "?raw", import: "default", eager: true })).map(
    ([path, text]) => [path.replace(/^\/src\//, ""), text as string],
  ),
);

/// The modules `text` imports or re-exports for their values (not `import type`, not `import()`).
function staticImports(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+"([^"]+)"/gms)) found.push(m[1]);
  for (const m of text.matchAll(/^import\s+"([^"]+)"/gm)) found.push(m[1]);
  return found;
}

function resolveFrom(file: string, spec: string): string {
  const parts = file.split("/").slice(0, -1);
  for (const part of spec.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  const base = parts.join("/");
  const found = [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`].find((candidate) => candidate in sources);
  if (!found) throw new Error(`${file}: cannot resolve ${spec}`);
  return found;
}

/// Each module the app's chunk holds, with what it imports.
function appChunk(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const imports = staticImports(sources[file]);
    seen.set(file, imports);
    for (const spec of imports) {
      if (spec.startsWith(".") && !spec.endsWith(".css")) queue.push(resolveFrom(file, spec));
    }
  }
  return seen;
}

it("keeps Automerge and ProseMirror out of the app's own chunk", () => {
  const chunk = appChunk("main.tsx");
  expect(chunk.size).toBeGreaterThan(10);
  const offending = [...chunk].flatMap(([file, imports]) =>
    imports.filter((spec) => spec.startsWith("@automerge/") || spec.startsWith("prosemirror-")).map((spec) => `${file} imports ${spec}`),
  );
  expect(offending).toEqual([]);
});

it("reads every form of static import the sources use", () => {
  const text = [
    'import { a,\n  b } from "./multi";',
    'import type { T } from "./types-only";',
    'import "./side-effect.css";',
    'export { c } from "./re-export";',
    'export * from "./star";',
    'const lazy = () => import("./dynamic");',
  ].join("\n");
  expect(staticImports(text)).toEqual(["./multi", "./re-export", "./star", "./side-effect.css"]);
});
