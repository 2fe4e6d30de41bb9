// When the editor's deferred work runs: right after the frame that shows a keystroke, so that the
// keystroke's frame waits for nothing but the browser's editing and ProseMirror.
import { typingWaits } from "@automerge/prosemirror";
import type { Pipe } from "./ipc";

/// Calls `then` right after the next frame is drawn, with when it was (what was handled before is on screen),
/// or after `FRAME_LATEST_MS` without a time if no frame comes first (a hidden window draws none): the
/// editor's keystrokes go into the document then (`editorState`).
export function afterFrame(then: (drawnAt?: number) => void): void {
  let done = false;
  const once = (drawnAt?: number) => {
    if (done) return;
    done = true;
    then(drawnAt);
  };
  requestAnimationFrame(() => {
    // Read in the frame's callbacks, before its layout and paint: everything handled until now is in it.
    const drawnAt = performance.now();
    setTimeout(() => once(drawnAt), 0);
  });
  setTimeout(() => once(), FRAME_LATEST_MS);
}

/// How long a keystroke waits for its frame before it goes into the document regardless.
export const FRAME_LATEST_MS = 100;

/// `pipe`, with frames from the node held while a key typed into an editor is not yet in its document
/// (`typingWaits`), and read in order right after the next frame: reading one (Automerge's sync and the
/// repo's events) would otherwise run between the key's handling and its frame, and hold the frame back. A
/// teammate's change in a held frame is drawn under the waiting keys (the binding's `syncPlugin`).
export function afterKeys(pipe: Pipe): Pipe {
  return {
    open(receive) {
      // Per connection: a new one starts with nothing held.
      const held: Uint8Array[] = [];
      const release = () => {
        // Each frame handed over on its own: one the repo cannot read does not take the rest with it.
        for (const frame of held.splice(0)) {
          try {
            receive(frame);
          } catch (e) {
            console.warn("a frame from the node could not be read:", e);
          }
        }
      };
      return pipe.open((frame) => {
        if (held.length === 0 && !typingWaits()) return receive(frame);
        if (held.push(frame) === 1) afterFrame(release);
      });
    },
    send: (frame) => pipe.send(frame),
  };
}
