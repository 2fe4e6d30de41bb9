// The window repo's one network adapter: automerge-repo's protocol (CBOR frames, the join/peer
// handshake of its WebSocket adapter) over a pipe to the node, which accepts it as one more samod peer.
// Frames go one at a time and in order; when the pipe fails (the node dropped the connection), the
// adapter says the peer left and connects again.
//
// The node answers every sync message of the window's, and while a person types most answers bring
// nothing: only the node's heads, to say it has the keystrokes. Applying one still costs the page 25 to
// 50 ms on a document with a long history (automerge walks its change graph), on the thread that draws
// the next keystroke. So an answer that brings no change and asks for none waits a little for a newer one
// for the same document, which says all it said, and only the last is applied, once typing pauses. Any
// message with changes goes through at once, and replaces an answer still waiting.
import { next as A } from "@automerge/automerge/slim";
import { NetworkAdapter, cbor, type Message, type PeerId, type PeerMetadata } from "@automerge/automerge-repo/slim";
import { nodeMetadata } from "./seeds";

/// How frames cross to the node: the app's is a Tauri channel and command (`tauriPipe`), tests pass
/// their own.
export interface Pipe {
  /// Connects afresh; every frame from the node goes to `receive`. Replaces any earlier connection.
  open(receive: (frame: Uint8Array) => void): Promise<void>;
  /// Sends one frame; rejects when the connection has ended.
  send(frame: Uint8Array): Promise<void>;
}

type FromNode = { type: "peer"; senderId: PeerId; peerMetadata: PeerMetadata } | { type: "error"; message: string } | Message;

/// Waits between attempts to connect again, in milliseconds (first, then doubling up to the last).
const RETRY = [100, 200, 400, 800, 1600, 3200];

/// How long an answer that brought nothing waits for a newer one, in milliseconds, and at most, while newer
/// ones keep coming.
export const QUIET_MS = 300;
export const MOST_MS = 2000;

/// Answers larger than this are not read to see whether they only tell heads: an answer that only tells
/// heads is small (heads, and a Bloom filter over the few changes since the last shared heads), and
/// decoding a large one (the 259,780 changes of a first sync) would cost the page seconds.
const SMALL_BYTES = 4096;

/// Whether a sync message only tells heads: no changes, nothing asked for.
function onlyHeads(data: Uint8Array): boolean {
  if (data.length > SMALL_BYTES) return false;
  try {
    const message = A.decodeSyncMessage(data);
    return message.changes.length === 0 && message.need.length === 0;
  } catch {
    return false; // The repo reports what it cannot read.
  }
}

export class IpcNetworkAdapter extends NetworkAdapter {
  #pipe: Pipe;
  #onError: (message: string) => void;
  #remote: PeerId | undefined;
  #generation = 0;
  #attempt = 0;
  #closed = false;
  #sending: Promise<void> = Promise.resolve();
  #ready = false;
  #markReady: () => void = () => {};
  #whenReady = new Promise<void>((resolve) => (this.#markReady = resolve));
  /// Answers waiting for a newer one, by sender and document.
  #held = new Map<string, { message: Message; since: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(pipe: Pipe, onError: (message: string) => void = () => {}) {
    super();
    this.#pipe = pipe;
    this.#onError = onError;
  }

  isReady(): boolean {
    return this.#ready;
  }

  whenReady(): Promise<void> {
    return this.#whenReady;
  }

  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId;
    this.peerMetadata = peerMetadata ?? {};
    void this.#open();
  }

  disconnect(): void {
    this.#closed = true;
    this.#left();
  }

  send(message: Message): void {
    if (!this.#remote) return; // Before the handshake, or after the link dropped: the repo syncs afresh on the next.
    const frame = cbor.encode(message);
    const generation = this.#generation;
    this.#sending = this.#sending.then(() => (generation === this.#generation ? this.#pipe.send(frame) : undefined)).catch((e) => this.#failed(generation, e));
  }

  async #open(): Promise<void> {
    const generation = ++this.#generation;
    this.#sending = Promise.resolve();
    try {
      await this.#pipe.open((frame) => {
        if (generation === this.#generation) this.#receive(frame);
      });
      const join = { type: "join", senderId: this.peerId, peerMetadata: this.peerMetadata, supportedProtocolVersions: ["1"] };
      await this.#pipe.send(cbor.encode(join));
    } catch (e) {
      this.#failed(generation, e);
    }
  }

  #receive(frame: Uint8Array): void {
    let message: FromNode;
    try {
      message = cbor.decode(frame) as FromNode;
    } catch {
      this.#onError("The document link sent an unreadable frame.");
      return;
    }
    if (message.type === "peer") {
      const { senderId, peerMetadata } = message as { senderId: PeerId; peerMetadata: PeerMetadata };
      this.#remote = senderId;
      this.#attempt = 0;
      if (!this.#ready) {
        this.#ready = true;
        this.#markReady();
      }
      // With a storage id, so that the repo starts a document's sync from its seed (`seeds.ts`).
      this.emit("peer-candidate", { peerId: senderId, peerMetadata: nodeMetadata(peerMetadata) });
    } else if (message.type === "error") {
      this.#onError(String((message as { message: string }).message));
    } else {
      this.#deliver(message as Message);
    }
  }

  #deliver(message: Message): void {
    if (message.type !== "sync") {
      this.emit("message", message);
      return;
    }
    const key = `${message.senderId} ${message.documentId}`;
    const held = this.#held.get(key);
    if (held) clearTimeout(held.timer);
    if (message.data && onlyHeads(message.data)) {
      const since = held?.since ?? Date.now();
      const wait = Math.max(0, Math.min(QUIET_MS, since + MOST_MS - Date.now()));
      this.#held.set(key, { message, since, timer: setTimeout(() => this.#release(key), wait) });
      return;
    }
    // Newer than the answer held, which it makes unnecessary.
    this.#held.delete(key);
    this.emit("message", message);
  }

  #release(key: string): void {
    const held = this.#held.get(key);
    if (!held) return;
    this.#held.delete(key);
    this.emit("message", held.message);
  }

  #dropHeld(): void {
    for (const held of this.#held.values()) clearTimeout(held.timer);
    this.#held.clear();
  }

  #left(): void {
    // Answers from a connection that ended: the sync starts afresh on the next.
    this.#dropHeld();
    if (this.#remote) {
      const peerId = this.#remote;
      this.#remote = undefined;
      this.emit("peer-disconnected", { peerId });
    }
  }

  #failed(generation: number, error: unknown): void {
    if (generation !== this.#generation || this.#closed) return;
    this.#generation++; // Frames still queued for the failed connection are dropped.
    this.#left();
    if (!this.#ready) {
      // No node to ask: the repo may report documents unavailable rather than wait.
      this.#ready = true;
      this.#markReady();
    }
    this.#onError(error instanceof Error ? error.message : String((error as { message?: string })?.message ?? error));
    const wait = RETRY[Math.min(this.#attempt++, RETRY.length - 1)];
    setTimeout(() => {
      if (!this.#closed) void this.#open();
    }, wait);
  }
}
