// A team's live state (roster, presence, projects, who is typing) and how each room frame or loaded list
// changes it. Pure but for one tick counter ordering reads against changes, so the merging of the room's
// pages is tested without a window; store.ts holds it.
import type { Member, PresentMember, Project, ProjectId, ServerMessage, UserId } from "../../bindings";

/** How long a typing hint shows after the last one heard (typists repeat it every 2 s while typing). */
export const TYPING_SHOWN_MS = 3000;

export type TeamLive = {
  /** Everyone in the team, in the relay's order (who joined first). */
  members: ReadonlyMap<UserId, Member>;
  /** Members with a device in the team's room now. */
  online: ReadonlySet<UserId>;
  projects: ReadonlyMap<ProjectId, Project>;
  /** Who is typing, and when they were last heard (Unix ms). */
  typing: ReadonlyMap<UserId, number>;
  /**
   * What the latest `team_state` and the pages after it have listed so far. Until the pages end, whatever
   * it has not listed yet stays shown: it may still come, and dropping it meanwhile would make a large
   * team's roster shrink and grow again on every join.
   */
  listed: { members: ReadonlySet<UserId>; projects: ReadonlySet<ProjectId> } | null;
  /** Orders each whole-list read against the changes that came while it was on its way (see `ReadOrder`). */
  reads: { members: ReadOrder<UserId>; projects: ReadOrder<ProjectId> };
};

/**
 * A read answers with the list as it was when asked, so a room frame or this window's save that came in
 * the meantime is newer than the answer, and of two reads in flight the one asked later is the newer,
 * whichever answers first. Reads and changes are ordered by one tick counted for the whole window, never
 * reset (a read still on its way when a sign-in ended must not outrank the next account's): `changed` says
 * at which tick each entry last changed other than by a read, `readFrom` at which tick the read last taken
 * was asked.
 */
type ReadOrder<K> = { readFrom: number; changed: ReadonlyMap<K, number> };

let ticks = 0;

export const EMPTY: TeamLive = {
  members: new Map(),
  online: new Set(),
  projects: new Map(),
  typing: new Map(),
  listed: null,
  reads: { members: { readFrom: 0, changed: new Map() }, projects: { readFrom: 0, changed: new Map() } },
};

/** The tick of a list read asked now: the `since` of its loaded change when it answers. */
export function readStarts(): number {
  return ++ticks;
}

export type Change =
  | { type: "frame"; frame: ServerMessage }
  /** The whole roster or project list, read from the relay (or this device's cache while offline). */
  | { type: "members_loaded"; members: Member[]; since: number }
  | { type: "projects_loaded"; projects: Project[]; since: number }
  /** A project this window changed, shown before the relay echoes it. */
  | { type: "project_changed"; project: Project }
  | { type: "typing_faded" };

export function reduce(live: TeamLive, change: Change, now: number): TeamLive {
  switch (change.type) {
    case "members_loaded": {
      const read = taken(live.reads.members, live.members, new Map(change.members.map((m) => [m.user_id, m])), change.since);
      if (!read) return live;
      const [members, order] = read;
      return { ...live, members, online: new Set([...live.online].filter((id) => members.has(id))), reads: { ...live.reads, members: order } };
    }
    case "projects_loaded": {
      const read = taken(live.reads.projects, live.projects, new Map(change.projects.map((p) => [p.id, p])), change.since);
      if (!read) return live;
      const [projects, order] = read;
      return { ...live, projects, reads: { ...live.reads, projects: order } };
    }
  }
  const after = changed(live, change, now);
  if (after.members === live.members && after.projects === live.projects) return after;
  return {
    ...after,
    reads: {
      members: noted(after.reads.members, live.members, after.members),
      projects: noted(after.reads.projects, live.projects, after.projects),
    },
  };
}

/** A change other than a read. */
function changed(live: TeamLive, change: Exclude<Change, { type: "members_loaded" | "projects_loaded" }>, now: number): TeamLive {
  switch (change.type) {
    case "frame":
      return applyFrame(live, change.frame, now);
    case "project_changed":
      return { ...live, projects: new Map(live.projects).set(change.project.id, change.project) };
    case "typing_faded": {
      const typing = new Map([...live.typing].filter(([, at]) => now - at < TYPING_SHOWN_MS));
      return typing.size === live.typing.size ? live : { ...live, typing };
    }
  }
}

/** Notes which entries a change other than a read set or removed. */
function noted<K, V>(order: ReadOrder<K>, before: ReadonlyMap<K, V>, after: ReadonlyMap<K, V>): ReadOrder<K> {
  if (before === after) return order;
  const at = ++ticks;
  const changed = new Map(order.changed);
  for (const [key, value] of after) if (before.get(key) !== value) changed.set(key, at);
  for (const key of before.keys()) if (!after.has(key)) changed.set(key, at);
  return { ...order, changed };
}

