// The workspace puts the invitation features together: a team joined by accepting (from the pending list
// or a pasted link) appears in the team switcher at once and opens, no restart needed.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Status, TeamMembership, User } from "../bindings";
import { answers, calls, emitRoom, events, reset } from "../testing/fakeBindings";
import { forgetRepo, whenRepoMade } from "../features/editor/lifetime";
import { inviteLink, pendingInvitation, userId } from "../testing/fixtures";
import { draftOf } from "../features/chat/drafts";
import { Workspace } from "./Workspace";

vi.mock("../bindings", () => import("../testing/fakeBindings"));

const me: User = { id: userId(2), email: "bob@example.com", display_name: "Bob" };
const status: Status = { signed_in: true, credentials: null, link: "online", peers: [], pending: 0, failed: 0, documents: {} };
const own: TeamMembership = { id: pendingInvitation(9).team_id, name: "Own team", role: "owner" };
const studio: TeamMembership = { id: pendingInvitation(1).team_id, name: "Studio", role: "member" };

/** The relay's side: the person's teams, which accepting an invitation adds to. */
let teams: TeamMembership[];
beforeEach(() => {
  reset();
  teams = [own];
  answers.status = status;
  answers.teams = () => teams;
  answers.acceptInvitation = () => {
    teams = [...teams, studio];
    return studio;
  };
});
// A repo registered by a test goes with it (the next test's sign-out must not wait on it).
afterEach(() => {
  cleanup();
  forgetRepo();
});

const switcher = () => screen.getByTestId("team-switcher") as HTMLSelectElement;

it("accepting a pending invitation puts its team in the switcher and opens it", async () => {
  answers.pendingInvitations = [pendingInvitation(1, { team_name: "Studio" })];
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  expect(Array.from(switcher().options, (o) => o.text)).toEqual(["Own team"]);

  await act(async () => void fireEvent.click(screen.getByTestId("accept-invitation")));
  expect(Array.from(switcher().options, (o) => o.text)).toEqual(["Own team", "Studio"]);
  expect(switcher().value).toBe(studio.id);
  expect(calls).toContainEqual(["joinTeam", studio.id]);
  expect(screen.queryByTestId("pending-invitations")).toBeNull();
});

it("joining with a pasted link does the same", async () => {
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  fireEvent.change(screen.getByTestId("join-link"), { target: { value: inviteLink(1) } });
  await act(async () => void fireEvent.click(screen.getByTestId("join-with-link")));
  expect(switcher().value).toBe(studio.id);
  expect(Array.from(switcher().options, (o) => o.text)).toEqual(["Own team", "Studio"]);
});

it("opens Invite people from the member area of a team the person manages", async () => {
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  await act(async () => void fireEvent.click(screen.getByTestId("nav-members")));
  await act(async () => void fireEvent.click(screen.getByTestId("invite-people")));
  expect(screen.getByTestId("invite-dialog").textContent).toContain("Invite people to Own team");
  expect(calls).toContainEqual(["invitations", own.id]);
  await act(async () => void fireEvent.click(screen.getByTestId("invite-close")));
  expect(screen.queryByTestId("invite-dialog")).toBeNull();
});

it("a team created while the first list is still on its way stays in the switcher", async () => {
  // The relay's first answer (no team yet) arrives only after the team was created and listed.
  let firstAnswer: (list: TeamMembership[]) => void = () => {};
  let asked = 0;
  teams = [];
  answers.teams = () => (++asked === 1 ? new Promise<TeamMembership[]>((resolve) => (firstAnswer = resolve)) : teams);
  answers.createTeam = () => {
    teams = [own];
    return { id: own.id, name: own.name };
  };
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  fireEvent.change(screen.getByTestId("new-team-name"), { target: { value: "Own team" } });
  await act(async () => void fireEvent.click(screen.getByTestId("create-team")));
  expect(Array.from(switcher().options, (o) => o.text)).toEqual(["Own team"]);

  await act(async () => firstAnswer([]));
  expect(Array.from(switcher().options, (o) => o.text)).toEqual(["Own team"]);
  expect(switcher().value).toBe(own.id);
});

