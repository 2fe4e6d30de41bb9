// When the node's link to the relay comes back. A screen that reads what only the relay has ("not
// available offline yet" until then) puts the count in its loading effect's dependencies, so that it loads
// once the relay answers, without the person leaving the screen and coming back.
import { useEffect, useState } from "react";
import { commands, events, type Link } from "../bindings";
import { call } from "./call";
import { subscribe } from "./events";

/** Counts the link's returns: the times it became "online" after being anything else while the screen was
 *  shown. Starts at 0; the first status seen only says where the link is. */
export function useReconnects(): number {
  const [count, setCount] = useState(0);
  useEffect(() => {
    let last: Link | null = null;
    const seen = (link: Link) => {
      if (link === "online" && last !== null && last !== "online") setCount((c) => c + 1);
      last = link;
    };
    // The status now, unless an event told it first.
    call(commands.status()).then(
      (status) => {
        if (last === null) last = status.link;
      },
      () => {},
    );
    return subscribe(events.statusChanged, (status) => seen(status.link));
  }, []);
  return count;
}
