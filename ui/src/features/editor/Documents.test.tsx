// The document list: teammates' renames and deletions from the room, delete with Undo, who sees Delete.
import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import type { DeletedDocument, DocumentEntry, Status, TeamMembership } from "../../bindings";
import { answers, calls, emitRoom, failures, reset } from "../../testing/fakeBindings";
import { joinFrames, members, TEAM, userId } from "../../testing/fixtures";
import { followRooms } from "../../lib/team/store";
import { setStatus } from "../sync/status";
import { Documents } from "./Documents";

vi.mock("../../bindings", () => import("../../testing/fakeBindings"));
// The editor itself (Automerge, ProseMirror) is the window tests'; here only what the list hands it.
vi.mock("./Editor", () => ({
  Editor: (props: { title: string; readOnly: boolean }) => (
    <div data-testid="editor-stub" data-read-only={String(props.readOnly)}>
      {props.title}
    </div>
  ),
}));

const me = { id: userId(1), email: "m1@example.com", display_name: "Member 1" };
const status: Status = { signed_in: true, credentials: null, link: "online", peers: [], pending: 0, failed: 0, documents: {} };
const doc = (n: number, by = userId(1)): DocumentEntry => ({
  document_id: `automerge:doc${n}`,
  team_id: TEAM,
  title: `Doc ${n}`,
  project_id: null,
  created_by: by,
  created_at: `2026-11-0${n}T10:00:00Z`,
});

async function show(role: TeamMembership["role"]) {
  const team: TeamMembership = { id: TEAM, name: "crew", role };
  await act(async () => render(<Documents team={team} user={me} open={null} onOpen={() => {}} />));
}

const titles = () => screen.queryAllByTestId("open-document").map((b) => b.textContent);

beforeEach(() => {
  reset();
  setStatus(status);
});
afterEach(cleanup);

it("follows teammates' renames and deletions from the room", async () => {
  answers.documents = [doc(1), doc(2)];
  await show("member");
  act(() => emitRoom(TEAM, { type: "document_updated", document: { ...doc(2), title: "Plan" } }));
  expect(titles()).toEqual(["Doc 1", "Plan"]);
  act(() => emitRoom(TEAM, { type: "document_deleted", team_id: TEAM, document_id: doc(1).document_id }));
  expect(titles()).toEqual(["Plan"]);
});

it("deletes with an Undo that restores", async () => {
  answers.documents = [doc(1)];
  answers.restoreDocument = doc(1);
  await show("member");
  await act(async () => fireEvent.click(screen.getByTestId("delete-document")));
  expect(calls.find(([name]) => name === "deleteDocument")).toEqual(["deleteDocument", TEAM, doc(1).document_id]);
  expect(titles()).toEqual([]);
  expect(screen.getByTestId("document-deleted-toast").textContent).toContain("Deleted “Doc 1”");
  await act(async () => fireEvent.click(screen.getByTestId("undo-delete-document")));
  expect(calls.find(([name]) => name === "restoreDocument")).toEqual(["restoreDocument", TEAM, doc(1).document_id]);
  expect(titles()).toEqual(["Doc 1"]);
  expect(screen.queryByTestId("document-deleted-toast")).toBeNull();
});

it("shows Delete only where the relay allows it and explains a refusal", async () => {
  answers.documents = [doc(1), doc(2, userId(2))];
  await show("member");
  expect(screen.getAllByTestId("delete-document")).toHaveLength(1);
  failures.renameDocument = { kind: "refused", status: 410, code: "gone", message: "deleted" };
  fireEvent.click(screen.getAllByTestId("rename-document")[0]);
  fireEvent.change(screen.getByTestId("rename-document-title"), { target: { value: "New" } });
  await act(async () => fireEvent.click(screen.getByTestId("save-document-title")));
  expect(screen.getByTestId("documents-error").textContent).toBe("That document was deleted meanwhile.");
  cleanup();
  await show("viewer");
  expect(screen.queryAllByTestId("delete-document")).toHaveLength(0);
  expect(screen.queryAllByTestId("rename-document")).toHaveLength(0);
});

it("refuses a blank title before calling the relay", async () => {
  answers.documents = [doc(1)];
  await show("owner");
  fireEvent.click(screen.getByTestId("rename-document"));
  fireEvent.change(screen.getByTestId("rename-document-title"), { target: { value: "   " } });
  await act(async () => fireEvent.click(screen.getByTestId("save-document-title")));
  expect(screen.getByTestId("documents-error").textContent).toBe("A title cannot be empty.");
  expect(calls.some(([name]) => name === "renameDocument")).toBe(false);
});

it("offline before the list was ever read, says so without claiming there are no documents", async () => {
  failures.documents = { kind: "not_cached" };
  await show("member");
  expect(screen.getByRole("alert").textContent).toBe("Not available offline yet: connect once to fetch it.");
  expect(screen.queryByTestId("documents-empty")).toBeNull();
});

