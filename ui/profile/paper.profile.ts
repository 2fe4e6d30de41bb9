// Profiling harness, not a test (`npx vitest run --config vitest.profile.config.ts profile/paper.profile.ts`
// after `node profile/replay.mjs`): the converted automerge-paper document in the window's repo, synced with a
// stand-in node repo, and keystrokes at its end through the editor's own path, timed and profiled
// (`$PROFILE_DIR/keys-$TAG.cpuprofile`). `SEED=0` leaves the sync state unseeded, `CURSOR=0` the caret mapping out.
import { next as A } from "@automerge/automerge/slim";
import { NetworkAdapter, Repo, cbor, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { Selection } from "prosemirror-state";
import { EditorView } from "prosemirror-view";
import { beforeAll, it } from "vitest";
import { IpcNetworkAdapter, type Pipe } from "../src/features/editor/ipc";
import { convertMarkdown } from "../src/features/editor/markdown";
import { findDocument } from "../src/features/editor/opening";
import { automergeReady, windowRepo } from "../src/features/editor/repo";
import { applyKeepingCaret, editorState } from "../src/features/editor/state";
import { textIndex } from "../src/features/editor/carets";

beforeAll(automergeReady);
const dir = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env.PROFILE_DIR ?? "/tmp/teamflow-profile";
const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env;
const now = () => performance.now();

class NodeSide extends NetworkAdapter {
  toWindow: ((frame: Uint8Array) => void) | null = null;
  remote: PeerId | null = null;
  frames = { toNode: 0, toWindow: 0, bytesToWindow: 0 };
  isReady() { return true; }
  whenReady() { return Promise.resolve(); }
  connect(peerId: PeerId, peerMetadata?: PeerMetadata) { this.peerId = peerId; this.peerMetadata = peerMetadata ?? {}; }
  disconnect() {}
  send(message: Message) { const f = cbor.encode(message); this.frames.toWindow++; this.frames.bytesToWindow += f.length; this.toWindow?.(f); }
  receive(frame: Uint8Array) {
    this.frames.toNode++;
    const message = cbor.decode(frame) as { type: string; senderId: PeerId; peerMetadata: PeerMetadata };
    if (message.type === "join") {
      this.remote = message.senderId;
      this.toWindow?.(cbor.encode({ type: "peer", senderId: this.peerId, targetId: message.senderId, peerMetadata: {}, selectedProtocolVersion: "1" }));
      this.emit("peer-candidate", { peerId: message.senderId, peerMetadata: message.peerMetadata });
    } else this.emit("message", message as unknown as Message);
  }
}

function converted(): Uint8Array {
  const path = `${dir}/paper-converted.am`;
  if (existsSync(path)) return new Uint8Array(readFileSync(path));
  let t = now();
  let doc = A.load<{ text: string }>(new Uint8Array(readFileSync(`${dir}/paper-raw.am`)));
  console.log("load raw", (now() - t).toFixed(0));
  t = now();
  doc = A.change(doc, { time: Date.now() }, (d) => void convertMarkdown(d));
  console.log("convert", (now() - t).toFixed(0), A.spans(doc, ["text"]).length, "spans");
  const bytes = A.save(doc);
  writeFileSync(path, bytes);
  return bytes;
}

it("paper keystrokes", async () => {
  const bytes = converted();
  console.log("saved bytes", bytes.length);
  const nodeSide = new NodeSide();
  const node = new Repo({ network: [nodeSide], peerId: "node" as PeerId });
  let t = now();
  const atNode = node.import<{ text: string }>(bytes);
  atNode.doneLoading();
  console.log("node import", (now() - t).toFixed(0));
  const pipe: Pipe = {
    async open(receive) { nodeSide.toWindow = (frame) => setTimeout(() => receive(frame), 0); },
    async send(frame) { setTimeout(() => nodeSide.receive(frame), 0); },
  };
  const window = env.SEED === "0" ? new Repo({ network: [new IpcNetworkAdapter(pipe)], peerId: "teamflow-window" as PeerId }) : await windowRepo(pipe);
  await new Promise((r) => setTimeout(r, 50));
  // A sync message generate/receive on this document, timed.
  const metrics: { type: string; durationMillis: number }[] = [];
  window.on("doc-metrics", (m) => metrics.push(m as never));
  const nodeMetrics: { type: string; durationMillis: number }[] = [];
  node.on("doc-metrics", (m) => nodeMetrics.push(m as never));
  t = now();
  const handle = await findDocument<{ text: string }>(window, atNode.url, async () => bytes);
  console.log("window import+find", (now() - t).toFixed(0));
  t = now();
  handle.change((d) => void convertMarkdown(d), { time: Date.now() });
  console.log("convert check", (now() - t).toFixed(0));
  t = now();
  const state = editorState(handle as never);
  console.log("editorState", (now() - t).toFixed(0));
  t = now();
  const view: EditorView = new EditorView(document.createElement("div"), {
    state,
    dispatchTransaction(tr) {
      view.updateState(applyKeepingCaret(view.state, tr));
      if (env.CURSOR !== "0") {
        const doc = handle.doc();
        textIndex(doc, view.state.selection.anchor);
        textIndex(doc, view.state.selection.head);
      }
    },
  });
  console.log("view", (now() - t).toFixed(0));
  // Let the first sync settle.
  t = now();
  await new Promise((r) => setTimeout(r, 2000));
  console.log("settled; frames", JSON.stringify(nodeSide.frames), "metrics", JSON.stringify(metrics.map((m) => [m.type, Math.round(m.durationMillis)])), "node", JSON.stringify(nodeMetrics.map((m) => [m.type, Math.round(m.durationMillis)])));
  metrics.length = 0;
  nodeMetrics.length = 0;
  view.dispatch(view.state.tr.setSelection(Selection.atEnd(view.state.doc)));
  const keys = Number(env.KEYS ?? 60);
  const times: number[] = [];
  const gaps: number[] = [];
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 200 });
  await session.post("Profiler.start");
  for (let i = 0; i < keys; i++) {
    const t0 = now();
    view.dispatch(view.state.tr.insertText("a"));
    const t1 = now();
    times.push(t1 - t0);
    // Between keys: whatever the repos do meanwhile (sync messages), timed as one lump.
    await new Promise((r) => setTimeout(r, 50));
    gaps.push(now() - t1 - 50);
  }
  const { profile } = await session.post("Profiler.stop");
  writeFileSync(`${dir}/keys-${env.TAG ?? "run"}.cpuprofile`, JSON.stringify(profile));
  const pct = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return [0.5, 0.9, 0.99, 1].map((q) => s[Math.round((s.length - 1) * q)].toFixed(1)).join(" / "); };
  console.log("keystroke dispatch p50/p90/p99/max", pct(times));
  console.log("between keys (busy) p50/p90/p99/max", pct(gaps));
  const byType: Record<string, number[]> = {};
  for (const m of metrics) (byType[m.type] ??= []).push(m.durationMillis);
  for (const [k, v] of Object.entries(byType)) console.log(k, v.length, pct(v));
  const byTypeNode: Record<string, number[]> = {};
  for (const m of nodeMetrics) (byTypeNode[m.type] ??= []).push(m.durationMillis);
  for (const [k, v] of Object.entries(byTypeNode)) console.log("node", k, v.length, pct(v));
  console.log("frames", JSON.stringify(nodeSide.frames));
  console.log("node text end", atNode.doc().text.slice(-10));
});
