// Profiling harness (not a test): the sync protocol's costs on the converted automerge-paper document
// between two automerge instances holding the same saved bytes (the window and the node).
import { next as A } from "@automerge/automerge/slim";
import { existsSync, readFileSync } from "node:fs";
import { beforeAll, it } from "vitest";
import { automergeReady } from "../src/features/editor/repo";

beforeAll(automergeReady);
const dir = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env.PROFILE_DIR ?? "/tmp/teamflow-profile";
const now = () => performance.now();
type Doc = { text: string };

function time<T>(label: string, f: () => T): T {
  const t = now();
  const r = f();
  console.log(label, (now() - t).toFixed(1), "ms");
  return r;
}

it("sync costs", () => {
  const path = `${dir}/paper-converted.am`;
  if (!existsSync(path)) throw new Error("run paper.profile.ts first");
  const bytes = new Uint8Array(readFileSync(path));
  let win = time("window load", () => A.load<Doc>(bytes));
  let node = time("node load", () => A.load<Doc>(bytes));
  const heads = A.getHeads(win);
  for (const seeded of [false, true]) {
    console.log(seeded ? "--- seeded" : "--- fresh");
    const start = () => (seeded ? A.decodeSyncState(A.encodeSyncState({ ...A.initSyncState(), sharedHeads: heads })) : A.initSyncState());
    let ws = start();
    let ns = A.initSyncState();
    for (let round = 0; round < 6; round++) {
      const [ws2, m1] = time(`r${round} window generate`, () => A.generateSyncMessage(win, ws));
      ws = ws2;
      console.log("  window message", m1?.length ?? "none");
      if (m1) {
        [node, ns] = time(`r${round} node receive`, () => A.receiveSyncMessage(node, ns, m1));
      }
      const [ns2, m2] = time(`r${round} node generate`, () => A.generateSyncMessage(node, ns));
      ns = ns2;
      console.log("  node message", m2?.length ?? "none");
      if (m2) [win, ws] = time(`r${round} window receive`, () => A.receiveSyncMessage(win, ws, m2));
      if (!m1 && !m2) break;
    }
    // Keystrokes after the first sync: a change in the window, and the exchange it starts.
    const costs: Record<string, number[]> = {};
    const add = (k: string, t: number) => (costs[k] ??= []).push(t);
    for (let i = 0; i < 30; i++) {
      let t = now();
      win = A.change(win, (d) => A.splice(d, ["text"], d.text.length, 0, "a"));
      add("change", now() - t);
      for (let round = 0; round < 4; round++) {
        t = now();
        const [ws2, m1] = A.generateSyncMessage(win, ws);
        ws = ws2;
        add("window generate", now() - t);
        if (m1) {
          t = now();
          [node, ns] = A.receiveSyncMessage(node, ns, m1);
          add("node receive", now() - t);
        }
        t = now();
        const [ns2, m2] = A.generateSyncMessage(node, ns);
        ns = ns2;
        add("node generate", now() - t);
        if (m2) {
          t = now();
          [win, ws] = A.receiveSyncMessage(win, ws, m2);
          add("window receive", now() - t);
        }
        if (!m1 && !m2) break;
      }
    }
    for (const [k, v] of Object.entries(costs)) {
      const s = [...v].sort((a, b) => a - b);
      console.log(`  per key: ${k} n=${v.length} p50 ${s[Math.floor(s.length / 2)].toFixed(2)} max ${s[s.length - 1].toFixed(2)} ms`);
    }
    console.log("  converged", A.getHeads(win).join() === A.getHeads(node).join());
  }
});
