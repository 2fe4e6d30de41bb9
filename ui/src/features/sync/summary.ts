// The sync state in words a person reads at a glance.
import { RELAY_PEER_ID, type Status, WINDOW_PEER_ID } from "../../bindings";

export type Tone = "ok" | "busy" | "offline" | "problem";

export interface Summary {
  tone: Tone;
  label: string;
  detail: string;
}

/** Teammates' devices this one syncs with directly (peer to peer): the connected peers but the relay and
 *  this window's own repo. */
export function teammateDevices(status: Status): number {
  return status.peers.filter((peer) => peer !== RELAY_PEER_ID && peer !== WINDOW_PEER_ID).length;
}

export function summarize(status: Status): Summary {
  const peers = teammateDevices(status);
  const nearby = peers > 0 ? `${peers} teammate device${peers === 1 ? "" : "s"} in reach` : "";
  const parts: string[] = [];
  if (status.pending > 0) parts.push(`${status.pending} change${status.pending === 1 ? "" : "s"} waiting to send`);
  if (status.failed > 0) parts.push(`${status.failed} refused by the relay`);
  const docs = Object.values(status.documents);
  const syncing = docs.filter((d) => d === "syncing").length;
  const local = docs.filter((d) => d === "local_only").length;
  if (syncing > 0) parts.push(`${syncing} document${syncing === 1 ? "" : "s"} syncing`);
  if (local > 0) parts.push(`${local} only on this device`);
  const detail = parts.join(" · ");
  if (!status.signed_in) return { tone: "offline", label: "Signed out", detail };
  if (status.failed > 0) return { tone: "problem", label: "Needs attention", detail };
  switch (status.link) {
    case "offline":
      // Documents still sync with teammates' devices in reach (peer to peer); the rest waits for the relay.
      return { tone: "offline", label: "Offline", detail: [detail || "Working locally; changes go out when you reconnect", nearby].filter(Boolean).join(" · ") };
    case "connecting":
      return { tone: "busy", label: "Connecting…", detail };
    case "online":
      // A document only on this device is not synced either (the relay does not take it yet).
      if (status.pending > 0 || syncing > 0 || local > 0) return { tone: "busy", label: "Syncing…", detail };
      return { tone: "ok", label: "Online", detail: detail || ["All changes synced", nearby].filter(Boolean).join(" · ") };
  }
}

/** What signing out now would throw away, in words, or null when the relay has everything: signing out
 *  empties this device's store, so changes still waiting (or refused) and documents the relay has not got
 *  never reach the team. Offline, the device cannot know that the relay has its latest changes. */
export function unsentWork(status: Status): string | null {
  const parts: string[] = [];
  const waiting = status.pending + status.failed;
  if (waiting > 0) parts.push(`${waiting} change${waiting === 1 ? "" : "s"} not sent`);
  const docs = Object.values(status.documents).filter((d) => d !== "synced").length;
  if (docs > 0) parts.push(`${docs} document${docs === 1 ? "" : "s"} with edits the relay has not got`);
  if (parts.length > 0) return `${parts.join(" and ")}.`;
  if (status.link !== "online") return "The relay cannot be reached right now: edits made since it last answered may not have reached it.";
  return null;
}
