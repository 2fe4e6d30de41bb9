// Dates as a person reads them in lists: a day named relative to today ("Today", "Yesterday", then the
// weekday and date), a time of day without seconds, a full moment, a calendar date (in words or numbers)
// and a brief moment, in the person's own locale and time zone.
//
// Each form has one formatter, made once per locale: `toLocaleTimeString(locale, options)` makes a new
// ICU formatter on every call, and in WebKit each costs native memory the garbage collector does not see
// (a chat of 200 messages, drawn a few times, held 225 MiB of the web process: docs/benchmarks.md).

const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
// A formatter keeps the time zone it was made in: when the machine's current offset from UTC changes (a
// flight, say; summer time changes it too, harmlessly), they are made again. A move to another zone with
// the same offset today goes unseen until the next start.
let madeAtOffset: number | null = null;

/** The one formatter for this form and locale (the person's own when none is given). */
function formatter(form: string, locale: string | undefined, options: Intl.DateTimeFormatOptions | undefined): Intl.DateTimeFormat {
  const offset = new Date().getTimezoneOffset();
  if (offset !== madeAtOffset) {
    formatters.clear();
    madeAtOffset = offset;
  }
  const key = `${form}\u0000${locale ?? ""}`;
  let made = formatters.get(key);
  if (!made) {
    made = new Intl.DateTimeFormat(locale, options);
    formatters.set(key, made);
  }
  return made;
}

/** How many formatters exist (for the test that they are made once). */
export const formatterCount = () => formatters.size;

/** The start of `date`'s day, in local time. */
function startOfDay(date: Date): number {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime();
}

/** Whether `a` and `b` fall on the same local day. */
export function sameDay(a: Date, b: Date): boolean {
  return startOfDay(a) === startOfDay(b);
}

/** "Today", "Yesterday", or the weekday and date ("Monday, 1 December", with the year when not this one). */
export function dayLabel(date: Date, now = new Date(), locale?: string): string {
  const days = Math.round((startOfDay(now) - startOfDay(date)) / DAY_MS);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  const otherYear = date.getFullYear() !== now.getFullYear();
  const options: Intl.DateTimeFormatOptions = { weekday: "long", day: "numeric", month: "long", ...(otherYear && { year: "numeric" }) };
  return formatter(otherYear ? "day-with-year" : "day", locale, options).format(date);
}

/** "14:05" or "2:05 PM", as the locale writes it. */
export function timeOfDay(date: Date, locale?: string): string {
  return formatter("time", locale, { hour: "numeric", minute: "2-digit" }).format(date);
}

/** A moment in full, date and time, as the locale writes it: for a hover or a line that needs both. */
export function dateTime(at: string | number | Date, locale?: string): string {
  // `toLocaleString`'s own fields (ECMA-402's defaults for a date and a time): all numeric.
  return formatter("moment", locale, { year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" }).format(new Date(at));
}

/** A calendar date with the month in words ("5 December 2026"). */
export function calendarDate(at: string | Date, locale?: string): string {
  return formatter("calendar", locale, { day: "numeric", month: "long", year: "numeric" }).format(new Date(at));
}

/** A calendar date in numbers ("05/12/2026"), as the locale writes it. */
export function numericDate(at: string | Date, locale?: string): string {
  return formatter("numeric-date", locale, { year: "numeric", month: "numeric", day: "numeric" }).format(new Date(at));
}

/** A day and a time without the year ("5 Dec, 14:05"): when something nearby ends. */
export function briefMoment(at: string | Date, locale?: string): string {
  return formatter("brief", locale, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }).format(new Date(at));
}
