// Frames cross the IPC bridge as base64: every byte value survives, and a frame larger than one
// conversion slice (a large document's first sync) does too.
import { describe, expect, it } from "vitest";
import { fromBase64, toBase64 } from "./pipe";

describe("frames as base64", () => {
  it("round-trip every byte value", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromBase64(toBase64(bytes))).toEqual(bytes);
  });

  it("round-trip a frame larger than one slice", () => {
    const bytes = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 256);
    const text = toBase64(bytes);
    expect(text.length).toBe(Math.ceil(200_000 / 3) * 4);
    expect(fromBase64(text)).toEqual(bytes);
  });

  it("reject what is not base64", () => {
    expect(() => fromBase64("not base64!")).toThrow();
  });
});
