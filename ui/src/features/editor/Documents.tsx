// The team's documents: the list, a new one, and the open one in the editor.
import { type FormEvent, useEffect, useState } from "react";
import { commands, type DocumentEntry, type Status, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { Editor } from "./Editor";

export function Documents(props: { team: TeamMembership; status: Status; open: string | null; onOpen: (url: string | null) => void }) {
  const { team, status, open, onOpen } = props;
  const [documents, setDocuments] = useState<DocumentEntry[]>([]);
  const [title, setTitle] = useState("");
  const [error, setError] = useState<string | null>(null);

  const load = () => call(commands.documents(team.id)).then(setDocuments, (e) => setError(messageOf(e)));
  useEffect(() => {
    void load();
  }, [team.id, status.pending === 0]);

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

  if (open) {
    const entry = documents.find((d) => d.document_id === open);
    return <Editor key={open} url={open} title={entry?.title ?? "Untitled"} status={status} readOnly={team.role === "viewer"} onClose={() => onOpen(null)} />;
  }
  return (
    <section className="panel">
      <h2>Documents</h2>
      <ul className="documents" data-testid="documents">
        {documents.map((d) => (
          <li key={d.document_id}>
            <button className="link" onClick={() => onOpen(d.document_id)} data-testid="open-document">
              {d.title || "Untitled"}
            </button>
            <time dateTime={d.created_at}>{new Date(d.created_at).toLocaleDateString()}</time>
          </li>
        ))}
      </ul>
      {documents.length === 0 && <p className="empty">No documents yet.</p>}
      {team.role !== "viewer" && (
        <form onSubmit={create} className="inline">
          <input value={title} onChange={(e) => setTitle(e.target.value)} placeholder="Document title" required data-testid="document-title" />
          <button type="submit" data-testid="create-document">
            New document
          </button>
        </form>
      )}
      {error && <p className="error">{error}</p>}
    </section>
  );
}
