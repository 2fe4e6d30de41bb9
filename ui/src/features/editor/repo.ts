// The window's automerge-repo: in memory, with the node as its only peer (through `ipc.ts`), so the
// editor binding works on real Automerge documents while the node keeps storage and the network.
import { initializeBase64Wasm, isWasmInitialized } from "@automerge/automerge/slim";
import { automergeWasmBase64 } from "@automerge/automerge/automerge.wasm.base64";
import { Repo, type PeerId } from "@automerge/automerge-repo/slim";
import { afterKeys } from "./frames";
import { IpcNetworkAdapter, type Pipe } from "./ipc";
import { withSyncSeeds } from "./seeds";
import { WINDOW_PEER_ID } from "../../bindings";

/// The peer id the node expects from its window (`teamflow_node::WINDOW_PEER_ID`, in the bindings).
export const WINDOW_PEER = WINDOW_PEER_ID as PeerId;

/// Automerge's WebAssembly, loaded once from the bundle (no fetch: the page may be served from anywhere).
export async function automergeReady(): Promise<void> {
  if (!isWasmInitialized()) await initializeBase64Wasm(automergeWasmBase64);
}

/// A repo whose only network is `pipe` (its frames held while a key is on its way to the screen,
/// `afterKeys`); nothing is stored in the window. A document loaded from the node's
/// saved bytes starts syncing from their heads (`seeds.ts`).
export async function windowRepo(pipe: Pipe, onError: (message: string) => void = () => {}): Promise<Repo> {
  await automergeReady();
  return withSyncSeeds(new Repo({ network: [new IpcNetworkAdapter(afterKeys(pipe), onError)], peerId: WINDOW_PEER, sharePolicy: async () => true }));
}