/**
 * A read's answer laid over the list, or null when a read asked later was already taken: what changed
 * since it was asked stays as it is now (set or removed).
 */
function taken<K, V>(order: ReadOrder<K>, now: ReadonlyMap<K, V>, read: Map<K, V>, since: number): [ReadonlyMap<K, V>, ReadOrder<K>] | null {
  if (since < order.readFrom) return null;
  const changed = new Map([...order.changed].filter(([, at]) => at > since));
  for (const key of changed.keys()) {
    const value = now.get(key);
    if (value === undefined) read.delete(key);
    else read.set(key, value);
  }
  return [read, { readFrom: since, changed }];
}

function applyFrame(live: TeamLive, frame: ServerMessage, now: number): TeamLive {
  switch (frame.type) {
    case "team_state": {
      // A (re)join: a new listing replaces any earlier one, finished or not.
      const listing = { ...live, listed: { members: new Set<UserId>(), projects: new Set<ProjectId>() } };
      return listProjects(listMembers(listing, frame.members), frame.projects);
    }
    case "team_members":
      return listMembers(live, frame.members);
    case "team_projects":
      return listProjects(live, frame.projects);
  }
  // The relay sends a listing's pages back to back: any other frame means they are over.
  const settled = settle(live);
  switch (frame.type) {
    case "user_joined":
      return settled.online.has(frame.user_id) ? settled : { ...settled, online: new Set(settled.online).add(frame.user_id) };
    case "user_left":
      return { ...settled, online: absent(settled.online, frame.user_id), typing: without(settled.typing, frame.user_id) };
    case "member_changed": {
      if (frame.role === null) {
        return {
          ...settled,
          members: without(settled.members, frame.user_id),
          online: absent(settled.online, frame.user_id),
          typing: without(settled.typing, frame.user_id),
        };
      }
      const member = settled.members.get(frame.user_id);
      // Someone new: only the roster's next load has their name (the store asks for it).
      if (!member) return settled;
      return { ...settled, members: new Map(settled.members).set(frame.user_id, { ...member, role: frame.role }) };
    }
    case "project_updated":
      return { ...settled, projects: new Map(settled.projects).set(frame.project.id, frame.project) };
    case "project_deleted":
      return { ...settled, projects: without(settled.projects, frame.project_id) };
    case "typing":
      return { ...settled, typing: new Map(settled.typing).set(frame.user_id, now) };
    case "new_message":
      // The message they were typing arrived.
      return settled.typing.has(frame.message.author_id) ? { ...settled, typing: without(settled.typing, frame.message.author_id) } : settled;
    case "access_revoked":
      // The room sends nothing more, so no one would ever be seen leaving or stop typing.
      return { ...settled, online: new Set(), typing: new Map() };
    default:
      return settled;
  }
}

function listMembers(live: TeamLive, page: PresentMember[]): TeamLive {
  const members = new Map(live.members);
  const online = new Set(live.online);
  for (const { online: on, ...member } of page) {
    members.set(member.user_id, member);
    if (on) online.add(member.user_id);
    else online.delete(member.user_id);
  }
  const listed = live.listed && { ...live.listed, members: new Set([...live.listed.members, ...page.map((m) => m.user_id)]) };
  return { ...live, members, online, listed };
}

function listProjects(live: TeamLive, page: Project[]): TeamLive {
  const projects = new Map(live.projects);
  for (const project of page) projects.set(project.id, project);
  const listed = live.listed && { ...live.listed, projects: new Set([...live.listed.projects, ...page.map((p) => p.id)]) };
  return { ...live, projects, listed };
}

/** Ends a listing: what it did not list is gone (removed or deleted while this device was away). */
function settle(live: TeamLive): TeamLive {
  const { listed } = live;
  if (!listed) return live;
  const members = new Map([...live.members].filter(([id]) => listed.members.has(id)));
  return {
    ...live,
    members,
    online: new Set([...live.online].filter((id) => members.has(id))),
    projects: new Map([...live.projects].filter(([id]) => listed.projects.has(id))),
    typing: new Map([...live.typing].filter(([id]) => members.has(id))),
    listed: null,
  };
}

/** The team's projects, oldest first (the relay's order). */
export function projectList(live: TeamLive): Project[] {
  return [...live.projects.values()].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id));
}

/** The names of the teammates typing now, other than `me`. */
export function typistNames(live: TeamLive, me: UserId): string[] {
  return [...live.typing.keys()].filter((id) => id !== me).map((id) => live.members.get(id)?.display_name ?? "Someone");
}

function without<K, V>(map: ReadonlyMap<K, V>, key: K): ReadonlyMap<K, V> {
  if (!map.has(key)) return map;
  const copy = new Map(map);
  copy.delete(key);
  return copy;
}

function absent<K>(set: ReadonlySet<K>, key: K): ReadonlySet<K> {
  if (!set.has(key)) return set;
  const copy = new Set(set);
  copy.delete(key);
  return copy;
}
