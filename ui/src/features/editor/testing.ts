// For the editor's tests: an editor over a new Automerge document in a repo of its own, as the window makes
// one (the binding committing each transaction at once, the caret kept as `applyKeepingCaret` keeps it).
import { Repo, type DocHandle } from "@automerge/automerge-repo/slim";
import { EditorView } from "prosemirror-view";
import { applyKeepingCaret, editorState } from "./state";

export type Doc = { text: string };

export function openEditor(text = ""): { handle: DocHandle<Doc>; view: EditorView } {
  const repo = new Repo({ network: [] });
  const handle = repo.create<Doc>({ text });
  const view: EditorView = new EditorView(document.createElement("div"), {
    state: editorState(handle as never),
    dispatchTransaction: (tr) => view.updateState(applyKeepingCaret(view.state, tr)),
  });
  return { handle, view };
}
