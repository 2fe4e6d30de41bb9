// "Recently deleted": the team's deleted documents the person may bring back (admins and owners: all;
// members: their own), while the relay keeps them (30 days), with who deleted each and until when; Restore
// puts one back in the list. Read from the relay when opened, and again after each restore.
import { useEffect, useState } from "react";
import { commands, type DeletedDocument, type DocumentEntry, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { calendarDate } from "../../lib/dates";
import { ErrorLine } from "../../lib/ErrorLine";
import { useTeam } from "../../lib/team/store";

/**
 * `listed` changes whenever the team's list does (a deletion, an Undo, a teammate's restore): the open
 * panel reads again then.
 */
export function RecentlyDeleted({ team, listed, onRestored }: { team: TeamMembership; listed: string; onRestored: (entry: DocumentEntry) => void }) {
  const [list, setList] = useState<DeletedDocument[] | null>(null);
  const [showing, setShowing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const members = useTeam(team.id).members;

  async function read() {
    try {
      setList(await call(commands.deletedDocuments(team.id)));
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  useEffect(() => {
    if (showing) void read();
  }, [listed]);

  async function restore(item: DeletedDocument) {
    try {
      onRestored(await call(commands.restoreDocument(team.id, item.document.document_id)));
      await read();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <section className="recently-deleted" data-testid="recently-deleted">
      <button
        type="button"
        className="link"
        aria-expanded={showing}
        onClick={() => {
          setShowing(!showing);
          if (!showing) void read();
        }}
        data-testid="show-deleted"
      >
        {showing ? "Hide recently deleted" : "Recently deleted"}
      </button>
      {showing && list?.length === 0 && <p className="empty">Nothing deleted that you can bring back.</p>}
      {showing && list && list.length > 0 && (
        <ul className="documents deleted">
          {list.map((item) => (
            <li key={item.document.document_id} data-testid="deleted-document">
              <span className="title">{item.document.title || "Untitled"}</span>
              <span className="marker">
                Deleted {calendarDate(item.deleted_at)}
                {item.deleted_by && ` by ${members.get(item.deleted_by)?.display_name ?? "a former member"}`}; kept until {calendarDate(item.restorable_until)}
              </span>
              <button onClick={() => void restore(item)} aria-label={`Restore ${item.document.title || "Untitled"}`} data-testid="restore-deleted">
                Restore
              </button>
            </li>
          ))}
        </ul>
      )}
      {showing && <ErrorLine error={error} onDismiss={() => setError(null)} />}
    </section>
  );
}
