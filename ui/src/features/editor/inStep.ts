// Whether the window's copy of a document and the node's hold the same changes, from the heads the node
// last told the window about (automerge-repo keeps them per storage id: `getSyncInfo`). The window shows
// "Saving…" while it holds edits the node has not confirmed, waits for them before the app quits, and
// converts an old document only once it has everything the node has.
import type { DocHandle, Repo, StorageId, UrlHeads } from "@automerge/automerge-repo/slim";
import { when } from "../../lib/when";

/// The storage id of the node, the window repo's only peer; undefined until it has introduced itself.
export function nodeStorageId(repo: Repo): StorageId | undefined {
  for (const peer of repo.peers) {
    const id = repo.peerMetadataByPeerId[peer]?.storageId;
    if (id) return id;
  }
  return undefined;
}

/// The heads the node last reported for the document; undefined before it has reported any.
export function nodeHeads(repo: Repo, handle: DocHandle<unknown>): UrlHeads | undefined {
  const storageId = nodeStorageId(repo);
  return storageId ? handle.getSyncInfo(storageId)?.lastHeads : undefined;
}

/// Whether the node has said it holds everything the window holds: each of the window's heads is one of
/// the node's. (The node may hold more, a teammate's edit on its way to the window: that is no edit of
/// the window's waiting.)
export function inStep(repo: Repo, handle: DocHandle<unknown>): boolean {
  const theirs = nodeHeads(repo, handle);
  if (theirs === undefined) return false;
  const known = new Set<string>(theirs);
  return handle.heads().every((head) => known.has(head));
}

/// Calls `onChange` whenever the answer of `inStep` may have changed (a change here, or news from the
/// node); answers the cleanup.
export function watchStep(handle: DocHandle<unknown>, onChange: () => void): () => void {
  handle.on("change", onChange);
  handle.on("heads-changed", onChange);
  handle.on("remote-heads", onChange);
  return () => {
    handle.off("change", onChange);
    handle.off("heads-changed", onChange);
    handle.off("remote-heads", onChange);
  };
}

/// Resolves true once the node holds everything the window holds, or false after `timeoutMs` (the node
/// is busy or gone: the caller goes on without the guarantee).
export function whenInStep(repo: Repo, handle: DocHandle<unknown>, timeoutMs: number): Promise<boolean> {
  return when(() => inStep(repo, handle), (recheck) => watchStep(handle, recheck), timeoutMs);
}

/// Resolves once the node has confirmed every document the window holds (true), or after `timeoutMs`
/// (false: some edit may not have reached it).
export async function handOver(repo: Repo, timeoutMs: number): Promise<boolean> {
  const handles = Object.values(repo.handles).filter((h) => h.isReady()) as DocHandle<unknown>[];
  const confirmed = await Promise.all(handles.map((h) => whenInStep(repo, h, timeoutMs)));
  return confirmed.every(Boolean);
}
