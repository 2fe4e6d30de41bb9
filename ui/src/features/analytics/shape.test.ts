// Ranges as the relay takes them, the charts' series, and the summaries read out in their place.
import { expect, it } from "vitest";
import type { Analytics } from "../../bindings";
import { customRange, messageSeries, presetRange, serviceSeries, statusSeries, summaries } from "./shape";

const analytics: Analytics = {
  from: "2026-11-28",
  to: "2026-11-30",
  messages_per_day: [
    { date: "2026-11-28", count: 2 },
    { date: "2026-11-29", count: 0 },
    { date: "2026-11-30", count: 5 },
  ],
  total_messages: 7,
  active_members: 2,
  member_count: 3,
  projects_by_status: { planned: 1, active: 2, paused: 0, completed: 0, archived: 0 },
  activity_by_service: { github: 4, slack: 0, trello: 1 },
};

it("presets end today and count today in", () => {
  const today = new Date("2026-12-01T23:30:00Z");
  expect(presetRange(7, today)).toEqual({ from: "2026-11-25", to: "2026-12-01" });
  expect(presetRange(30, today)).toEqual({ from: "2026-11-02", to: "2026-12-01" });
  expect(presetRange(90, new Date("2026-03-01T00:00:00Z"))).toEqual({ from: "2025-12-02", to: "2026-03-01" });
});

it("typed ranges must be real dates, in order, at most 366 days", () => {
  expect(customRange("2026-01-01", "2026-01-31")).toEqual({ ok: true, range: { from: "2026-01-01", to: "2026-01-31" } });
  expect(customRange("2026-02-30", "2026-03-01").ok).toBe(false);
  expect(customRange("", "2026-03-01").ok).toBe(false);
  expect(customRange("2026-03-02", "2026-03-01").ok).toBe(false);
  expect(customRange("2025-01-01", "2026-01-01").ok).toBe(true);
  expect(customRange("2025-01-01", "2026-01-02").ok).toBe(false);
});

it("series follow the relay's days and name every status and service, zero or not", () => {
  expect(messageSeries(analytics).map((b) => b.value)).toEqual([2, 0, 5]);
  expect(serviceSeries(analytics)).toEqual([
    { label: "GitHub", value: 4 },
    { label: "Slack", value: 0 },
    { label: "Trello", value: 1 },
  ]);
  expect(statusSeries({ ...analytics, projects_by_status: { active: 3 } }).map((b) => b.value)).toEqual([0, 3, 0, 0, 0]);
});

it("each chart has a sentence saying what it shows", () => {
  const s = summaries(analytics);
  expect(s.messages).toBe("7 messages from 2026-11-28 to 2026-11-30; the busiest day was 2026-11-30 with 5.");
  expect(s.services).toBe("5 events from connected services: GitHub 4, Slack 0, Trello 1.");
  expect(s.statuses).toBe("3 projects: 1 planned, 2 active.");
  const quiet = summaries({ ...analytics, total_messages: 0, messages_per_day: [{ date: "2026-11-28", count: 0 }], activity_by_service: {}, projects_by_status: {} });
  expect([quiet.messages, quiet.services, quiet.statuses]).toEqual([
    "0 messages from 2026-11-28 to 2026-11-30; no messages on any day.",
    "No activity from connected services in this range.",
    "No projects yet.",
  ]);
});
