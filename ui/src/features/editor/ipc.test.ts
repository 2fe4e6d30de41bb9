// The window repo's network adapter against a stand-in for the node (a stock automerge-repo answering the
// same handshake): documents sync both ways, frames keep their order, and a connection the node ended is
// reopened with the sync picking up again.
import { next as A } from "@automerge/automerge/slim";
import { NetworkAdapter, Repo, cbor, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { IpcNetworkAdapter, type Pipe } from "./ipc";
import { automergeReady } from "./repo";

beforeAll(automergeReady);

/// The node's side: answers `join` with `peer` as samod does, then passes frames to its repo.
class NodeSide extends NetworkAdapter {
  toWindow: ((frame: Uint8Array) => void) | null = null;
  remote: PeerId | null = null;
  joins = 0;
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
  const state = { failNext: false, opens: 0 };
  const pipe: Pipe = {
    async open(receive) {
      state.opens++;
      // Like the Tauri channel: frames arrive later, in order.
      nodeSide.toWindow = (frame) => queueMicrotask(() => receive(frame));
    },
    async send(frame) {
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
