// The team's document list as the room changes it (renamed, deleted, restored), and who may delete what.
// Pure, so it is tested without a window.
import type { DocumentEntry, Role, ServerMessage, UserId } from "../../bindings";

/** The list after one room frame: a rename or restore shows the entry as given, a deletion drops it. */
export function applyDocumentFrame(list: DocumentEntry[], frame: ServerMessage): DocumentEntry[] {
  switch (frame.type) {
    case "document_updated": {
      const entry = frame.document;
      const at = list.findIndex((d) => d.document_id === entry.document_id);
      if (at >= 0) return list.map((d, i) => (i === at ? entry : d));
      return sortDocuments([...list, entry]);
    }
    case "document_deleted":
      return list.some((d) => d.document_id === frame.document_id) ? list.filter((d) => d.document_id !== frame.document_id) : list;
    default:
      return list;
  }
}

/** The relay's order: oldest first, ties by id. */
export function sortDocuments(list: DocumentEntry[]): DocumentEntry[] {
  return [...list].sort((a, b) => a.created_at.localeCompare(b.created_at) || a.document_id.localeCompare(b.document_id));
}

/** The relay's rule: admins and owners delete any document, members their own, viewers none. */
export function mayDelete(role: Role, me: UserId, entry: DocumentEntry): boolean {
  if (role === "owner" || role === "admin") return true;
  return role === "member" && entry.created_by === me;
}

/** A title as the relay will take it (trimmed, one line, 1 to 200 characters), or why not. */
export function checkTitle(title: string): { ok: true; title: string } | { ok: false; reason: string } {
  const trimmed = title.trim();
  if (trimmed.length === 0) return { ok: false, reason: "A title cannot be empty." };
  if (/[\r\n]/.test(trimmed)) return { ok: false, reason: "A title is one line." };
  if ([...trimmed].length > 200) return { ok: false, reason: "A title is at most 200 characters." };
  return { ok: true, title: trimmed };
}
