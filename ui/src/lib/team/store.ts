// The one store of every joined team's live state: fed by the room events and the roster and project
// lists the features load, read by every feature through `useTeam`, so none rebuilds it from frames.
import { useSyncExternalStore } from "react";
import { commands, events, type Project, type TeamId } from "../../bindings";
import { call } from "../call";
import { subscribe } from "../events";
import { type Change, EMPTY, readStarts, reduce, type TeamLive, TYPING_SHOWN_MS } from "./live";

const teams = new Map<TeamId, TeamLive>();
const listeners = new Set<() => void>();
/** One timer per team with typists, due when the oldest hint fades. */
const fading = new Map<TeamId, ReturnType<typeof setTimeout>>();

function change(team: TeamId, c: Change) {
  const before = teams.get(team) ?? EMPTY;
  const after = reduce(before, c, Date.now());
  if (after === before) return;
  teams.set(team, after);
  listeners.forEach((listener) => listener());
}

function fadeTyping(team: TeamId) {
  const typing = teams.get(team)?.typing;
  if (fading.has(team) || !typing?.size) return;
  const due = Math.min(...typing.values()) + TYPING_SHOWN_MS - Date.now();
  const timer = setTimeout(() => {
    fading.delete(team);
    change(team, { type: "typing_faded" });
    fadeTyping(team);
  }, Math.max(due, 0));
  fading.set(team, timer);
}

/**
 * Feeds the store with every joined team's room frames, from sign-in (the workspace's mount) on; the
 * cleanup forgets every team, so the next account starts empty.
 */
export function followRooms(): () => void {
  // Unlistening takes a round trip to Rust: frames still arriving meanwhile belong to no one.
  let following = true;
  const stop = subscribe(events.roomEvent, ({ team_id, frame }) => {
    if (!following) return;
    change(team_id, { type: "frame", frame });
    if (frame.type === "typing") fadeTyping(team_id);
    // A new member: the frame names no one, the roster does.
    if (frame.type === "member_changed" && frame.role !== null && !teams.get(team_id)?.members.has(frame.user_id)) {
      loadMembers(team_id).catch(() => {});
    }
  });
  return () => {
    following = false;
    stop();
    fading.forEach(clearTimeout);
    fading.clear();
    teams.clear();
    listeners.forEach((listener) => listener());
  };
}

/** The team's live state; the component renders again when it changes. */
export function useTeam(team: TeamId): TeamLive {
  return useSyncExternalStore(listen, () => teams.get(team) ?? EMPTY);
}

function listen(listener: () => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}

/** Reads the whole roster (from the relay, or this device's cache while offline) into the store. */
export async function loadMembers(team: TeamId): Promise<void> {
  const since = readStarts();
  change(team, { type: "members_loaded", members: await call(commands.members(team)), since });
}

/** Reads the team's projects into the store (what changed while it was read stays newer). */
export async function loadProjects(team: TeamId): Promise<void> {
  const since = readStarts();
  change(team, { type: "projects_loaded", projects: await call(commands.projects(team)), since });
}

/** Shows a project as this window just saved it, ahead of the relay's echo. */
export function projectChanged(team: TeamId, project: Project) {
  change(team, { type: "project_changed", project });
}
