// The document list under room frames, the delete rule and title checks.
import { expect, it } from "vitest";
import type { DocumentEntry } from "../../bindings";
import { applyDocumentFrame, checkTitle, mayDelete } from "./documentList";

const TEAM = "00000000-0000-4000-8000-000000000001";
const ME = "00000000-0000-4000-8000-0000000000aa";
const OTHER = "00000000-0000-4000-8000-0000000000bb";

function doc(n: number, title = `Doc ${n}`, by = ME): DocumentEntry {
  return { document_id: `automerge:doc${n}`, team_id: TEAM, title, project_id: null, created_by: by, created_at: `2026-12-0${n}T10:00:00Z` };
}

it("a rename replaces the entry in place and a deletion drops it", () => {
  const list = [doc(1), doc(2), doc(3)];
  const renamed = applyDocumentFrame(list, { type: "document_updated", document: doc(2, "Plan") });
  expect(renamed.map((d) => d.title)).toEqual(["Doc 1", "Plan", "Doc 3"]);
  const dropped = applyDocumentFrame(renamed, { type: "document_deleted", team_id: TEAM, document_id: "automerge:doc1" });
  expect(dropped.map((d) => d.title)).toEqual(["Plan", "Doc 3"]);
  // Deleting what is not listed changes nothing (the same list, so React does not re-render).
  expect(applyDocumentFrame(dropped, { type: "document_deleted", team_id: TEAM, document_id: "automerge:doc9" })).toBe(dropped);
});

it("a restored document comes back in the relay's order", () => {
  const list = [doc(1), doc(3)];
  const restored = applyDocumentFrame(list, { type: "document_updated", document: doc(2) });
  expect(restored.map((d) => d.document_id)).toEqual(["automerge:doc1", "automerge:doc2", "automerge:doc3"]);
});

it("other frames leave the list alone", () => {
  const list = [doc(1)];
  expect(applyDocumentFrame(list, { type: "typing", team_id: TEAM, user_id: OTHER })).toBe(list);
});

it("admins and owners delete anything, members their own, viewers nothing", () => {
  const mine = doc(1, "Mine", ME);
  const theirs = doc(2, "Theirs", OTHER);
  expect([mayDelete("owner", ME, theirs), mayDelete("admin", ME, theirs)]).toEqual([true, true]);
  expect([mayDelete("member", ME, mine), mayDelete("member", ME, theirs)]).toEqual([true, false]);
  expect(mayDelete("viewer", ME, mine)).toBe(false);
});

it("titles are trimmed, one line, 1 to 200 characters", () => {
  expect(checkTitle("  Plan ")).toEqual({ ok: true, title: "Plan" });
  expect(checkTitle("   ").ok).toBe(false);
  expect(checkTitle("a\nb").ok).toBe(false);
  expect(checkTitle("é".repeat(200)).ok).toBe(true);
  expect(checkTitle("x".repeat(201)).ok).toBe(false);
});
