// The window's answer to the shell's quit request: it always ends in `quit`, at once when it holds no
// documents (the shell would otherwise wait out its grace period).
import { afterEach, expect, it, vi } from "vitest";
import { calls, events, reset } from "../../testing/fakeBindings";
import { forgetRepo, whenRepoMade } from "./lifetime";
import { HAND_OVER_MS, quitWhenHandedOver } from "./quitting";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

afterEach(reset);

it("quits at once when the window holds no documents", async () => {
  const stop = quitWhenHandedOver();
  await Promise.resolve();
  events.quitRequested.emit(null);
  await vi.waitFor(() => expect(calls.map(([name]) => name)).toContain("quit"));
  stop();
});

it("quits only after the repo's hand-over, and says so when the node did not confirm every edit", async () => {
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  let finish: (confirmed: boolean) => void = () => {};
  let limit = 0;
  whenRepoMade(
    () => {},
    (timeoutMs) => {
      limit = timeoutMs;
      return new Promise((resolve) => (finish = resolve));
    },
  );
  const stop = quitWhenHandedOver();
  events.quitRequested.emit(null);
  await vi.waitFor(() => expect(limit).toBe(HAND_OVER_MS));
  await Promise.resolve();
  expect(calls.map(([name]) => name)).not.toContain("quit");
  finish(false);
  await vi.waitFor(() => expect(calls.map(([name]) => name)).toContain("quit"));
  expect(warn).toHaveBeenCalledWith(expect.stringContaining("before the node confirmed"));
  forgetRepo();
  stop();
  warn.mockRestore();
});