it("signs out at once when the relay has everything, and drops the window's documents", async () => {
  const dropped = vi.fn();
  whenRepoMade(dropped, async () => true);
  const signedOut = vi.fn();
  await act(async () => void render(<Workspace user={me} onSignedOut={signedOut} />));
  await act(async () => void fireEvent.click(screen.getByTestId("sign-out")));
  expect(screen.queryByTestId("sign-out-confirm")).toBeNull();
  expect(calls).toContainEqual(["signOut"]);
  expect(signedOut).toHaveBeenCalledTimes(1);
  expect(dropped).toHaveBeenCalledTimes(1);
});

it("asks before signing out would lose unsent work, and staying keeps the sign-in", async () => {
  answers.status = { ...status, pending: 2, documents: { "automerge:a": "local_only" } };
  const signedOut = vi.fn();
  await act(async () => void render(<Workspace user={me} onSignedOut={signedOut} />));
  await act(async () => void fireEvent.click(screen.getByTestId("sign-out")));
  expect(screen.getByTestId("sign-out-unsent").textContent).toBe("2 changes not sent and 1 document with edits the relay has not got.");
  expect(document.activeElement).toBe(screen.getByTestId("sign-out-stay"));
  await act(async () => void fireEvent.click(screen.getByTestId("sign-out-stay")));
  expect(screen.queryByTestId("sign-out-confirm")).toBeNull();
  expect(calls.some(([name]) => name === "signOut")).toBe(false);
  expect(signedOut).not.toHaveBeenCalled();

  await act(async () => void fireEvent.click(screen.getByTestId("sign-out")));
  await act(async () => void fireEvent.click(screen.getByTestId("sign-out-anyway")));
  expect(calls).toContainEqual(["signOut"]);
  expect(signedOut).toHaveBeenCalledTimes(1);
});

it("a sign-in the relay ended drops the window's documents and the chat's drafts too", async () => {
  const dropped = vi.fn();
  whenRepoMade(dropped, async () => true);
  const signedOut = vi.fn();
  await act(async () => void render(<Workspace user={me} onSignedOut={signedOut} />));
  fireEvent.change(screen.getByTestId("composer"), { target: { value: "not for the next person" } });
  expect(draftOf(own.id).text).toBe("not for the next person");
  await act(async () => events.statusChanged.emit({ ...status, signed_in: false }));
  expect(signedOut).toHaveBeenCalledTimes(1);
  expect(dropped).toHaveBeenCalledTimes(1);
  expect(draftOf(own.id).text).toBe("");
});

it("a team renamed by someone else is renamed in the switcher at once", async () => {
  teams = [own, studio];
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  await act(async () => emitRoom(studio.id, { type: "team_renamed", team_id: studio.id, name: "Design studio" }));
  expect(Array.from(switcher().options, (o) => o.text)).toEqual(["Own team", "Design studio"]);
});

it("asks before signing out while an open document has not handed its latest edits to the node", async () => {
  whenRepoMade(() => {}, async () => false);
  const signedOut = vi.fn();
  await act(async () => void render(<Workspace user={me} onSignedOut={signedOut} />));
  await act(async () => void fireEvent.click(screen.getByTestId("sign-out")));
  expect(screen.getByTestId("sign-out-unsent").textContent).toBe("Edits in an open document have not reached this device's store yet.");
  expect(calls.some(([name]) => name === "signOut")).toBe(false);
});

it("asks from the node's status now, not the one last shown", async () => {
  const signedOut = vi.fn();
  await act(async () => void render(<Workspace user={me} onSignedOut={signedOut} />));
  answers.status = { ...status, pending: 1 }; // queued a moment ago; no status event shown yet
  await act(async () => void fireEvent.click(screen.getByTestId("sign-out")));
  expect(screen.getByTestId("sign-out-unsent").textContent).toBe("1 change not sent.");
});
