// The app's pipe for the window repo (see `ipc.ts`): frames to the node through the `window_frame` command,
// frames from it on a Tauri channel, base64 both ways; and the one repo the window keeps while signed in.
import { Channel } from "@tauri-apps/api/core";
import { commitTyping } from "@automerge/prosemirror";
import type { Repo } from "@automerge/automerge-repo/slim";
import { commands } from "../../bindings";
import { call } from "../../lib/call";
import type { Pipe } from "./ipc";
import { handOver } from "./inStep";
import { whenRepoMade } from "./lifetime";
import { windowRepo } from "./repo";

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // In slices: spreading a large frame into one call would overflow the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function tauriPipe(): Pipe {
  return {
    async open(receive) {
      const frames = new Channel<string>();
      frames.onmessage = (frame) => receive(fromBase64(frame));
      await call(commands.connectWindow(frames));
    },
    async send(frame) {
      await call(commands.windowFrame(toBase64(frame)));
    },
  };
}

let shared: Promise<Repo> | null = null;

/// The window's repo, connected to the node on first use; signing out drops it and quitting hands its edits
/// over first (`lifetime.ts`).
export function sharedRepo(): Promise<Repo> {
  if (!shared) {
    shared = windowRepo(tauriPipe(), (message) => console.warn("document link:", message));
    const made = shared;
    whenRepoMade(
      () => {
        shared = null;
        void made.then((r) => r.shutdown());
      },
      async (timeoutMs) => {
        // The keys on screen are edits too: into their documents before the node is asked for them.
        commitTyping();
        return handOver(await made, timeoutMs);
      },
    );
  }
  return shared;
}
