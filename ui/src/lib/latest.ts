// Overlapping reads of one thing, of which only the latest may show: an earlier read answering late (a
// failure offline after a later read succeeded online, say) must not replace what the later one showed.
import { useRef } from "react";

/** `latest(read)` settles as `read` does if no later read was started through it meanwhile, and never
 *  otherwise. */
export function useLatest(): <T>(read: Promise<T>) => Promise<T> {
  const started = useRef(0);
  return <T>(read: Promise<T>) => {
    const mine = ++started.current;
    return new Promise<T>((resolve, reject) => {
      read.then(
        (value) => mine === started.current && resolve(value),
        (error: unknown) => mine === started.current && reject(error),
      );
    });
  };
}
