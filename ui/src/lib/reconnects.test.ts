// The count of the relay link's returns, which screens reload on.
import { act, cleanup, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Status } from "../bindings";
import { answers, events, reset } from "../testing/fakeBindings";
import { linkStatus } from "../testing/fixtures";
import { followLink, useReconnects } from "./reconnects";

vi.mock("../bindings", () => import("../testing/fakeBindings"));

let stop: () => void = () => {};
beforeEach(reset);
afterEach(() => {
  cleanup();
  stop();
});

it("counts each time the link comes back, not every status while online", async () => {
  answers.status = linkStatus("online");
  stop = await act(async () => followLink());
  const { result } = renderHook(() => useReconnects());
  const start = result.current;
  act(() => events.statusChanged.emit(linkStatus("online")));
  expect(result.current).toBe(start);
  act(() => events.statusChanged.emit(linkStatus("connecting")));
  act(() => events.statusChanged.emit(linkStatus("connecting")));
  expect(result.current).toBe(start);
  act(() => events.statusChanged.emit(linkStatus("online")));
  expect(result.current).toBe(start + 1);
  act(() => events.statusChanged.emit({ ...linkStatus("online"), pending: 2 }));
  expect(result.current).toBe(start + 1);
  act(() => events.statusChanged.emit(linkStatus("offline")));
  act(() => events.statusChanged.emit(linkStatus("online")));
  expect(result.current).toBe(start + 2);
});

it("takes a status event that comes before the asked-for status as the newer", async () => {
  let answer: (status: Status) => void = () => {};
  answers.status = () => new Promise<Status>((resolve) => (answer = resolve));
  stop = followLink();
  const { result } = renderHook(() => useReconnects());
  const start = result.current;
  act(() => events.statusChanged.emit(linkStatus("connecting")));
  // The answer was read before the event: it must not replace what the event said.
  await act(async () => answer(linkStatus("online")));
  act(() => events.statusChanged.emit(linkStatus("online")));
  expect(result.current).toBe(start + 1);
});

it("counts a return seen before the status it asked for answers", async () => {
  answers.status = () => new Promise(() => {});
  stop = followLink();
  const { result } = renderHook(() => useReconnects());
  const start = result.current;
  act(() => events.statusChanged.emit(linkStatus("connecting")));
  act(() => events.statusChanged.emit(linkStatus("online")));
  expect(result.current).toBe(start + 1);
});
