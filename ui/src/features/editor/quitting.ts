// Before the app quits, every edit the window holds reaches the node: the shell asks (`QuitRequested`,
// when the window is closed or the system asks the app to end) and quits when told to, or on its own
// after a few seconds (`src-tauri/src/quit.rs`).
//
// This module is in the app's own chunk: it reaches the repo only through `lifetime.ts`.
import { commands, events } from "../../bindings";
import { subscribe } from "../../lib/events";
import { handOverHeld } from "./lifetime";

/// How long the window waits for the node's confirmations, within the shell's own grace period.
export const HAND_OVER_MS = 4_000;

/// Answers the shell's quit requests for as long as the window lives; answers the cleanup.
export function quitWhenHandedOver(): () => void {
  return subscribe(events.quitRequested, () => {
    void (async () => {
      try {
        if (!(await handOverHeld(HAND_OVER_MS))) console.warn("quitting before the node confirmed every edit");
      } catch (e) {
        console.warn("quitting without the node's confirmation:", e);
      } finally {
        // Whatever happened above: the app must not wait out the shell's grace period for nothing.
        await commands.quit();
      }
    })();
  });
}
