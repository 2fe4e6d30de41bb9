// User Timing marks (`performance.mark`) the benchmarks read: the first frame a screen is ready for input (the
// desktop footprint benchmark times a cold start to the sign-in form by it), and the steps of opening a
// document (the window benchmark splits a large document's wait by them); and the phases of a keystroke,
// kept only while the window benchmark collects them.

/** Marks `name` once, in the frame that draws the screen that called it. */
export function markReady(name: string): void {
  requestAnimationFrame(() => {
    if (performance.getEntriesByName(name, "mark").length === 0) performance.mark(name);
  });
}

/** The mark a cold start is timed to: the sign-in form, drawn and ready for input. */
export const SIGN_IN_READY = "teamflow:sign-in-ready";

/** The steps of opening a document, in order; the window benchmark reads their marks to split the wait. */
const OPENING_STEPS = ["start", "preview-drawn", "node-opened", "saved-read", "imported", "checked", "converting", "converted", "warmed", "editor-drawn", "rehearsed"] as const;
export type OpeningStep = (typeof OPENING_STEPS)[number];

/** The opening's tasks that run on their own after the editor is drawn, each timed as it ends. */
const OPENING_TASKS = ["rehearsal"] as const;

/**
 * Marks a step of the document opening now in progress (`teamflow:open:<step>`); "start" forgets the marks
 * of the opening before, so they never pile up.
 */
export function markOpening(step: OpeningStep): void {
  if (step === "start") {
    for (const earlier of OPENING_STEPS) performance.clearMarks(`teamflow:open:${earlier}`);
    for (const earlier of OPENING_TASKS) performance.clearMeasures(`teamflow:open:${earlier}`);
  }
  performance.mark(`teamflow:open:${step}`);
}

/** Times a task of the document opening now in progress, from `start` (`performance.now()`) until now. */
export function measureOpening(task: (typeof OPENING_TASKS)[number], start: number): void {
  performance.measure(`teamflow:open:${task}`, { start, end: performance.now() });
}

/**
 * Records how long the editor's parts of one keystroke took (milliseconds by phase), only while a benchmark
 * collects them: it sets `window.__teamflowKeys` to an array, and reads it back. Otherwise nothing is kept.
 */
export function recordKeyPhases(phases: Record<string, number>): void {
  const sink = (globalThis as { __teamflowKeys?: unknown }).__teamflowKeys;
  if (Array.isArray(sink)) sink.push(phases);
}
