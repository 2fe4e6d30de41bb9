// Of overlapping reads, only the latest settles.
import { renderHook } from "@testing-library/react";
import { expect, it } from "vitest";
import { useLatest } from "./latest";

function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

it("settles only the latest read, whichever answers first", async () => {
  const { result } = renderHook(() => useLatest());
  const seen: string[] = [];
  const [early, late] = [deferred<string>(), deferred<string>()];
  result.current(early.promise).then((v) => seen.push(`early ${v}`), () => seen.push("early failed"));
  result.current(late.promise).then((v) => seen.push(`late ${v}`), () => seen.push("late failed"));
  late.resolve("online");
  early.reject(new Error("offline"));
  await Promise.allSettled([early.promise, late.promise]);
  await new Promise((done) => setTimeout(done, 0));
  expect(seen).toEqual(["late online"]);

  const failing = deferred<string>();
  result.current(failing.promise).catch(() => seen.push("latest failed"));
  failing.reject(new Error("refused"));
  await new Promise((done) => setTimeout(done, 0));
  expect(seen).toEqual(["late online", "latest failed"]);
});
