// The app follows the link from its start, before the workspace and its screens: a screen that could not
// read its data while the link was connecting reads it again when the link comes back, even when the link
// comes back while the workspace's own reads of the status are not answered yet.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Status, TeamMembership, User } from "../bindings";
import { answers, events, failures, reset } from "../testing/fakeBindings";
import { forgetRepo } from "../features/editor/lifetime";
import { linkStatus, pendingInvitation, userId } from "../testing/fixtures";
import { App } from "./App";

vi.mock("../bindings", () => import("../testing/fakeBindings"));

const me: User = { id: userId(2), email: "bob@example.com", display_name: "Bob" };
const own: TeamMembership = { id: pendingInvitation(9).team_id, name: "Own team", role: "owner" };

beforeEach(reset);
afterEach(() => {
  cleanup();
  forgetRepo();
});

it("counts a return of the link that comes while the workspace starts", async () => {
  let signedIn!: (user: User) => void;
  answers.session = new Promise<User>((resolve) => (signedIn = resolve));
  answers.settings = { relay_url: "https://relay.example" };
  answers.teams = [own];
  // Before the sign-in is known the link is connecting; the workspace's own reads of the status are
  // answered only once the link is back (`later`), as when the node is busy with the connection.
  let later!: (status: Status) => void;
  const slow = new Promise<Status>((resolve) => (later = resolve));
  let known = false;
  answers.status = () => (known ? slow : linkStatus("connecting"));
  failures.activity = { kind: "not_cached" };
  await act(async () => void render(<App />));

  known = true;
  await act(async () => signedIn(me));
  await act(async () => void fireEvent.click(screen.getByTestId("nav-activity")));
  expect(screen.getByText("Not available offline yet: connect once to fetch it.")).toBeTruthy();

  delete failures.activity;
  await act(async () => events.statusChanged.emit(linkStatus("online")));
  await act(async () => later(linkStatus("online")));
  expect(screen.queryByText("Not available offline yet: connect once to fetch it.")).toBeNull();
});
