// Where the window's copy of a document starts syncing from. The window loads a document from the node's
// saved bytes (`opening.ts`), so right after that both hold exactly the same changes; but automerge-repo
// starts each peer's sync from an empty sync state, and an empty state's first message summarises every
// change of the document in a Bloom filter, built by one side and checked change by change by the other:
// seconds for the automerge-paper document's 259,780 changes, on the page's one thread, while the editor
// waits. A sync state whose shared heads are the loaded bytes' heads skips all that: each side then only
// speaks of what came after them.
//
// automerge-repo reads a peer's starting sync state from its storage (`loadSyncState`, by the peer's
// storage id), which the window's repo does not have (the node stores everything). `SyncSeeds` is that
// storage's sync-state half, for the node, and nothing else: no document is ever loaded from it or saved
// to it. It is put in as the repo's storage after the repo is made, so that the repo never saves
// documents (it only saves documents when it was given storage when it was made).
import { next as A } from "@automerge/automerge/slim";
import type { DocumentId, PeerMetadata, Repo, StorageId } from "@automerge/automerge-repo/slim";

/// The storage id the window gives the node when the node does not name one: automerge-repo only looks
/// up a starting sync state for a peer with a storage id that is not ephemeral.
export const NODE_STORAGE_ID = "teamflow-node" as StorageId;

/// The node's metadata as the window's repo should see it: with a storage id and not ephemeral, so that
/// the repo asks `SyncSeeds` where to start.
export function nodeMetadata(metadata: PeerMetadata | undefined): PeerMetadata {
  return { ...metadata, storageId: metadata?.storageId ?? NODE_STORAGE_ID, isEphemeral: false };
}

export class SyncSeeds {
  #heads = new Map<DocumentId, A.Heads>();

  /// The window's repo holds `documentId` at `heads`, loaded from the node's own bytes: the node has
  /// those changes too. Must be called before the repo starts syncing the document (in the same turn as
  /// `repo.import`, which starts it on a later one).
  seed(documentId: DocumentId, heads: A.Heads): void {
    this.#heads.set(documentId, heads);
  }

  // What automerge-repo calls on its storage (`StorageSubsystem`), version 2.5.6.

  async loadSyncState(documentId: DocumentId, _storageId: StorageId): Promise<A.SyncState | undefined> {
    const heads = this.#heads.get(documentId);
    // Through the encoding, as a stored state would come: only the shared heads survive it.
    return heads ? A.decodeSyncState(A.encodeSyncState({ ...A.initSyncState(), sharedHeads: heads })) : undefined;
  }

  async saveSyncState(): Promise<void> {}

  async loadDoc(): Promise<null> {
    return null;
  }

  async saveDoc(): Promise<void> {}

  async removeDoc(documentId: DocumentId): Promise<void> {
    this.#heads.delete(documentId);
  }

  async id(): Promise<undefined> {
    return undefined;
  }
}

const seedsOf = new WeakMap<Repo, SyncSeeds>();

/// Gives `repo` (made without storage) its `SyncSeeds`.
export function withSyncSeeds(repo: Repo): Repo {
  const seeds = new SyncSeeds();
  repo.storageSubsystem = seeds as unknown as NonNullable<Repo["storageSubsystem"]>;
  seedsOf.set(repo, seeds);
  return repo;
}

/// The seeds of `repo`, if it has them.
export function syncSeeds(repo: Repo): SyncSeeds | undefined {
  return seedsOf.get(repo);
}
