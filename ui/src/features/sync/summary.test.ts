import { describe, expect, it } from "vitest";
import type { Status } from "../../bindings";
import { summarize } from "./summary";

const base: Status = { signed_in: true, credentials: "file", link: "online", peers: ["relay"], pending: 0, failed: 0, documents: {} };

describe("summarize", () => {
  it("is calm when everything is synced", () => {
    expect(summarize(base)).toEqual({ tone: "ok", label: "Online", detail: "All changes synced · 1 peer" });
  });
  it("counts what waits while offline", () => {
    const s = summarize({ ...base, link: "offline", peers: [], pending: 2, documents: { "automerge:a": "local_only" } });
    expect(s.tone).toBe("offline");
    expect(s.detail).toBe("2 changes waiting to send · 1 only on this device");
  });
  it("flags refused changes above all", () => {
    expect(summarize({ ...base, failed: 1 }).tone).toBe("problem");
  });
});
