// The editor's state over one Automerge document: the binding's sync plugin (local steps become changes
// of the document, its changes become transactions) with the schema, keys, Markdown shortcuts and
// teammates' carets.
import { init, type DocHandle } from "@automerge/prosemirror";
import { EditorState } from "prosemirror-state";
import { caretsPlugin } from "./carets";
import { editorKeys, markdownRules } from "./commands";
import { adapter, TEXT_PATH } from "./schema";

export function editorState(handle: DocHandle<unknown>): EditorState {
  const { schema, pmDoc, plugin } = init(handle, TEXT_PATH, { schemaAdapter: adapter });
  return EditorState.create({ schema, doc: pmDoc, plugins: [markdownRules(), ...editorKeys(), plugin, caretsPlugin()] });
}
