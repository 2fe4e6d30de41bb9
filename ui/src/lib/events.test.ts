// Following state read by a command and reported by an event: nothing sent while the listener is being
// registered is missed, and a read answered after a newer event does not put the older value back.
import { expect, it } from "vitest";
import { follow } from "./events";

/** An event whose listener registration completes when the test says, as Tauri's crosses to Rust. */
function lateEvent<T>() {
  let handler: ((event: { payload: T }) => void) | null = null;
  let registered: () => void = () => {};
  const registration = new Promise<void>((resolve) => (registered = resolve));
  return {
    listen(h: (event: { payload: T }) => void) {
      return registration.then(() => {
        handler = h;
        return () => void (handler = null);
      });
    },
    register: () => registered(),
    emit: (payload: T) => handler?.({ payload }),
  };
}

function deferred<T>() {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

it("reads only once the listener is registered, and keeps an event over a read answered after it", async () => {
  const event = lateEvent<string>();
  const answer = deferred<string>();
  let reads = 0;
  const seen: [string, boolean][] = [];
  const stop = follow(
    event,
    () => {
      reads += 1;
      return answer.promise;
    },
    (value, fromEvent) => seen.push([value, fromEvent]),
  );
  await tick();
  expect(reads).toBe(0); // a read now could be answered before an event the listener would miss

  event.register();
  await tick();
  expect(reads).toBe(1);
  event.emit("online");
  answer.resolve("connecting"); // asked before the event: older
  await tick();
  expect(seen).toEqual([["online", true]]);

  stop();
  await tick();
  event.emit("offline");
  expect(seen).toEqual([["online", true]]);
});

it("shows the read when no event came", async () => {
  const event = lateEvent<string>();
  const seen: [string, boolean][] = [];
  follow(event, async () => "online", (value, fromEvent) => seen.push([value, fromEvent]));
  event.register();
  await tick();
  expect(seen).toEqual([["online", false]]);
});
