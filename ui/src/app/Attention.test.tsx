// The workspace tells the person when they are needed: unread counts in the team switcher and the title,
// cleared by a read on another device; a mention in a team not on screen notifies (natively and in the
// Notifications list, which opens its chat); a muted team does not; focusing after one opens its chat.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Message, ReadState, Status, TeamMembership, User } from "../bindings";
import { answers, calls, emitRoom, events, reset } from "../testing/fakeBindings";
import { userId } from "../testing/fixtures";
import { followLink } from "../lib/reconnects";
import { mentionToken } from "../features/chat/mentions";
import { Workspace } from "./Workspace";

vi.mock("../bindings", () => import("../testing/fakeBindings"));

const me: User = { id: userId(2), email: "bob@example.com", display_name: "Bob" };
const status: Status = { signed_in: true, credentials: null, link: "online", peers: [], pending: 0, failed: 0, documents: {} };
const home: TeamMembership = { id: "0190f1e2-0000-7000-8000-0000000000a1", name: "Home", role: "owner" };
const studio: TeamMembership = { id: "0190f1e2-0000-7000-8000-0000000000a2", name: "Studio", role: "member" };
const read = (team: string, read_seq: number, latest_seq: number, unread: number, mentions = 0): ReadState => ({ team_id: team, read_seq, latest_seq, unread, mentions });
const message = (team: string, seq: number, content: string, mentions: string[] = []): Message =>
  ({ id: `${team}-${seq}`, team_id: team, seq, author_id: userId(1), author_name: "Ada", client_id: `c${seq}`, kind: "text", content, mentions, created_at: "2026-12-01T10:00:00Z" }) as Message;

let muted: string[];
beforeEach(() => {
  reset();
  muted = [];
  answers.status = status;
  answers.teams = [home, studio];
  answers.readStates = [read(home.id, 0, 0, 0), read(studio.id, 1, 3, 2)];
  answers.notificationSettings = () => ({ every_message_unfocused: false, muted });
  answers.setTeamMuted = (team: string, on: boolean) => {
    muted = on ? [team] : [];
    return { every_message_unfocused: false, muted };
  };
});
afterEach(cleanup);

const labels = () => Array.from((screen.getByTestId("team-switcher") as HTMLSelectElement).options, (o) => o.text);

it("shows unread counts per team and the total, and clears them when read elsewhere", async () => {
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  expect(labels()).toEqual(["Home", "Studio (2)"]);
  expect(document.title).toBe("(2) TeamFlow");
  expect(calls).toContainEqual(["setUnreadTotal", 2]);
  expect(calls).toContainEqual(["joinTeam", studio.id]);
  act(() => emitRoom(studio.id, { type: "new_message", message: message(studio.id, 4, `hey ${mentionToken(me.id, "Bob")}`, [me.id]) }));
  expect(labels()).toEqual(["Home", "Studio (3, 1 @)"]);
  expect(screen.getByTestId("unread-Studio").textContent).toBe("Studio (3, 1 @)");
  act(() => emitRoom(studio.id, { type: "read_moved", state: read(studio.id, 4, 4, 0) }));
  expect(labels()).toEqual(["Home", "Studio"]);
  expect(document.title).toBe("TeamFlow");
  expect(screen.queryByTestId("unread-teams")).toBeNull();
});

it("notifies a mention in another team, lists it, and opens its chat from the list; a muted team stays quiet", async () => {
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  act(() => emitRoom(studio.id, { type: "new_message", message: message(studio.id, 4, `look ${mentionToken(me.id, "Bob")}`, [me.id]) }));
  expect(calls).toContainEqual(["notify", "Ada mentioned you in Studio", "look @Bob"]);
  expect(screen.getByTestId("notices-new").textContent).toBe("1");
  await act(async () => void fireEvent.click(screen.getByTestId("open-notifications")));
  await act(async () => void fireEvent.click(screen.getByTestId("notice")));
  expect((screen.getByTestId("team-switcher") as HTMLSelectElement).value).toBe(studio.id);
  expect(screen.queryByTestId("notifications-dialog")).toBeNull();

  await act(async () => void fireEvent.click(screen.getByTestId("open-notifications")));
  await act(async () => void fireEvent.click(screen.getByTestId("mute-Home")));
  expect(calls).toContainEqual(["setTeamMuted", home.id, true]);
  const before = calls.filter((c) => c[0] === "notify").length;
  act(() => emitRoom(home.id, { type: "new_message", message: message(home.id, 1, `psst ${mentionToken(me.id, "Bob")}`, [me.id]) }));
  expect(calls.filter((c) => c[0] === "notify").length).toBe(before);
  expect(labels()[0]).toBe("Home (1, 1 @)");
});

