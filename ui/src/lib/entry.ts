// Forms that add entries one after another (tasks, projects): their inputs are cleared as soon as the form
// is sent, so what is typed next starts the next entry, instead of running on from the last one and being
// wiped with it when the answer comes; if sending fails, what was sent comes back, unless something was
// typed since.
import type { Dispatch, SetStateAction } from "react";

export type Field = [sent: string, set: Dispatch<SetStateAction<string>>];

export async function sendClearing<T>(fields: Field[], send: () => Promise<T>): Promise<T> {
  for (const [, set] of fields) set("");
  try {
    return await send();
  } catch (e) {
    for (const [sent, set] of fields) set((now) => (now === "" ? sent : now));
    throw e;
  }
}
