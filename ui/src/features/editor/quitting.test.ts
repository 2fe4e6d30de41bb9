// The window's answer to the shell's quit request: it always ends in `quit`, at once when it holds no
// documents (the shell would otherwise wait out its grace period).
import { afterEach, expect, it, vi } from "vitest";
import { calls, events, reset } from "../../testing/fakeBindings";
import { quitWhenHandedOver } from "./quitting";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));

afterEach(reset);

it("quits at once when the window holds no documents", async () => {
  const stop = quitWhenHandedOver();
  await Promise.resolve();
  events.quitRequested.emit(null);
  await vi.waitFor(() => expect(calls.map(([name]) => name)).toContain("quit"));
  stop();
});
