// Waiting for a condition that events make true, with a limit: the one shape of the editor's waits
// (the node's status, the node's confirmation of the window's heads).

/// Resolves true as soon as `ready()` holds (now, or after any of the calls `watch` makes to the callback
/// it is given), or false after `timeoutMs`. `watch` answers its cleanup, which runs either way.
export function when(ready: () => boolean, watch: (recheck: () => void) => () => void, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (ready()) return resolve(true);
    const done = (result: boolean) => {
      clearTimeout(timer);
      stop();
      resolve(result);
    };
    const stop = watch(() => {
      if (ready()) done(true);
    });
    const timer = setTimeout(() => done(false), timeoutMs);
  });
}
