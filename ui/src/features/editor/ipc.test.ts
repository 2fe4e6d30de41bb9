// The window repo's network adapter against a stand-in for the node (a stock automerge-repo answering the
// same handshake): documents sync both ways, frames keep their order, and a connection the node ended is
// reopened with the sync picking up again. A document loaded from the node's saved bytes starts syncing
// from their heads, and keeps syncing both ways from there. The node's answers that bring nothing wait
// for a newer one, and only the last is applied.
import { next as A } from "@automerge/automerge/slim";
import { NetworkAdapter, Repo, cbor, type DocHandle, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { handOver, inStep, nodeHeads, whenInStep } from "./inStep";
import { IpcNetworkAdapter, MOST_MS, QUIET_MS, type Pipe } from "./ipc";
import { findDocument } from "./opening";
import { automergeReady, windowRepo } from "./repo";

beforeAll(automergeReady);

/// The node's side: answers `join` with `peer` as samod does, then passes frames to its repo.
class NodeSide extends NetworkAdapter {
  toWindow: ((frame: Uint8Array) => void) | null = null;
  remote: PeerId | null = null;
  joins = 0;
  /// Every frame from the window, in order.
  received: Uint8Array[] = [];
  isReady() {
    return true;
  }
  whenReady() {
    return Promise.resolve();
  }
  connect(peerId: PeerId, peerMetadata?: PeerMetadata) {
    this.peerId = peerId;
    this.peerMetadata = peerMetadata ?? {};
  }
  disconnect() {}
  send(message: Message) {
    this.toWindow?.(cbor.encode(message));
  }
  receive(frame: Uint8Array) {
    this.received.push(frame);
    const message = cbor.decode(frame) as { type: string; senderId: PeerId; peerMetadata: PeerMetadata };
    if (message.type === "join") {
      this.joins++;
      if (this.remote) this.emit("peer-disconnected", { peerId: this.remote });
      this.remote = message.senderId;
      this.toWindow?.(cbor.encode({ type: "peer", senderId: this.peerId, targetId: message.senderId, peerMetadata: {}, selectedProtocolVersion: "1" }));
      this.emit("peer-candidate", { peerId: message.senderId, peerMetadata: message.peerMetadata });
    } else {
      this.emit("message", message as unknown as Message);
    }
  }
}

function connected() {
  const nodeSide = new NodeSide();
  const node = new Repo({ network: [nodeSide], peerId: "node" as PeerId });
  const state = { failNext: false, drop: false, opens: 0 };
  const pipe: Pipe = {
    async open(receive) {
      state.opens++;
      // Like the Tauri channel: frames arrive later, in order.
      nodeSide.toWindow = (frame) => queueMicrotask(() => receive(frame));
    },
    async send(frame) {
      if (state.drop) return;
      if (state.failNext) {
        state.failNext = false;
        nodeSide.toWindow = null;
        throw new Error("the window's document link is closed");
      }
      nodeSide.receive(frame);
    },
  };
  const errors: string[] = [];
  const window = new Repo({ network: [new IpcNetworkAdapter(pipe, (m) => errors.push(m))], peerId: "teamflow-window" as PeerId });
  return { node, nodeSide, window, state, errors };
}

describe("the window's network adapter", () => {
  it("syncs documents both ways with the node", async () => {
    const { node, window } = connected();
    const atNode = node.create<{ text: string }>({ text: "hello" });
    const inWindow = await window.find<{ text: string }>(atNode.url);
    expect(inWindow.doc().text).toBe("hello");
    inWindow.change((d) => A.splice(d, ["text"], 5, 0, " world"));
    await vi.waitFor(() => expect(atNode.doc().text).toBe("hello world"));
    atNode.change((d) => A.splice(d, ["text"], 0, 0, "> "));
    await vi.waitFor(() => expect(inWindow.doc().text).toBe("> hello world"));
  });

  it("connects again when the node ends the connection, and sync resumes", async () => {
    const { node, nodeSide, window, state, errors } = connected();
    const atNode = node.create<{ text: string }>({ text: "a" });
    const inWindow = await window.find<{ text: string }>(atNode.url);
    state.failNext = true;
    inWindow.change((d) => A.splice(d, ["text"], 1, 0, "b"));
    await vi.waitFor(() => expect(state.opens).toBe(2), { timeout: 5000 });
    expect(errors).toContain("the window's document link is closed");
    await vi.waitFor(() => expect(atNode.doc().text).toBe("ab"), { timeout: 5000 });
    expect(nodeSide.joins).toBe(2);
  });

  it("ignores an unreadable frame from the node and says so", async () => {
    const { node, nodeSide, window, errors } = connected();
    const atNode = node.create<{ text: string }>({ text: "x" });
    const inWindow = await window.find<{ text: string }>(atNode.url);
    nodeSide.toWindow?.(new Uint8Array([0xff, 0xff, 0xff]));
    await vi.waitFor(() => expect(errors).toContain("The document link sent an unreadable frame."));
    inWindow.change((d) => A.splice(d, ["text"], 1, 0, "y"));
    await vi.waitFor(() => expect(atNode.doc().text).toBe("xy"));
  });
});

describe("a document loaded from the node's saved bytes", () => {
  /// The window's repo as the app makes it (`windowRepo`), on a pipe to a stand-in node.
  async function withWindowRepo() {
    const nodeSide = new NodeSide();
    const node = new Repo({ network: [nodeSide], peerId: "node" as PeerId });
    const pipe: Pipe = {
      async open(receive) {
        nodeSide.toWindow = (frame) => queueMicrotask(() => receive(frame));
      },
      async send(frame) {
        nodeSide.receive(frame);
      },
    };
    return { node, nodeSide, window: await windowRepo(pipe) };
  }

  /// What the window's sync messages for `documentId` said, decoded, in order.
  function syncMessages(nodeSide: NodeSide, documentId: string) {
    return nodeSide.received
      .map((frame) => cbor.decode(frame) as { type: string; documentId?: string; data?: Uint8Array })
      .filter((m) => (m.type === "sync" || m.type === "request") && m.documentId === documentId)
      .map((m) => A.decodeSyncMessage(m.data!));
  }

  it("starts syncing from the loaded heads, not from nothing, and edits then reach either side", async () => {
    const { node, nodeSide, window } = await withWindowRepo();
    const atNode = node.create<{ text: string }>({ text: "" });
    for (let i = 0; i < 50; i++) atNode.change((d) => A.splice(d, ["text"], i, 0, "x"));
    const saved = A.save(atNode.doc());
    const heads = A.getHeads(atNode.doc());

    const inWindow = await findDocument<{ text: string }>(window, atNode.url, async () => saved);
    await vi.waitFor(() => expect(syncMessages(nodeSide, atNode.documentId).length).toBeGreaterThan(0));
    // The first message speaks only of what came after the loaded heads: nothing to summarise. From an
    // empty sync state it would summarise all 51 changes (`lastSync` empty, the Bloom filter over them).
    const first = syncMessages(nodeSide, atNode.documentId)[0];
    expect(first.heads).toEqual(heads);
    expect(first.have.map((h) => h.lastSync)).toEqual([heads]);
    expect(first.changes).toEqual([]);

    inWindow.change((d) => A.splice(d, ["text"], 0, 0, "window: "));
    await vi.waitFor(() => expect(atNode.doc().text.startsWith("window: ")).toBe(true));
    atNode.change((d) => A.splice(d, ["text"], d.text.length, 0, " :node"));
    await vi.waitFor(() => expect(inWindow.doc().text.endsWith(" :node")).toBe(true));
    expect(inWindow.doc().text).toBe(atNode.doc().text);
    // Every message after the first still sends no change the other side already had.
    for (const m of syncMessages(nodeSide, atNode.documentId)) expect(m.changes.length).toBeLessThanOrEqual(1);
  });

  it("still gets what the node wrote after the bytes were saved", async () => {
    const { node, window } = await withWindowRepo();
    const atNode = node.create<{ text: string }>({ text: "saved" });
    const saved = A.save(atNode.doc());
    // A teammate's edit reaches the node while the window loads the saved bytes.
    atNode.change((d) => A.splice(d, ["text"], 5, 0, " and later"));

    const inWindow = await findDocument<{ text: string }>(window, atNode.url, async () => saved);
    await vi.waitFor(() => expect(inWindow.doc().text).toBe("saved and later"));
    inWindow.change((d) => A.splice(d, ["text"], 0, 0, "> "));
    await vi.waitFor(() => expect(atNode.doc().text).toBe("> saved and later"));
  });
});

describe("whether the window and the node hold the same changes", () => {
  it("says so once the node has answered, not while an edit of the window is on its way", async () => {
    const { node, window } = connected();
    const atNode = node.create<{ text: string }>({ text: "a" });
    const inWindow = await window.find<{ text: string }>(atNode.url);
    await expect(whenInStep(window, inWindow as DocHandle<unknown>, 5000)).resolves.toBe(true);
    expect(nodeHeads(window, inWindow as DocHandle<unknown>)).toEqual(atNode.heads());

    inWindow.change((d) => A.splice(d, ["text"], 1, 0, "b"));
    expect(inStep(window, inWindow as DocHandle<unknown>)).toBe(false);
    await expect(whenInStep(window, inWindow as DocHandle<unknown>, 5000)).resolves.toBe(true);
    expect(atNode.doc().text).toBe("ab");
  });

  it("before the app quits, waits until the node has every document's last edit", async () => {
    const { node, window } = connected();
    const first = node.create<{ text: string }>({ text: "1" });
    const second = node.create<{ text: string }>({ text: "2" });
    const a = await window.find<{ text: string }>(first.url);
    const b = await window.find<{ text: string }>(second.url);
    a.change((d) => A.splice(d, ["text"], 1, 0, "a"));
    b.change((d) => A.splice(d, ["text"], 1, 0, "b"));
    await expect(handOver(window, 5000)).resolves.toBe(true);
    expect([first.doc().text, second.doc().text]).toEqual(["1a", "2b"]);
  });

  it("gives up after its time when the node never hears of the edit", async () => {
    const { node, window, state } = connected();
    const atNode = node.create<{ text: string }>({ text: "a" });
    const inWindow = await window.find<{ text: string }>(atNode.url);
    await expect(whenInStep(window, inWindow as DocHandle<unknown>, 5000)).resolves.toBe(true);
    // Every frame from now on is lost on the way.
    state.drop = true;
    inWindow.change((d) => A.splice(d, ["text"], 1, 0, "b"));
    await expect(whenInStep(window, inWindow as DocHandle<unknown>, 300)).resolves.toBe(false);
    await expect(handOver(window, 300)).resolves.toBe(false);
    expect(atNode.doc().text).toBe("a");
  });
});

describe("the node's answers that bring nothing", () => {
  /// A sync message with heads only, and one carrying a change, from a document's owner to a peer.
  function messages() {
    const doc = A.from<{ text: string }>({ text: "a" });
    const [s1, headsOnly] = A.generateSyncMessage(doc, A.initSyncState());
    const [other, s2] = A.receiveSyncMessage(A.init<{ text: string }>(), A.initSyncState(), headsOnly!);
    const [, asks] = A.generateSyncMessage(other, s2);
    const [, s1b] = A.receiveSyncMessage(doc, s1, asks!);
    const [, withChanges] = A.generateSyncMessage(doc, s1b);
    expect(A.decodeSyncMessage(headsOnly!).changes).toHaveLength(0);
    expect(A.decodeSyncMessage(withChanges!).changes).toHaveLength(1);
    return { headsOnly: headsOnly!, withChanges: withChanges! };
  }

  it("are applied once, the last of a burst, after a pause; a change goes through at once", async () => {
    vi.useFakeTimers();
    try {
      let receive: (frame: Uint8Array) => void = () => {};
      const pipe: Pipe = {
        async open(r) {
          receive = r;
        },
        async send() {},
      };
      const adapter = new IpcNetworkAdapter(pipe);
      const got: Message[] = [];
      adapter.on("message", (m) => got.push(m));
      adapter.connect("teamflow-window" as PeerId);
      await vi.advanceTimersByTimeAsync(0);
      receive(cbor.encode({ type: "peer", senderId: "node", targetId: "teamflow-window", peerMetadata: {}, selectedProtocolVersion: "1" }));
      const { headsOnly, withChanges } = messages();
      const frame = (n: number, data: Uint8Array, documentId = "doc") =>
        cbor.encode({ type: "sync", senderId: "node", targetId: "teamflow-window", documentId, data, n });
      const seen = () => got.map((m) => (m as unknown as { n: number }).n);

      // A burst of answers (typing): none is applied until the burst pauses, then only the last.
      for (let n = 1; n <= 5; n++) {
        receive(frame(n, headsOnly));
        await vi.advanceTimersByTimeAsync(50);
      }
      expect(seen()).toEqual([]);
      await vi.advanceTimersByTimeAsync(QUIET_MS);
      expect(seen()).toEqual([5]);

      // A change arrives: at once, and the answer held before it is not applied after it.
      receive(frame(6, headsOnly));
      receive(frame(7, withChanges));
      expect(seen()).toEqual([5, 7]);
      // Another document's answers are held on their own.
      receive(frame(8, headsOnly, "other"));
      await vi.advanceTimersByTimeAsync(QUIET_MS);
      expect(seen()).toEqual([5, 7, 8]);

      // Answers that never pause are still applied, at most MOST_MS apart.
      for (let n = 9; n < 9 + (MOST_MS / 100) * 2; n++) {
        receive(frame(n, headsOnly));
        await vi.advanceTimersByTimeAsync(100);
      }
      expect(seen().length).toBeGreaterThanOrEqual(3 + 1);
    } finally {
      vi.useRealTimers();
    }
  });
});
