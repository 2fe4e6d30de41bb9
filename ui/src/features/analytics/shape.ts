// The analytics screen's data: the range asked for (7, 30 or 90 days, or two dates), the relay's answer
// turned into chart series, and the sentences that stand in for each chart for screen readers.
import type { Analytics, ProjectStatus, Service } from "../../bindings";

export type Preset = 7 | 30 | 90;
export type Range = { from: string; to: string };

export const PRESETS: Preset[] = [7, 30, 90];
export const STATUSES: ProjectStatus[] = ["planned", "active", "paused", "completed", "archived"];
export const SERVICES: Service[] = ["github", "slack", "trello"];
const SERVICE_NAMES: Record<Service, string> = { github: "GitHub", slack: "Slack", trello: "Trello" };
/** The relay's limit on one range. */
export const MAX_DAYS = 366;

/** `YYYY-MM-DD` of a date, in UTC (the relay counts days in UTC). */
export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The last `days` days up to and including `today`. */
export function presetRange(days: Preset, today: Date): Range {
  const from = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - (days - 1)));
  return { from: isoDay(from), to: isoDay(today) };
}

/** Two dates typed by a person, checked as the relay would: both real dates, in order, at most a year apart. */
export function customRange(from: string, to: string): { ok: true; range: Range } | { ok: false; reason: string } {
  const parse = (s: string) => (/^\d{4}-\d{2}-\d{2}$/.test(s) && isoDay(new Date(`${s}T00:00:00Z`)) === s ? Date.parse(`${s}T00:00:00Z`) : NaN);
  const [start, end] = [parse(from), parse(to)];
  if (Number.isNaN(start) || Number.isNaN(end)) return { ok: false, reason: "Choose both dates." };
  if (start > end) return { ok: false, reason: "The first date must not be after the last." };
  if ((end - start) / 86_400_000 + 1 > MAX_DAYS) return { ok: false, reason: `A range covers at most ${MAX_DAYS} days.` };
  return { ok: true, range: { from, to } };
}

export type Bar = { label: string; value: number };

export function messageSeries(a: Analytics): Bar[] {
  return a.messages_per_day.map((d) => ({ label: d.date, value: d.count }));
}

export function serviceSeries(a: Analytics): Bar[] {
  return SERVICES.map((s) => ({ label: SERVICE_NAMES[s], value: a.activity_by_service[s] ?? 0 }));
}

export function statusSeries(a: Analytics): Bar[] {
  return STATUSES.map((s) => ({ label: s[0].toUpperCase() + s.slice(1), value: a.projects_by_status[s] ?? 0 }));
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** One sentence per chart: what a sighted person takes from it at a glance. */
export function summaries(a: Analytics): { messages: string; services: string; statuses: string } {
  const days = a.messages_per_day;
  const busiest = days.reduce<(typeof days)[number] | null>((best, d) => (d.count > (best?.count ?? 0) ? d : best), null);
  const messages =
    `${plural(a.total_messages, "message", "messages")} from ${a.from} to ${a.to}` +
    (busiest ? `; the busiest day was ${busiest.date} with ${busiest.count}.` : "; no messages on any day.");
  const services = serviceSeries(a);
  const events = services.reduce((n, s) => n + s.value, 0);
  const servicesText =
    events === 0 ? "No activity from connected services in this range." : `${plural(events, "event", "events")} from connected services: ${services.map((s) => `${s.label} ${s.value}`).join(", ")}.`;
  const statuses = statusSeries(a);
  const projects = statuses.reduce((n, s) => n + s.value, 0);
  const statusesText =
    projects === 0 ? "No projects yet." : `${plural(projects, "project", "projects")}: ${statuses.filter((s) => s.value > 0).map((s) => `${s.value} ${s.label.toLowerCase()}`).join(", ")}.`;
  return { messages, services: servicesText, statuses: statusesText };
}
