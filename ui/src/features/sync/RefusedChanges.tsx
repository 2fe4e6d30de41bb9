// "Refused by the relay": every queued change the relay turned down (a message or a change of one, a
// document's registration, a project or task edit, a new project), with its reason, to send again or let go. Opened from the sync
// indicator while it says "Needs attention"; the chat also offers its own messages' Retry and Discard.
import { useEffect, useState } from "react";
import { commands, events, type OutboxEntry, type OutboxKind, type TeamMembership } from "../../bindings";
import { plainText } from "../chat/mentions";
import { call, messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { follow } from "../../lib/events";
import { useLatest } from "../../lib/latest";

const KIND: Record<OutboxKind, string> = {
  message: "Message",
  document: "New document",
  project_create: "New project",
  project_update: "Project edit",
  project_patch: "Project edit",
  task_create: "New task",
  task_update: "Task edit",
  task_delete: "Task deletion",
  read: "Read position",
  message_edit: "Message edit",
  message_delete: "Message deletion",
  reaction: "Reaction",
};

/** The refused entries of an outbox, oldest first (the outbox's own order). */
export function refusedOf(outbox: OutboxEntry[]): OutboxEntry[] {
  return outbox.filter((entry) => entry.state === "failed");
}

export function RefusedChanges({ teams, onClose }: { teams: TeamMembership[]; onClose: () => void }) {
  const [refused, setRefused] = useState<OutboxEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const teamName = (id: string) => teams.find((t) => t.id === id)?.name ?? "a team you left";

  // Read again whenever the node's counts move (a retry delivered, or refused again); only the latest read
  // shows.
  const latest = useLatest();
  const load = () => latest(call(commands.outbox())).then((list) => setRefused(refusedOf(list)), (e) => setError(messageOf(e)));
  // Listening first, then reading: a change while the listener registers is not missed.
  useEffect(
    () =>
      follow(
        events.statusChanged,
        () => call(commands.status()),
        () => void load(),
      ),
    [],
  );

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  async function act(what: Promise<unknown>) {
    setError(null);
    try {
      await what;
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <section className="dialog" role="dialog" aria-modal="true" aria-labelledby="refused-title" data-testid="refused-changes">
        <header>
          <h2 id="refused-title">Refused by the relay</h2>
          <button type="button" className="close" onClick={onClose} aria-label="Close" data-testid="refused-close">
            ×
          </button>
        </header>
        <p className="empty">These changes were not accepted, so your team does not have them. Send one again once its reason is dealt with, or discard it.</p>
        {refused?.length === 0 && <p data-testid="refused-none">Nothing is refused now.</p>}
        <ul className="refused">
          {refused?.map((entry) => (
            <li key={entry.client_id} data-testid="refused-change">
              <span className="what">
                <span>
                  <strong>{KIND[entry.kind]}</strong> in {teamName(entry.team_id)}: {entry.kind === "message" ? plainText(entry.content) : entry.content}
                </span>
                <small data-testid="refused-reason">{entry.error ?? entry.error_code ?? "refused"}</small>
              </span>
              <button type="button" onClick={() => void act(call(commands.retry(entry.client_id)))} data-testid="refused-retry">
                Retry
              </button>
              <button type="button" onClick={() => void act(call(commands.discard(entry.client_id)))} data-testid="refused-discard">
                Discard
              </button>
            </li>
          ))}
        </ul>
        <ErrorLine error={error} testId="refused-error" />
      </section>
    </div>
  );
}
