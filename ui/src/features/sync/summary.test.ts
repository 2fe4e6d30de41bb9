import { describe, expect, it } from "vitest";
import type { Status } from "../../bindings";
import { summarize, unsentWork } from "./summary";

const base: Status = { signed_in: true, credentials: "file", link: "online", peers: ["teamflow-relay", "teamflow-window"], pending: 0, failed: 0, documents: {} };

describe("summarize", () => {
  it("is calm when everything is synced", () => {
    expect(summarize(base)).toEqual({ tone: "ok", label: "Online", detail: "All changes synced" });
  });
  it("counts teammates' devices in reach, not the relay or this window, online and offline", () => {
    expect(summarize({ ...base, peers: [...base.peers, "12D3KooWbob"] }).detail).toBe("All changes synced · 1 teammate device in reach");
    const offline = summarize({ ...base, link: "offline", peers: ["teamflow-window", "12D3KooWbob", "12D3KooWcy"] });
    expect(offline.detail).toBe("Working locally; changes go out when you reconnect · 2 teammate devices in reach");
  });
  it("counts what waits while offline", () => {
    const s = summarize({ ...base, link: "offline", peers: [], pending: 2, documents: { "automerge:a": "local_only" } });
    expect(s.tone).toBe("offline");
    expect(s.detail).toBe("2 changes waiting to send · 1 only on this device");
  });
  it("is not calm while a document is only on this device, online or not", () => {
    const s = summarize({ ...base, documents: { "automerge:a": "local_only" } });
    expect(s.tone).toBe("busy");
    expect(s.detail).toBe("1 only on this device");
  });
  it("flags refused changes above all", () => {
    expect(summarize({ ...base, failed: 1 }).tone).toBe("problem");
  });
});

describe("unsentWork", () => {
  it("is nothing when the relay has everything", () => {
    expect(unsentWork({ ...base, documents: { "automerge:a": "synced" } })).toBeNull();
  });
  it("names changes not sent (waiting or refused) and documents the relay has not got", () => {
    expect(unsentWork({ ...base, pending: 1 })).toBe("1 change not sent.");
    expect(unsentWork({ ...base, pending: 2, failed: 1, documents: { "automerge:a": "local_only", "automerge:b": "syncing", "automerge:c": "synced" } })).toBe(
      "3 changes not sent and 2 documents with edits the relay has not got.",
    );
  });
  it("cannot vouch for anything while the relay is out of reach", () => {
    expect(unsentWork({ ...base, link: "offline", peers: [] })).toMatch(/cannot be reached/);
    expect(unsentWork({ ...base, link: "connecting", peers: [] })).toMatch(/cannot be reached/);
  });
});
