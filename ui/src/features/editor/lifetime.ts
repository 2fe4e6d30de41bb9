// The window repo's lifetime, without loading Automerge: the editor (a chunk of its own, loaded with the
// first document opened) registers how to drop its repo and how to hand its edits to the node, and
// signing out or quitting calls them if there is a repo. Importing the editor's modules here instead would
// put Automerge in the app's own chunk, parsed before the sign-in form is drawn.

let forget: (() => void) | null = null;
let handOver: ((timeoutMs: number) => Promise<boolean>) | null = null;

/** Called by the editor's repo when it is made: how to drop it, and how to hand its edits over. */
export function whenRepoMade(drop: () => void, handingOver: (timeoutMs: number) => Promise<boolean>): void {
  forget = drop;
  handOver = handingOver;
}

/** Drops the window's repo, if the editor ever made one (on sign-out: the next person starts from nothing). */
export function forgetRepo(): void {
  const drop = forget;
  forget = null;
  handOver = null;
  drop?.();
}

/** Resolves once the node has confirmed every edit the window's repo holds (true; at once when there is no
 *  repo), or after `timeoutMs` (false). */
export function handOverHeld(timeoutMs: number): Promise<boolean> {
  return handOver ? handOver(timeoutMs) : Promise.resolve(true);
}
