// Profiling harness, not a test (`npx vitest run --config vitest.profile.config.ts profile/open.profile.ts`
// after `node profile/replay.mjs`): the steps of opening the converted automerge-paper document in the
// window's repo, as `Editor.tsx` takes them, timed one by one (the window marks the same steps; this splits
// them further, in V8).
import { next as A } from "@automerge/automerge/slim";
import { Repo } from "@automerge/automerge-repo/slim";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { beforeAll, it } from "vitest";
import { convertMarkdown, needsConversion } from "../src/features/editor/markdown";
import { conversionChange } from "../src/features/editor/migration";
import { findDocument } from "../src/features/editor/opening";
import { automergeReady } from "../src/features/editor/repo";
import { TEXT_PATH } from "../src/features/editor/schema";
import { editorState } from "../src/features/editor/state";

beforeAll(automergeReady);
const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env;
const dir = env.PROFILE_DIR ?? "/tmp/teamflow-profile";

it("opening the paper, step by step", async () => {
  const path = `${dir}/paper-converted.am`;
  if (!existsSync(path)) {
    const raw = A.load<{ text: string }>(new Uint8Array(readFileSync(`${dir}/paper-raw.am`)));
    writeFileSync(path, A.save(A.change(raw, { time: Date.now() }, (d) => void convertMarkdown(d))));
  }
  const bytes = new Uint8Array(readFileSync(path));
  const source = new Repo({ network: [] });
  const url = source.import(bytes).url;
  const repo = new Repo({ network: [] });
  const steps: [string, number][] = [];
  let t = performance.now();
  const step = (name: string) => {
    const now = performance.now();
    steps.push([name, Math.round(now - t)]);
    t = now;
  };
  const handle = await findDocument<{ text: string }>(repo, url, async () => bytes);
  step("findDocument (import, seed, find)");
  const doc = handle.doc();
  step("handle.doc()");
  A.block(doc, TEXT_PATH, 0);
  step("A.block at 0");
  needsConversion(doc);
  step("needsConversion");
  handle.change(() => {}, { time: Date.now() });
  step("an empty handle.change");
  A.spans(handle.doc(), TEXT_PATH);
  step("A.spans");
  editorState(handle as never);
  step("editorState (the binding's init)");
  console.log(steps.map(([n, ms]) => `${n}: ${ms} ms`).join("\n"));
});

it("converting the raw paper: in place, and as the change every device makes (`migration.ts`)", async () => {
  const bytes = new Uint8Array(readFileSync(`${dir}/paper-raw.am`));
  const timed: string[] = [];
  let doc = A.load<{ text: string }>(bytes);
  let t = performance.now();
  doc = A.change(doc, { time: Date.now() }, (d) => void convertMarkdown(d));
  timed.push(`in place: ${Math.round(performance.now() - t)} ms`);
  const raw = A.load<{ text: string }>(bytes);
  t = performance.now();
  const change = await conversionChange(raw);
  timed.push(`conversionChange (clone, convert, take the change): ${Math.round(performance.now() - t)} ms`);
  t = performance.now();
  A.applyChanges(raw, [change!]);
  timed.push(`applying that change: ${Math.round(performance.now() - t)} ms`);
  console.log(timed.join("\n"));
});