it("marks a document whose registration has not reached the relay", async () => {
  answers.documents = [doc(1), doc(2)];
  const team: TeamMembership = { id: TEAM, name: "crew", role: "member" };
  const offline: Status = { ...status, link: "offline", documents: { [doc(2).document_id]: "local_only", [doc(1).document_id]: "synced" } };
  setStatus(offline);
  await act(async () => render(<Documents team={team} user={me} open={null} onOpen={() => {}} />));
  const rows = screen.getAllByTestId("document").map((row) => row.querySelector("[data-testid=document-local]")?.textContent ?? null);
  expect(rows).toEqual([null, "Only on this device"]);
});

it("a document a teammate deletes while it is open says so, stops taking edits, and can be restored", async () => {
  answers.documents = [doc(1)];
  answers.restoreDocument = doc(1);
  const team: TeamMembership = { id: TEAM, name: "crew", role: "member" };
  await act(async () => render(<Documents team={team} user={me} open={doc(1).document_id} onOpen={() => {}} />));
  const editor = await screen.findByTestId("editor-stub");
  expect(editor.dataset.readOnly).toBe("false");

  await act(async () => emitRoom(TEAM, { type: "document_deleted", team_id: TEAM, document_id: doc(1).document_id }));
  expect(screen.getByTestId("document-gone").textContent).toContain("“Doc 1” was deleted by a teammate");
  expect((await screen.findByTestId("editor-stub")).dataset.readOnly).toBe("true");
  expect(screen.getByTestId("editor-stub").textContent).toBe("Doc 1");

  await act(async () => fireEvent.click(screen.getByTestId("restore-gone-document")));
  expect(calls.find(([name]) => name === "restoreDocument")).toEqual(["restoreDocument", TEAM, doc(1).document_id]);
  expect(screen.queryByTestId("document-gone")).toBeNull();
  expect((await screen.findByTestId("editor-stub")).dataset.readOnly).toBe("false");
});

it("a document deleted while this device was away is found gone by the next list", async () => {
  answers.documents = [doc(1)];
  const team: TeamMembership = { id: TEAM, name: "crew", role: "member" };
  setStatus({ ...status, pending: 1 });
  await act(async () => render(<Documents team={team} user={me} open={doc(1).document_id} onOpen={() => {}} />));
  expect((await screen.findByTestId("editor-stub")).dataset.readOnly).toBe("false");
  answers.documents = [];
  // The queued work delivered: the list is read again, and no longer has it.
  await act(async () => setStatus(status));
  expect(screen.getByTestId("document-gone").textContent).toContain("“Doc 1” was deleted");
  expect((await screen.findByTestId("editor-stub")).dataset.readOnly).toBe("true");
});

it("tells a viewer an open document is theirs to read, not to change", async () => {
  answers.documents = [doc(1)];
  const open = async (role: TeamMembership["role"]) => {
    const team: TeamMembership = { id: TEAM, name: "crew", role };
    await act(async () => render(<Documents team={team} user={me} open={doc(1).document_id} onOpen={() => {}} />));
  };
  await open("viewer");
  expect(screen.getByTestId("view-only").textContent).toBe("View only: as a viewer in crew you can read this document, not change it.");
  cleanup();
  await open("member");
  expect(screen.queryByTestId("view-only")).toBeNull();
});

it("finds a deleted document again under Recently deleted and restores it into the list", async () => {
  answers.documents = [doc(1)];
  let deleted: DeletedDocument[] = [
    { document: doc(2, userId(2)), deleted_at: "2026-12-04T10:00:00Z", deleted_by: userId(2), restorable_until: "2027-01-03T10:00:00Z" },
    { document: doc(3), deleted_at: "2026-12-03T10:00:00Z", deleted_by: userId(99), restorable_until: "2027-01-02T10:00:00Z" },
  ];
  answers.deletedDocuments = () => deleted;
  answers.restoreDocument = (_team: string, url: string) => {
    const item = deleted.find((d) => d.document.document_id === url)!;
    deleted = deleted.filter((d) => d !== item);
    return item.document;
  };
  // The roster, as the workspace's team store has it: who deleted each is named from it.
  const stopRooms = followRooms();
  act(() => joinFrames(members(1, 2)).forEach((frame) => emitRoom(TEAM, frame)));
  await show("admin");
  expect(screen.queryAllByTestId("deleted-document")).toHaveLength(0);
  await act(async () => fireEvent.click(screen.getByTestId("show-deleted")));
  const rows = () => screen.queryAllByTestId("deleted-document").map((r) => r.textContent);
  expect(rows()).toEqual([expect.stringMatching(/^Doc 2Deleted .* by Member 2; kept until /), expect.stringMatching(/^Doc 3Deleted .* by a former member; kept until /)]);
  await act(async () => fireEvent.click(screen.getAllByTestId("restore-deleted")[1]));
  expect(calls).toContainEqual(["restoreDocument", TEAM, doc(3).document_id]);
  expect(titles()).toEqual(["Doc 1", "Doc 3"]);
  expect(rows()).toEqual([expect.stringContaining("Doc 2")]);
  cleanup();
  // A viewer restores nothing: not offered.
  await show("viewer");
  expect(screen.queryByTestId("show-deleted")).toBeNull();
  stopRooms();
});
