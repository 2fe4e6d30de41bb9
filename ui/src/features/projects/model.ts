// The projects feature's pure logic: checking a typed due date, showing a queued edit at once, and saying
// in words what each history entry means (who changed what, what a concurrent edit overwrote or lost).
import type { HistoryField, Member, Project, ProjectChange, ProjectPatch, UserId } from "../../bindings";

/** A due date as typed: empty clears it; otherwise it must be a real `YYYY-MM-DD` day. */
export function parseDueDate(text: string): { date: string | null } | { error: string } {
  const trimmed = text.trim();
  if (trimmed === "") return { date: null };
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(trimmed);
  if (!match) return { error: "Use the form YYYY-MM-DD, e.g. 2027-03-31." };
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return { error: `${trimmed} is not a day of the calendar.` };
  }
  return { date: trimmed };
}

/** The project as this window shows it right after queuing `patch` (the relay's answer follows). */
export function withPatch(project: Project, patch: ProjectPatch): Project {
  const next = { ...project };
  if (patch.name != null) next.name = patch.name;
  if (patch.description != null) next.description = patch.description;
  if (patch.status != null) next.status = patch.status;
  if (patch.owner_id !== undefined) next.owner_id = patch.owner_id;
  if (patch.due_date !== undefined) next.due_date = patch.due_date;
  if (patch.document_id !== undefined) next.document_id = patch.document_id;
  return next;
}

const FIELD_NAMES: Record<HistoryField, string> = {
  name: "name",
  description: "description",
  status: "status",
  document_id: "document",
  owner_id: "owner",
  due_date: "due date",
  task_title: "task title",
  task_done: "task",
  task_assignee_id: "task assignee",
  task_created: "task",
  task_deleted: "task",
};

type Names = ReadonlyMap<UserId, Member>;

function who(id: UserId, names: Names): string {
  return names.get(id)?.display_name ?? "Someone";
}

/** A stored value as a person reads it: people by name, done as a word, nothing as "none". */
function shown(field: HistoryField, value: string | null, names: Names): string {
  if (value === null || value === "") return "none";
  if (field === "owner_id" || field === "task_assignee_id") return names.get(value)?.display_name ?? "a former member";
  if (field === "task_done") return value === "true" ? "done" : "not done";
  return `“${value}”`;
}

/** One history entry in words; `taskTitles` names the task a task field belongs to, when it still exists. */
export function describeChange(change: ProjectChange, names: Names, taskTitles: ReadonlyMap<string, string> = new Map()): string {
  const by = who(change.changed_by, names);
  const title = change.task_id ? taskTitles.get(change.task_id) : undefined;
  const field = title === undefined ? FIELD_NAMES[change.field] : `${FIELD_NAMES[change.field]} “${title}”`;
  const [before, after] = [shown(change.field, change.old_value, names), shown(change.field, change.new_value, names)];
  switch (change.field) {
    case "task_created":
      return `${by} added the task ${after}`;
    case "task_deleted":
      return `${by} deleted the task ${before}`;
    default:
      break;
  }
  switch (change.outcome) {
    case "applied":
      return `${by} changed the ${field}: ${before} → ${after}`;
    case "overwrote":
      return `${by} changed the ${field} at the same time as someone else and won: ${before} was overwritten by ${after}`;
    case "lost":
      return `${by}'s edit of the ${field} lost to a concurrent one: ${after} was not kept, ${before} stays`;
  }
}
