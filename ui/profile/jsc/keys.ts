// Profiling harness, not a test: the first keystrokes into the converted automerge-paper document, timed
// in JavaScriptCore (the engine of the app's WebKitGTK window) rather than V8, through the editor's own
// path (`editorState`, `applyKeepingCaret`) on the window's repo, synced with a stand-in node repo.
// See profile/jsc/README.md for how to build and run it, and what its modes do.
import "./polyfills";
import { next as A } from "@automerge/automerge/slim";
import { NetworkAdapter, Repo, cbor, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim";
import { Selection } from "prosemirror-state";
import { IpcNetworkAdapter, type Pipe } from "../../src/features/editor/ipc";
import { findDocument } from "../../src/features/editor/opening";
import { automergeReady, windowRepo } from "../../src/features/editor/repo";
import { applyKeepingCaret, editorState } from "../../src/features/editor/state";
import { warmTyping } from "../../src/features/editor/warmup";

declare const readFile: (path: string, mode: "binary") => Uint8Array;
const scriptArgs: string[] = (globalThis as unknown as { arguments: string[] }).arguments;
declare const print: (...a: unknown[]) => void;

const now = () => performance.now();

class NodeSide extends NetworkAdapter {
  toWindow: ((frame: Uint8Array) => void) | null = null;
  isReady() { return true; }
  whenReady() { return Promise.resolve(); }
  connect(peerId: PeerId, peerMetadata?: PeerMetadata) { this.peerId = peerId; this.peerMetadata = peerMetadata ?? {}; }
  disconnect() {}
  send(message: Message) { this.toWindow?.(cbor.encode(message)); }
  receive(frame: Uint8Array) {
    const message = cbor.decode(frame) as { type: string; senderId: PeerId; peerMetadata: PeerMetadata };
    if (message.type === "join") {
      this.toWindow?.(cbor.encode({ type: "peer", senderId: this.peerId, targetId: message.senderId, peerMetadata: {}, selectedProtocolVersion: "1" }));
      this.emit("peer-candidate", { peerId: message.senderId, peerMetadata: message.peerMetadata });
    } else this.emit("message", message as unknown as Message);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const [path, modeArg = "plain"] = scriptArgs;
  // The mode's words, joined by "-" ("warm-start-profile").
  const words = new Set(modeArg.split("-"));
  const mode = { includes: (word: string) => words.has(word), match: (re: RegExp) => modeArg.match(re) };
  await automergeReady();
  const bytes = readFile(path, "binary");
  const nodeSide = new NodeSide();
  const node = new Repo({ network: [nodeSide], peerId: "node" as PeerId });
  let t = now();
  const atNode = node.import<{ text: string }>(bytes);
  atNode.doneLoading();
  print("node import", (now() - t).toFixed(0));
  const pipe: Pipe = {
    async open(receive) { nodeSide.toWindow = (frame) => setTimeout(() => receive(frame), 0); },
    async send(frame) { setTimeout(() => nodeSide.receive(frame), 0); },
  };
  const win = await windowRepo(pipe);
  await sleep(20);
  t = now();
  const handle = await findDocument<{ text: string }>(win, atNode.url, async () => bytes);
  print("window import+find", (now() - t).toFixed(0));
  if (mode.includes("warm")) {
    t = now();
    print("warmTyping", warmTyping(handle.doc()), (now() - t).toFixed(0));
  }
  t = now();
  let state = editorState(handle as never);
  print("editorState", (now() - t).toFixed(0));
  const place = (st: typeof state) => st.apply(st.tr.setSelection(mode.includes("start") ? Selection.atStart(st.doc) : Selection.atEnd(st.doc)));
  state = place(state);
  if ([...words].some((w) => w.startsWith("editwarm"))) {
    t = now();
    let d = A.clone(handle.doc());
    const scratch = { doc: () => d, change: (fn: (x: unknown) => void) => void (d = A.change(d, fn)), on() {}, off() {} };
    let s = place(editorState(scratch as never));
    for (let i = 0; i < Number(mode.match(/editwarm(\d+)/)?.[1] ?? 5); i++) s = applyKeepingCaret(s, s.tr.insertText("a"));
    A.free(d);
    print("warm-up by typing into a copy", (now() - t).toFixed(0));
  }
  const keys = 40;
  const g = globalThis as unknown as { fullGC(): void; startSamplingProfiler(): void; samplingProfilerStackTraces(): { traces: { frames: { name: string; location?: string }[] }[] } };
  if (mode.includes("gc")) {
    t = now();
    g.fullGC();
    print("full GC", (now() - t).toFixed(0));
  }
  const profiling = mode.includes("profile");
  if (profiling) g.startSamplingProfiler();
  const times: number[] = [];
  const gaps: number[] = [];
  // `keysonly`: the sampled stacks of keys 10 to 40 themselves, without the work between them.
  const keysOnly = mode.includes("keysonly");
  const kept: { traces: { frames: { name: string; category?: string }[] }[] } = { traces: [] };
  if (keysOnly) g.startSamplingProfiler();
  for (let i = 0; i < keys; i++) {
    if (keysOnly) g.samplingProfilerStackTraces();
    const t0 = now();
    state = applyKeepingCaret(state, state.tr.insertText("a"));
    const t1 = now();
    times.push(t1 - t0);
    if (keysOnly && i >= 10) kept.traces.push(...g.samplingProfilerStackTraces().traces);
    if (profiling && i === 0) report(g.samplingProfilerStackTraces());
    if (mode.includes("steady") && i === 9) g.startSamplingProfiler();
    await sleep(30);
    gaps.push(now() - t1 - 30);
  }
  if (mode.includes("steady")) report(g.samplingProfilerStackTraces());
  if (keysOnly) {
    report(kept);
    tree(kept);
  }
  print("keys in order (ms):", times.map((x) => x.toFixed(0)).join(" "));
  print("between keys, busy (ms):", gaps.map((x) => x.toFixed(0)).join(" "));
}

/// The sampled stacks of the first key, by self and by inclusive count.
function report(data: { traces: { frames: { name: string; category?: string }[] }[] }) {
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const trace of data.traces) {
    const names = trace.frames.map((f) => `${f.name || "?"}${f.category ? ` [${f.category}]` : ""}`);
    if (names.length) self.set(names[0], (self.get(names[0]) ?? 0) + 1);
    for (const n of new Set(names)) incl.set(n, (incl.get(n) ?? 0) + 1);
  }
  const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 45).map(([n, c]) => `  ${c} ${n}`).join("\n");
  print(`samples ${data.traces.length}\nself:\n${top(self)}\ninclusive:\n${top(incl)}`);
}

/// The sampled stacks as a call tree from the root, each node with its share of samples (2% and more).
function tree(data: { traces: { frames: { name: string; category?: string }[] }[] }) {
  type Node = { count: number; children: Map<string, Node> };
  const root: Node = { count: 0, children: new Map() };
  let total = 0;
  for (const trace of data.traces) {
    const names = trace.frames.map((f) => f.name || "?").reverse();
    if (names.includes("samplingProfilerStackTraces")) continue;
    total++;
    let node = root;
    for (const n of names) {
      let child = node.children.get(n);
      if (!child) node.children.set(n, (child = { count: 0, children: new Map() }));
      child.count++;
      node = child;
    }
  }
  const lines: string[] = [];
  const walk = (node: Node, depth: number) => {
    for (const [name, child] of [...node.children].sort((a, b) => b[1].count - a[1].count)) {
      if (child.count / total < 0.02) continue;
      lines.push(`${"  ".repeat(depth)}${((100 * child.count) / total).toFixed(0)}% ${name}`);
      walk(child, depth + 1);
    }
  };
  walk(root, 0);
  print(`tree of ${total} samples:\n${lines.join("\n")}`);
}

main().catch((e) => print("failed:", e, e?.stack));
