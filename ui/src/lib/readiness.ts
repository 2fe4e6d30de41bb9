// Marks the first frame a screen is ready for input, as a User Timing mark (`performance.mark`): the desktop
// footprint benchmark reads it to time a cold start from the app's process start to an interactive form.

/** Marks `name` once, in the frame that draws the screen that called it. */
export function markReady(name: string): void {
  requestAnimationFrame(() => {
    if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
  });
}

/** The mark a cold start is timed to: the sign-in form, drawn and ready for input. */
export const SIGN_IN_READY = "teamflow:sign-in-ready";
