// A typed character goes into the editor's state at once, not through the browser's own editing first.
//
// ProseMirror lets the browser type a character at a caret (its editing command changes the page, and the
// view reads the change back), for input methods and spell checking. In WebKit that command is most of
// a key's time on a long document: it finds its positions, makes an undo step of its own and lays the
// page out more than once, all over the whole editable element. A character typed plainly, at a caret
// in text, is therefore put in as ProseMirror puts in one typed over a selection: through the Markdown
// shortcuts (`handleTextInput`), else as an insertion with the marks at the caret; the view then changes
//! one text node. Input methods (composition) and keys with a command modifier keep the usual way.
import { Plugin, TextSelection } from "prosemirror-state";
import type { EditorView } from "prosemirror-view";

/// The text a `keypress` types, or null when the browser's own handling is wanted: no character, a line
/// break (the keymap's), an input method's, or a key with Ctrl (not AltGr, which is Ctrl+Alt on Windows)
/// or Cmd.
export function typedText(event: KeyboardEvent): string | null {
  if (event.isComposing || !event.charCode) return null;
  if ((event.ctrlKey && !event.altKey) || event.metaKey) return null;
  // `key` is the character itself (a surrogate pair for one beyond the Basic Multilingual Plane, which
  // `charCode` cannot say); anything longer names a key, not text.
  const text = event.key;
  if ([...text].length !== 1 || /[\r\n]/.test(text)) return null;
  return text;
}

/// Whether `view` takes a typed character itself: the selection is a caret in text (ProseMirror takes one
/// typed over a selection itself already), and no input method is composing.
function atCaret(view: EditorView): boolean {
  const { selection } = view.state;
  return !view.composing && selection instanceof TextSelection && selection.empty && selection.$from.parent.inlineContent;
}

export function directTyping(): Plugin {
  return new Plugin({
    props: {
      handleKeyPress(view, event) {
        const text = typedText(event);
        if (text === null || !atCaret(view)) return false;
        const { from, to } = view.state.selection;
        const deflt = () => view.state.tr.insertText(text).scrollIntoView();
        if (!view.someProp("handleTextInput", (f) => f(view, from, to, text, deflt))) view.dispatch(deflt());
        return true;
      },
    },
  });
}
