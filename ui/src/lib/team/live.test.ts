// The team state's merging of the room's listing (team_state and its pages) with live frames and loaded lists.
import { describe, expect, it } from "vitest";
import type { ServerMessage } from "../../bindings";
import { joinFrames, member, members, project, projects, TEAM, userId } from "../../testing/fixtures";
import { type Change, EMPTY, projectList, readStarts, reduce, type TeamLive, typistNames, TYPING_SHOWN_MS } from "./live";

const NOW = 1_000_000;
const frame = (frame: ServerMessage): Change => ({ type: "frame", frame });
const feed = (live: TeamLive, frames: ServerMessage[], now = NOW) => frames.reduce((l, f) => reduce(l, frame(f), now), live);
const names = (live: TeamLive) => [...live.members.values()].map((m) => m.display_name);
const pong: ServerMessage = { type: "pong", nonce: null };

describe("a team's listing", () => {
  it("merges team_state with the member and project pages after it", () => {
    const all = [...members(1, 10, true), ...members(11, 60)];
    const live = feed(EMPTY, joinFrames(all, projects(1, 30)));
    expect(live.members.size).toBe(60);
    expect(names(live).slice(24, 27)).toEqual(["Member 25", "Member 26", "Member 27"]);
    expect([...live.online]).toEqual(members(1, 10).map((m) => m.user_id));
    expect(projectList(live).map((p) => p.name)).toEqual(projects(1, 30).map((p) => p.name));
    // Roles and names only: presence is kept apart.
    expect(live.members.get(userId(1))).not.toHaveProperty("online");
  });

  it("names a typist beyond the first 25 members", () => {
    const live = feed(EMPTY, [...joinFrames(members(1, 30)), { type: "typing", team_id: TEAM, user_id: userId(30) }]);
    expect(typistNames(live, userId(1))).toEqual(["Member 30"]);
  });

  it("never names the person themselves, and calls a stranger Someone", () => {
    const live = feed(EMPTY, [
      ...joinFrames(members(1, 3)),
      { type: "typing", team_id: TEAM, user_id: userId(1) },
      { type: "typing", team_id: TEAM, user_id: userId(99) },
    ]);
    expect(typistNames(live, userId(1))).toEqual(["Someone"]);
  });

  it("drops on a rejoin who left and what was deleted while away, once the pages are over", () => {
    const before = feed(EMPTY, [...joinFrames(members(1, 60), projects(1, 30)), pong]);
    // Away: member 2 was removed and project 3 deleted; member 61 was added.
    const now = [member(1), ...members(3, 61)];
    const [state, ...pages] = joinFrames(now, [project(1), project(2), ...projects(4, 30)]);

    // Mid-listing nothing is hidden: the later pages may still list it.
    const listing = feed(before, [state, pages[0]]);
    expect(listing.members.size).toBe(60);
    expect(listing.members.has(userId(2))).toBe(true);

    const after = feed(listing, [...pages.slice(1), pong]);
    expect(after.listed).toBeNull();
    expect(after.members.size).toBe(60);
    expect(after.members.has(userId(2))).toBe(false);
    expect(after.members.has(userId(61))).toBe(true);
    expect(after.projects.has(project(3).id)).toBe(false);
    expect(after.projects.size).toBe(29);
  });

  it("takes presence from the listing over what it knew", () => {
    const before = feed(EMPTY, [...joinFrames(members(1, 30, true)), pong]);
    const after = feed(before, [...joinFrames([...members(1, 29, true), member(30, false)]), pong]);
    expect(after.online.has(userId(30))).toBe(false);
    expect(after.online.size).toBe(29);
  });

  it("lets a new team_state replace an unfinished listing", () => {
    const cut = feed(EMPTY, joinFrames(members(1, 30)).slice(0, 1));
    const again = feed(cut, [...joinFrames(members(1, 30)), pong]);
    expect(again.members.size).toBe(30);
  });
});

describe("leaving and removal", () => {
  const joined = feed(EMPTY, [...joinFrames(members(1, 30)), pong]);

  it("follows who is in the room", () => {
    const live = feed(joined, [
      { type: "user_joined", team_id: TEAM, user_id: userId(28) },
      { type: "user_joined", team_id: TEAM, user_id: userId(29) },
      { type: "typing", team_id: TEAM, user_id: userId(29) },
      { type: "user_left", team_id: TEAM, user_id: userId(29) },
    ]);
    expect([...live.online]).toEqual([userId(28)]);
    // Someone who left is no longer typing, but still a member.
    expect(live.typing.size).toBe(0);
    expect(live.members.has(userId(29))).toBe(true);
  });

  it("forgets a removed member: roster, presence, typing", () => {
    const live = feed(joined, [
      { type: "user_joined", team_id: TEAM, user_id: userId(27) },
      { type: "typing", team_id: TEAM, user_id: userId(27) },
      { type: "member_changed", team_id: TEAM, user_id: userId(27), role: null },
    ]);
    expect(live.members.has(userId(27))).toBe(false);
    expect(live.online.has(userId(27))).toBe(false);
    expect(live.typing.has(userId(27))).toBe(false);
  });

  it("changes a member's role in place, and waits for the roster to name a newcomer", () => {
    const live = feed(joined, [{ type: "member_changed", team_id: TEAM, user_id: userId(26), role: "admin" }]);
    expect(live.members.get(userId(26))?.role).toBe("admin");
    expect(names(live)).toEqual(names(joined));
    expect(reduce(live, frame({ type: "member_changed", team_id: TEAM, user_id: userId(99), role: "member" }), NOW)).toBe(live);
  });

  it("shows no one in the room once this person's access is revoked", () => {
    const live = feed(joined, [
      { type: "user_joined", team_id: TEAM, user_id: userId(2) },
      { type: "typing", team_id: TEAM, user_id: userId(2) },
      { type: "access_revoked", team_id: TEAM },
    ]);
    expect(live.online.size).toBe(0);
    expect(live.typing.size).toBe(0);
  });
});

