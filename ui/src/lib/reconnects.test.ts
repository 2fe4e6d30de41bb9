// The count of the relay link's returns, which screens reload on.
import { act, cleanup, renderHook } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { Link, Status } from "../bindings";
import { answers, events, reset } from "../testing/fakeBindings";
import { useReconnects } from "./reconnects";

vi.mock("../bindings", () => import("../testing/fakeBindings"));

const status = (link: Link) => ({ signed_in: true, link, peers: [], pending: 0, failed: 0, documents: {}, credentials: null }) as Status;

beforeEach(reset);
afterEach(cleanup);

it("counts each time the link comes back, not every status while online", async () => {
  answers.status = status("online");
  const { result } = await act(async () => renderHook(() => useReconnects()));
  act(() => events.statusChanged.emit(status("online")));
  expect(result.current).toBe(0);
  act(() => events.statusChanged.emit(status("connecting")));
  act(() => events.statusChanged.emit(status("connecting")));
  expect(result.current).toBe(0);
  act(() => events.statusChanged.emit(status("online")));
  expect(result.current).toBe(1);
  act(() => events.statusChanged.emit({ ...status("online"), pending: 2 }));
  expect(result.current).toBe(1);
  act(() => events.statusChanged.emit(status("offline")));
  act(() => events.statusChanged.emit(status("online")));
  expect(result.current).toBe(2);
});

it("counts a return seen before the status it asked for answers", async () => {
  answers.status = () => new Promise(() => {});
  const { result } = await act(async () => renderHook(() => useReconnects()));
  act(() => events.statusChanged.emit(status("connecting")));
  act(() => events.statusChanged.emit(status("online")));
  expect(result.current).toBe(1);
});