it("opens the conversation of a notification that came while the window was in the background", async () => {
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  act(() => void window.dispatchEvent(new Event("blur")));
  act(() => emitRoom(studio.id, { type: "new_message", message: message(studio.id, 4, `hi ${mentionToken(me.id, "Bob")}`, [me.id]) }));
  expect((screen.getByTestId("team-switcher") as HTMLSelectElement).value).toBe(home.id);
  await act(async () => void window.dispatchEvent(new Event("focus")));
  expect((screen.getByTestId("team-switcher") as HTMLSelectElement).value).toBe(studio.id);
});

it("counts what arrived while the device was away once the link returns", async () => {
  answers.status = { ...status, link: "offline" };
  // The app follows the link's returns from its start (`App`); here, before the workspace.
  const stopLink = await act(async () => followLink());
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  expect(labels()).toEqual(["Home", "Studio (2)"]);
  // Five more in Studio, one naming Bob, while the device was offline: no room frame brought them.
  answers.readStates = [read(home.id, 0, 0, 0), read(studio.id, 1, 8, 7, 1)];
  await act(async () => events.statusChanged.emit({ ...status, link: "online" }));
  expect(labels()).toEqual(["Home", "Studio (7, 1 @)"]);
  expect(document.title).toBe("(7) TeamFlow");
  stopLink();
});

it("reads no counts again for a reaction, only for an edit", async () => {
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  const posted = message(studio.id, 4, "lunch?");
  act(() => emitRoom(studio.id, { type: "new_message", message: posted }));
  act(() => emitRoom(studio.id, { type: "message_changed", message: { ...posted, reactions: [{ emoji: "👍", user_ids: [me.id] }] } }));
  expect(calls.filter(([name]) => name === "readState")).toEqual([]);
  const edited = { ...posted, content: `lunch? ${mentionToken(me.id, "Bob")}`, mentions: [me.id], edited_at: "2026-12-06T10:00:00Z" };
  await act(async () => emitRoom(studio.id, { type: "message_changed", message: edited }));
  expect(calls.filter(([name]) => name === "readState")).toEqual([["readState", studio.id]]);
  // A reaction on it afterwards is one more reaction, not an edit.
  await act(async () => emitRoom(studio.id, { type: "message_changed", message: { ...edited, reactions: [{ emoji: "🎉", user_ids: [me.id] }] } }));
  expect(calls.filter(([name]) => name === "readState")).toHaveLength(1);
});

it("takes a deleted message's notice away and counts the team again, once for a burst of changes", async () => {
  await act(async () => void render(<Workspace user={me} onSignedOut={() => {}} />));
  const mention = message(studio.id, 4, `look ${mentionToken(me.id, "Bob")}`, [me.id]);
  act(() => emitRoom(studio.id, { type: "new_message", message: mention }));
  expect(labels()).toEqual(["Home", "Studio (3, 1 @)"]);
  let answer: (state: ReadState) => void = () => {};
  answers.readState = () => new Promise<ReadState>((resolve) => (answer = resolve));
  act(() => {
    emitRoom(studio.id, { type: "message_changed", message: { ...mention, content: "", mentions: [], deleted: true } });
    emitRoom(studio.id, { type: "message_changed", message: { ...message(studio.id, 3, ""), deleted: true } });
    emitRoom(studio.id, { type: "message_changed", message: { ...message(studio.id, 2, ""), deleted: true } });
  });
  expect(calls.filter(([name]) => name === "readState")).toEqual([["readState", studio.id]]);
  await act(async () => answer(read(studio.id, 1, 4, 1)));
  expect(labels()).toEqual(["Home", "Studio (1)"]);
  // The changes that came while it was read are counted by one more read.
  expect(calls.filter(([name]) => name === "readState")).toHaveLength(2);
  await act(async () => answer(read(studio.id, 1, 4, 0)));
  expect(labels()).toEqual(["Home", "Studio"]);
  expect(calls.filter(([name]) => name === "readState")).toHaveLength(2);
  await act(async () => void fireEvent.click(screen.getByTestId("open-notifications")));
  expect(screen.queryByTestId("notice")).toBeNull();
});
