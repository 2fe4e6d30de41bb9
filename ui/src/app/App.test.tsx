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

it("says another TeamFlow has the data open, and goes on once it is closed and the person tries again", async () => {
  failures.session = { kind: "data_in_use", path: "/home/bob/.local/share/teamflow/relays/relay.example" };
  answers.settings = { relay_url: "https://relay.example" };
  answers.session = me;
  answers.teams = [own];
  answers.status = linkStatus("online");
  await act(async () => void render(<App />));
  expect(screen.getByRole("heading", { level: 1 }).textContent).toBe("TeamFlow is already open");
  expect(screen.getByRole("alert").textContent).toBe(
    "Another TeamFlow on this device has this data open (/home/bob/.local/share/teamflow/relays/relay.example). Close it (its window, or the teamflow command), then try again.",
  );
  // Not the sign-in screen: the person is signed in, in the other one.
  expect(screen.queryByTestId("auth-submit")).toBeNull();
  // Tried again too soon: the same answer, counted.
  await act(async () => void fireEvent.click(screen.getByTestId("data-in-use-retry")));
  expect(screen.getByTestId("data-in-use").dataset.refused).toBe("2");

  // While a try is under way the button says so and takes no second click.
  delete failures.session;
  let answer: (user: typeof me) => void = () => {};
  answers.session = () => new Promise((resolve) => (answer = resolve));
  await act(async () => void fireEvent.click(screen.getByTestId("data-in-use-retry")));
  const retry = screen.getByTestId("data-in-use-retry") as HTMLButtonElement;
  expect([retry.textContent, retry.disabled]).toEqual(["Trying…", true]);
  await act(async () => answer(me));
  expect(screen.queryByTestId("data-in-use")).toBeNull();
  expect(screen.getByTestId("nav-activity")).toBeTruthy();
});

it("tells another failure on a later try as itself, not behind the already-open screen", async () => {
  failures.session = { kind: "data_in_use", path: "/data" };
  answers.settings = { relay_url: "https://relay.example" };
  await act(async () => void render(<App />));
  expect(screen.getByTestId("data-in-use")).toBeTruthy();
  failures.session = { kind: "local", message: "the store is unreadable" };
  await act(async () => void fireEvent.click(screen.getByTestId("data-in-use-retry")));
  expect(screen.queryByTestId("data-in-use")).toBeNull();
  expect(screen.getByText("the store is unreadable")).toBeTruthy();
});
