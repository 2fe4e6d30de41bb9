// An entry form is empty once sent, keeps what is typed while the answer is on its way, and gets back
// what was sent when sending fails (not over something typed since).
import { expect, it } from "vitest";
import { sendClearing } from "./entry";

function field(initial: string) {
  let value = initial;
  const set = (next: string | ((now: string) => string)) => {
    value = typeof next === "function" ? next(value) : next;
  };
  return { get: () => value, set, type: (more: string) => (value += more) };
}

it("clears at once, and what is typed while the answer comes stays", async () => {
  const task = field("Write the copy");
  let answer!: () => void;
  const sending = sendClearing([[task.get(), task.set]], () => new Promise<void>((resolve) => (answer = resolve)));
  expect(task.get()).toBe("");
  task.type("Pick the fonts");
  answer();
  await sending;
  expect(task.get()).toBe("Pick the fonts");
});

it("gives back what was sent when sending fails, unless something was typed since", async () => {
  const name = field("Website");
  const description = field("Relaunch");
  await expect(sendClearing([[name.get(), name.set], [description.get(), description.set]], () => Promise.reject(new Error("refused")))).rejects.toThrow("refused");
  expect([name.get(), description.get()]).toEqual(["Website", "Relaunch"]);

  const typed = field("Website");
  const failing = sendClearing([[typed.get(), typed.set]], async () => {
    typed.type("Shop");
    throw new Error("refused");
  });
  await expect(failing).rejects.toThrow("refused");
  expect(typed.get()).toBe("Shop");
});
