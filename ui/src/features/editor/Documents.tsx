// The team's documents: the list (live as teammates rename, delete or restore), a new one, renaming and
// deleting with an Undo, the recently deleted ones to restore (the relay keeps them 30 days), and the open
// one in the editor.
import { type FormEvent, lazy, Suspense, useEffect, useRef, useState } from "react";
import { commands, type DocumentEntry, type TeamMembership, type User } from "../../bindings";
import { call, explain, messageOf } from "../../lib/call";
import { numericDate } from "../../lib/dates";
import { subscribeRoom } from "../../lib/events";
import { ErrorLine } from "../../lib/ErrorLine";
import { useLatest } from "../../lib/latest";
import { useReconnects } from "../../lib/reconnects";
import { useStatus } from "../sync/status";
import { applyDocumentFrame, checkTitle, mayDelete } from "./documentList";
import { RecentlyDeleted } from "./RecentlyDeleted";

// Automerge (its WebAssembly included) and ProseMirror load with the first document opened, not with the
// app: the sign-in screen and the chat start without them.
const loadEditor = () => import("./Editor");
const Editor = lazy(() => loadEditor().then((m) => ({ default: m.Editor })));

const REFUSALS = {
  forbidden: "Only admins, owners and the person who created a document may delete it.",
  gone: "That document was deleted meanwhile.",
  not_found: "That document is no longer there (deleted documents are kept 30 days).",
  offline: "Renaming and deleting need the relay; try again once connected.",
};

type Props = { team: TeamMembership; user: User; open: string | null; onOpen: (url: string | null) => void };