describe("typing", () => {
  const joined = feed(EMPTY, [...joinFrames(members(1, 3)), pong]);
  const typing = (n: number): ServerMessage => ({ type: "typing", team_id: TEAM, user_id: userId(n) });

  it("fades a hint not repeated in time", () => {
    const live = feed(feed(joined, [typing(2)], NOW), [typing(3)], NOW + 1000);
    const faded = reduce(live, { type: "typing_faded" }, NOW + TYPING_SHOWN_MS);
    expect(typistNames(faded, userId(1))).toEqual(["Member 3"]);
    expect(reduce(faded, { type: "typing_faded" }, NOW + TYPING_SHOWN_MS + 10)).toBe(faded);
  });

  it("ends when the typist's message arrives", () => {
    const live = feed(joined, [typing(2), typing(3)]);
    const message = { id: "m", team_id: TEAM, seq: 1, author_id: userId(2), author_name: "Member 2", client_id: "c", kind: "text", content: "hi", created_at: "" } as const;
    expect(typistNames(feed(live, [{ type: "new_message", message }]), userId(1))).toEqual(["Member 3"]);
  });
});

describe("loaded lists and project changes", () => {
  it("takes the whole roster from a load, keeping presence of those still in it", () => {
    const live = feed(EMPTY, [...joinFrames(members(1, 3, true)), pong]);
    const loaded = reduce(live, { type: "members_loaded", members: [member(1), member(3), member(4)], since: readStarts() }, NOW);
    expect(names(loaded)).toEqual(["Member 1", "Member 3", "Member 4"]);
    expect([...loaded.online]).toEqual([userId(1), userId(3)]);
  });

  it("follows projects from loads, the room and this window's own saves", () => {
    let live = reduce(EMPTY, { type: "projects_loaded", projects: [project(2), project(1)], since: readStarts() }, NOW);
    live = feed(live, [
      { type: "project_updated", project: { ...project(3), name: "Three" } },
      { type: "project_deleted", team_id: TEAM, project_id: project(1).id },
    ]);
    live = reduce(live, { type: "project_changed", project: { ...project(2), status: "paused" } }, NOW);
    expect(projectList(live).map((p) => [p.name, p.status])).toEqual([
      ["Project 2", "paused"],
      ["Three", "active"],
    ]);
  });

  it("keeps what changed while a read was on its way, and a read asked later over one asked earlier", () => {
    const start = reduce(EMPTY, { type: "projects_loaded", projects: [project(1), project(2)], since: readStarts() }, NOW);
    // A read is asked; this window renames project 1, the room echoes it, adds project 3, deletes project 2.
    const early = readStarts();
    let live = reduce(start, { type: "project_changed", project: { ...project(1), name: "Renamed" } }, NOW);
    live = feed(live, [
      { type: "project_updated", project: { ...project(1), name: "Renamed" } },
      { type: "project_updated", project: project(3) },
      { type: "project_deleted", team_id: TEAM, project_id: project(2).id },
    ]);
    // A second read is asked and answers first, with the relay's list by then.
    const late = readStarts();
    const fresh = [{ ...project(1), name: "Renamed" }, project(3), project(4)];
    const afterLate = reduce(live, { type: "projects_loaded", projects: fresh, since: late }, NOW);
    // The first read answers last with the list from before all of it: nothing of it is taken.
    const stale = [project(1), project(2)];
    const afterBoth = reduce(afterLate, { type: "projects_loaded", projects: stale, since: early }, NOW);
    expect(projectList(afterBoth).map((p) => p.name)).toEqual(["Renamed", "Project 3", "Project 4"]);
    // Answering first instead, the stale read still leaves every change made since it was asked.
    const staleFirst = reduce(live, { type: "projects_loaded", projects: stale, since: early }, NOW);
    expect(projectList(staleFirst).map((p) => p.name)).toEqual(["Renamed", "Project 3"]);
    // And a read asked after a change takes the relay's word over it (the save was refused, say).
    const refused = reduce(staleFirst, { type: "projects_loaded", projects: stale, since: readStarts() }, NOW);
    expect(projectList(refused).map((p) => p.name)).toEqual(["Project 1", "Project 2"]);
  });

  it("takes the later-asked of two reads with nothing changed between them, whichever answers last", () => {
    const live = feed(EMPTY, [...joinFrames(members(1, 2, true)), pong]);
    const [first, second] = [readStarts(), readStarts()];
    const later = reduce(live, { type: "members_loaded", members: [member(1), member(2), member(3)], since: second }, NOW);
    const both = reduce(later, { type: "members_loaded", members: [member(1), member(2)], since: first }, NOW);
    expect(names(both)).toEqual(["Member 1", "Member 2", "Member 3"]);
  });

  it("keeps a member removed while the roster was being read out of it", () => {
    const live = feed(EMPTY, [...joinFrames(members(1, 3, true)), pong]);
    const asked = readStarts();
    const removed = feed(live, [{ type: "member_changed", team_id: TEAM, user_id: userId(3), role: null }]);
    const loaded = reduce(removed, { type: "members_loaded", members: [member(1), member(2), member(3)], since: asked }, NOW);
    expect(names(loaded)).toEqual(["Member 1", "Member 2"]);
  });
});
