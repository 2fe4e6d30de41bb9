// Days named relative to today, told apart by the local calendar, times of day without seconds, full
// moments and dates as the locale writes them; one formatter per form, made again when the zone moves.
import { expect, it, vi } from "vitest";
import { briefMoment, calendarDate, dateTime, dayLabel, formatterCount, numericDate, sameDay, timeOfDay } from "./dates";

const now = new Date(2026, 11, 5, 9, 30);

it("names today and yesterday, and other days by weekday and date, with the year only when not this one", () => {
  expect(dayLabel(new Date(2026, 11, 5, 0, 1), now)).toBe("Today");
  expect(dayLabel(new Date(2026, 11, 4, 23, 59), now)).toBe("Yesterday");
  // ICU versions differ in punctuation ("Tuesday 1 December", "Tuesday, 1 December"): the parts are what count.
  const thisYear = dayLabel(new Date(2026, 11, 1, 12), now, "en-GB");
  expect(thisYear).toMatch(/^Tuesday,? 1 December$/);
  expect(dayLabel(new Date(2025, 11, 31, 12), now, "en-GB")).toMatch(/^Wednesday,? 31 December 2025$/);
});

it("tells days apart by the local calendar, not by 24 hours", () => {
  expect(sameDay(new Date(2026, 11, 5, 0, 0), new Date(2026, 11, 5, 23, 59))).toBe(true);
  expect(sameDay(new Date(2026, 11, 4, 23, 59), new Date(2026, 11, 5, 0, 0))).toBe(false);
});

it("gives the time of day without seconds", () => {
  expect(timeOfDay(new Date(2026, 11, 5, 14, 5, 33), "en-GB")).toBe("14:05");
  // ICU 72 and later write a narrow no-break space before "PM".
  expect(timeOfDay(new Date(2026, 11, 5, 14, 5, 33), "en-US")).toMatch(/^2:05\sPM$/);
});

it("writes a calendar date with the month in words", () => {
  expect(calendarDate(new Date(2026, 11, 5, 14), "en-GB")).toBe("5 December 2026");
});

it("writes a moment as toLocaleString does, a numeric date as toLocaleDateString, and a brief moment", () => {
  const at = new Date(2026, 11, 5, 14, 5, 33);
  for (const locale of ["en-GB", "en-US", "de-DE"]) {
    expect(dateTime(at, locale)).toBe(at.toLocaleString(locale));
    expect(numericDate(at, locale)).toBe(at.toLocaleDateString(locale));
  }
  expect(briefMoment(at, "en-GB")).toMatch(/^5 Dec,? 14:05$/);
});

it("makes each formatter once per locale, however many dates it writes (WebKit keeps each one's ICU memory)", () => {
  timeOfDay(new Date(), "fr-FR");
  const made = formatterCount();
  for (let minute = 0; minute < 500; minute++) {
    timeOfDay(new Date(2026, 11, 5, 9, minute), "fr-FR");
    dateTime(new Date(2026, 11, 5, 9, minute), "fr-FR");
  }
  expect(formatterCount()).toBe(made + 1);
});

it("makes them again when the machine's time zone changes", () => {
  timeOfDay(new Date(), "fr-FR");
  const made = formatterCount();
  const moved = vi.spyOn(Date.prototype, "getTimezoneOffset").mockReturnValue(new Date().getTimezoneOffset() + 60);
  timeOfDay(new Date(), "fr-FR");
  expect(formatterCount()).toBe(1);
  moved.mockRestore();
  timeOfDay(new Date(), "fr-FR");
  expect(formatterCount()).toBe(1);
  expect(made).toBeGreaterThanOrEqual(1);
});
