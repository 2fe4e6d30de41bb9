// Before the app quits, every edit the window holds reaches the node: the shell asks (`QuitRequested`,
// when the window is closed or the system asks the app to end) and quits when told to, or on its own
// after a few seconds (`src-tauri/src/quit.rs`).
import type { DocHandle, Repo } from "@automerge/automerge-repo/slim";
import { commands, events } from "../../bindings";
import { subscribe } from "../../lib/events";
import { whenInStep } from "./inStep";
import { heldRepo } from "./pipe";

/// How long the window waits for the node's confirmations, within the shell's own grace period.
export const HAND_OVER_MS = 4_000;

/// Resolves once the node has confirmed every document the window holds (true), or after `timeoutMs`
/// (false: some edit may not have reached it).
export async function handOver(repo: Repo, timeoutMs: number): Promise<boolean> {
  const handles = Object.values(repo.handles).filter((h) => h.isReady()) as DocHandle<unknown>[];
  const confirmed = await Promise.all(handles.map((h) => whenInStep(repo, h, timeoutMs)));
  return confirmed.every(Boolean);
}

/// Answers the shell's quit requests for as long as the window lives; answers the cleanup.
export function quitWhenHandedOver(): () => void {
  return subscribe(events.quitRequested, () => {
    void (async () => {
      try {
        const repo = heldRepo();
        if (repo && !(await handOver(await repo, HAND_OVER_MS))) console.warn("quitting before the node confirmed every edit");
      } catch (e) {
        console.warn("quitting without the node's confirmation:", e);
      } finally {
        // Whatever happened above: the app must not wait out the shell's grace period for nothing.
        await commands.quit();
      }
    })();
  });
}
