// The window repo's lifetime, without loading Automerge: the editor (a chunk of its own, loaded with the
// first document opened) registers how to drop its repo, and signing out calls it if there is one.

let forget: (() => void) | null = null;

/** Called by the editor's repo when it is made: how to drop it. */
export function whenForgotten(drop: () => void): void {
  forget = drop;
}

/** Drops the window's repo, if the editor ever made one (on sign-out: the next person starts from nothing). */
export function forgetRepo(): void {
  const drop = forget;
  forget = null;
  drop?.();
}