export function Documents({ team, user, open, onOpen }: Props) {
  const [documents, setDocuments] = useState<DocumentEntry[]>([]);
  const [title, setTitle] = useState("");
  // What an action met, and why the list could not be read (cleared by the next read that succeeds).
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  // Whether the list was ever read: only then can it say there are no documents.
  const [loaded, setLoaded] = useState(false);
  const [renaming, setRenaming] = useState<{ url: string; title: string } | null>(null);
  // The last deletion, offered for undo until dismissed or replaced by another.
  const [deleted, setDeleted] = useState<DocumentEntry | null>(null);
  const canWrite = team.role !== "viewer";

  // The document open here, deleted by a teammate: the relay no longer syncs it, so the editor stops taking
  // edits and says so (with its title, which leaves the list with it).
  const [goneWhileOpen, setGoneWhileOpen] = useState<DocumentEntry | null>(null);
  // What the screen shows, for the room's frames and the list's reads to compare with.
  const shown = useRef({ open, documents });
  shown.current = { open, documents };

  // Only the latest read says whether the list could be read.
  const latest = useLatest();
  const load = () =>
    latest(call(commands.documents(team.id))).then(
      (read) => {
        // Deleted while this device was away: no room frame told it, the list is the first to say.
        const was = shown.current.documents.find((d) => d.document_id === shown.current.open);
        if (was && !read.some((d) => d.document_id === was.document_id)) setGoneWhileOpen(was);
        setDocuments(read);
        setLoadError(null);
        setLoaded(true);
      },
      (e) => setLoadError(messageOf(e)),
    );
  // Read again once queued work is delivered, and when the relay is back.
  const reconnects = useReconnects();
  const delivered = useStatus((status) => status.pending === 0);
  useEffect(() => {
    void load();
  }, [team.id, delivered, reconnects]);
  // The list is where documents are opened from: fetch the editor's chunk while it is read.
  useEffect(() => {
    loadEditor().catch((e) => console.warn("the editor did not load ahead", e));
  }, []);
  useEffect(() => setGoneWhileOpen(null), [open]);
  useEffect(
    () =>
      subscribeRoom(team.id, (frame) => {
        if (frame.type === "document_deleted" && frame.document_id === shown.current.open) {
          setGoneWhileOpen(shown.current.documents.find((d) => d.document_id === frame.document_id) ?? null);
        }
        if (frame.type === "document_updated" && frame.document.document_id === shown.current.open) setGoneWhileOpen(null);
        setDocuments((list) => applyDocumentFrame(list, frame));
      }),
    [team.id],
  );

  async function create(e: FormEvent) {
    e.preventDefault();
    try {
      const url = await call(commands.createDocument(team.id, title));
      setTitle("");
      onOpen(url);
      void load();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function rename(e: FormEvent) {
    e.preventDefault();
    if (!renaming) return;
    const checked = checkTitle(renaming.title);
    if (!checked.ok) return setError(checked.reason);
    setError(null);
    try {
      const entry = await call(commands.renameDocument(team.id, renaming.url, checked.title));
      setDocuments((list) => applyDocumentFrame(list, { type: "document_updated", document: entry }));
      setRenaming(null);
    } catch (e) {
      setError(explain(e, REFUSALS));
    }
  }

  async function remove(entry: DocumentEntry) {
    setError(null);
    try {
      await call(commands.deleteDocument(team.id, entry.document_id));
      setDocuments((list) => applyDocumentFrame(list, { type: "document_deleted", team_id: team.id, document_id: entry.document_id }));
      setDeleted(entry);
    } catch (e) {
      setError(explain(e, REFUSALS));
    }
  }

  /** Restores a deleted document (Undo, or the banner of one deleted while open); true once the relay did. */
  async function restore(entry: DocumentEntry): Promise<boolean> {
    try {
      const restored = await call(commands.restoreDocument(team.id, entry.document_id));
      setDocuments((list) => applyDocumentFrame(list, { type: "document_updated", document: restored }));
      return true;
    } catch (e) {
      setError(explain(e, REFUSALS));
      return false;
    }
  }

  async function undo() {
    if (deleted && (await restore(deleted))) setDeleted(null);
  }

  async function restoreGone() {
    if (goneWhileOpen && (await restore(goneWhileOpen))) setGoneWhileOpen(null);
  }

  if (open) {
    const gone = goneWhileOpen?.document_id === open ? goneWhileOpen : null;
    const entry = gone ?? documents.find((d) => d.document_id === open);
    return (
      <>
        {gone && (
          <div className="notice banner" role="alert" data-testid="document-gone">
            “{gone.title}” was deleted by a teammate, so it no longer takes edits here.
            {mayDelete(team.role, user.id, gone) && (
              <button onClick={() => void restoreGone()} data-testid="restore-gone-document">
                Restore it
              </button>
            )}
            <button onClick={() => onOpen(null)}>Close</button>
          </div>
        )}
        {team.role === "viewer" && !gone && (
          <p className="empty view-only" data-testid="view-only">
            View only: as a viewer in {team.name} you can read this document, not change it.
          </p>
        )}
        <ErrorLine error={error} onDismiss={() => setError(null)} />
        <Suspense fallback={<p className="empty" data-testid="editor-loading">Loading the editor…</p>}>
          {/* Keyed by whether it is gone too: a deleted document's editor is drawn again, read-only. */}
          <Editor
            key={`${open}${gone ? " gone" : ""}`}
            url={open}
            title={entry?.title ?? "Untitled"}
            team={team.id}
            me={user.id}
            readOnly={team.role === "viewer" || gone !== null}
            onClose={() => onOpen(null)}
          />
        </Suspense>
      </>
    );
  }
  return (
    <section className="panel">
      <h2>Documents</h2>
      <ul className="documents" data-testid="documents">
        {documents.map((d) => (
          <li key={d.document_id} data-testid="document">
            {renaming?.url === d.document_id ? (
              <form className="title inline" onSubmit={rename} onKeyDown={(e) => e.key === "Escape" && setRenaming(null)}>
                <input
                  value={renaming.title}
                  onChange={(e) => setRenaming({ ...renaming, title: e.target.value })}
                  required
                  maxLength={200}
                  aria-label={`New title for ${d.title}`}
                  autoFocus
                  data-testid="rename-document-title"
                />
                <button type="submit" data-testid="save-document-title">
                  Save
                </button>
                <button type="button" onClick={() => setRenaming(null)}>
                  Cancel
                </button>
              </form>
            ) : (
              <button className="link title" onClick={() => onOpen(d.document_id)} data-testid="open-document">
                {d.title || "Untitled"}
              </button>
            )}
            <OnlyHere url={d.document_id} />
            <time dateTime={d.created_at}>{numericDate(d.created_at)}</time>
            {canWrite && renaming?.url !== d.document_id && (
              <button onClick={() => setRenaming({ url: d.document_id, title: d.title })} aria-label={`Rename ${d.title}`} data-testid="rename-document">
                Rename
              </button>
            )}
            {mayDelete(team.role, user.id, d) && (
              <button onClick={() => void remove(d)} aria-label={`Delete ${d.title}`} data-testid="delete-document">
                Delete
              </button>
            )}
          </li>
        ))}
      </ul>
      {loaded && documents.length === 0 && (
        <p className="empty" data-testid="documents-empty">
          {canWrite ? "No documents yet. Give your first one a title below and press New document." : "No documents yet. Members of the team can create them."}
        </p>
      )}
      {canWrite && (
        <form onSubmit={create} className="inline">
          <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Document title" aria-label="New document title" required maxLength={200} data-testid="document-title" />
          <button type="submit" data-testid="create-document">
            New document
          </button>
        </form>
      )}
      <ErrorLine error={error ?? loadError} onDismiss={() => (error ? setError(null) : setLoadError(null))} testId="documents-error" />
      {canWrite && (
        <RecentlyDeleted
          team={team}
          listed={documents.map((d) => d.document_id).join(" ")}
          onRestored={(restored) => {
            setDocuments((list) => applyDocumentFrame(list, { type: "document_updated", document: restored }));
            if (deleted?.document_id === restored.document_id) setDeleted(null);
          }}
        />
      )}
      {deleted && (
        <div className="toast" role="status" data-testid="document-deleted-toast">
          <span>
            Deleted “{deleted.title}”. Undo brings it back.
          </span>
          <button onClick={() => void undo()} data-testid="undo-delete-document">
            Undo
          </button>
          <button className="link" onClick={() => setDeleted(null)} aria-label="Dismiss">
            ✕
          </button>
        </div>
      )}
    </section>
  );
}

/** Marks a document the relay does not have yet (its own component: the status changes while one types). */
function OnlyHere({ url }: { url: string }) {
  const only = useStatus((status) => status.documents[url] === "local_only");
  return (
    only && (
      <span className="marker" data-testid="document-local">
        Only on this device
      </span>
    )
  );
}
