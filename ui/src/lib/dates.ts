// Dates as a person reads them in lists: a day named relative to today ("Today", "Yesterday", then the
// weekday and date), a time of day without seconds, a full moment and a calendar date, in the person's own
// locale and time zone.

const DAY_MS = 86_400_000;

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
  const options: Intl.DateTimeFormatOptions = { weekday: "long", day: "numeric", month: "long" };
  if (date.getFullYear() !== now.getFullYear()) options.year = "numeric";
  return date.toLocaleDateString(locale, options);
}

/** "14:05" or "2:05 PM", as the locale writes it. */
export function timeOfDay(date: Date, locale?: string): string {
  return date.toLocaleTimeString(locale, { hour: "numeric", minute: "2-digit" });
}

/** A moment in full, date and time, as the locale writes it: for a hover or a line that needs both. */
export function dateTime(at: string | Date, locale?: string): string {
  return new Date(at).toLocaleString(locale);
}

/** A calendar date with the month in words ("5 December 2026"). */
export function calendarDate(at: string | Date, locale?: string): string {
  return new Date(at).toLocaleDateString(locale, { day: "numeric", month: "long", year: "numeric" });
}
