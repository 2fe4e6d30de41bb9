// Links the app was opened with: the one it started with is taken once the listener is in place, each later
// one when the shell says so; relay addresses compare as the same however they were written.
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { OpenedLink } from "../bindings";
import { answers, calls, events, reset } from "../testing/fakeBindings";
import { inviteLink } from "../testing/fixtures";
import { followOpenedLinks, sameRelay } from "./openedLinks";

vi.mock("../bindings", () => import("../testing/fakeBindings"));

beforeEach(reset);
afterEach(() => vi.useRealTimers());

it("hands on the link the app started with, then each one the shell announces", async () => {
  const first: OpenedLink = { kind: "invitation", link: inviteLink(1) };
  const second: OpenedLink = { kind: "invitation", link: inviteLink(2) };
  answers.takeOpenedLink = first;
  const onLink = vi.fn();
  const stop = followOpenedLinks(onLink);
  await vi.waitFor(() => expect(onLink).toHaveBeenCalledWith(first));
  answers.takeOpenedLink = second;
  events.linkOpened.emit(null);
  await vi.waitFor(() => expect(onLink).toHaveBeenLastCalledWith(second));
  // Nothing left to take: nothing is handed on.
  answers.takeOpenedLink = null;
  events.linkOpened.emit(null);
  await vi.waitFor(() => expect(calls.filter(([name]) => name === "takeOpenedLink")).toHaveLength(3));
  expect(onLink).toHaveBeenCalledTimes(2);
  stop();
  await Promise.resolve();
  events.linkOpened.emit(null);
  expect(calls.filter(([name]) => name === "takeOpenedLink")).toHaveLength(3);
});

it("compares relay addresses as the same relay whatever their case or trailing slash", () => {
  expect(sameRelay("https://Relay.example.com/", "https://relay.example.com")).toBe(true);
  expect(sameRelay("http://127.0.0.1:8080", "http://127.0.0.1:8081")).toBe(false);
  expect(sameRelay("https://relay.example.com/team", "https://relay.example.com")).toBe(false);
});
