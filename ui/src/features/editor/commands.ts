// What keys and typing do in the editor: formatting shortcuts, Markdown shortcuts as you type (`# `, `- `,
// `1. `, `[ ] `, `> `, "```", `---`, `**bold**`, `*italic*`, `` `code` ``, `~~strike~~`), lists, undo and
// redo (ProseMirror's history, which leaves teammates' changes out: the binding marks them so), and the
// toolbar's commands.
import { baseKeymap, chainCommands, exitCode, setBlockType, toggleMark, wrapIn } from "prosemirror-commands";
import { history, redo, undo } from "prosemirror-history";
import { InputRule, inputRules, textblockTypeInputRule, wrappingInputRule } from "prosemirror-inputrules";
import { keymap } from "prosemirror-keymap";
import type { MarkType, NodeType } from "prosemirror-model";
import { liftListItem, sinkListItem, splitListItem, wrapInList } from "prosemirror-schema-list";
import { type Command, type EditorState, type Plugin, TextSelection } from "prosemirror-state";
import { schema } from "./schema";

const { nodes, marks } = schema;

/// A Markdown mark typed around text (`**x**`): the markers go, the text keeps the mark.
function markRule(pattern: RegExp, type: MarkType): InputRule {
  return new InputRule(pattern, (state, match, start, end) => {
    const [whole, text] = match;
    if (!text || state.doc.resolve(start).parent.type.spec.code) return null;
    const textStart = start + whole.indexOf(text);
    const tr = state.tr;
    // The closing marker is not in the document yet (it is being typed); remove what follows the text,
    // then what precedes it.
    tr.delete(textStart + text.length, end);
    tr.delete(start, textStart);
    tr.addMark(start, start + text.length, type.create());
    tr.removeStoredMark(type);
    return tr;
  });
}

/// A horizontal rule for `---` typed in an otherwise empty paragraph: the paragraph becomes the rule's and a
/// new paragraph after it takes the caret.
const ruleRule = new InputRule(/^---$/, (state, _match, start) => {
  const $start = state.doc.resolve(start);
  if ($start.parent.type !== nodes.paragraph || $start.parent.textContent !== "--") return null;
  const before = $start.before();
  const tr = state.tr.replaceWith(before, $start.after(), [ruleParagraph(), nodes.paragraph.create()]);
  return tr.setSelection(TextSelection.create(tr.doc, before + 4)).scrollIntoView();
});

/// A paragraph holding only a rule.
function ruleParagraph() {
  return nodes.paragraph.create(null, nodes.horizontal_rule.create());
}

/// A check-list item for `[ ] ` (or `[x] `, checked) typed at the start of a block.
const checkRule = new InputRule(/^\s*\[( |x)?\]\s$/, (state, match, start, end) => {
  const tr = state.tr.delete(start, end);
  const range = tr.doc.resolve(start).blockRange();
  if (!range) return null;
  return tr.wrap(range, [{ type: nodes.check_list }, { type: nodes.check_item, attrs: { checked: match[1] === "x" } }]);
});

export function markdownRules(): Plugin {
  return inputRules({
    rules: [
      textblockTypeInputRule(/^(#{1,3})\s$/, nodes.heading, (m) => ({ level: m[1].length })),
      checkRule,
      wrappingInputRule(/^\s*([-+*])\s$/, nodes.bullet_list),
      wrappingInputRule(/^(\d+)\.\s$/, nodes.ordered_list, (m) => ({ order: Number(m[1]) }), (m, node) => node.childCount + node.attrs.order === Number(m[1])),
      wrappingInputRule(/^\s*>\s$/, nodes.blockquote),
      textblockTypeInputRule(/^```$/, nodes.code_block),
      ruleRule,
      markRule(/\*\*([^*]+)\*\*$/, marks.strong),
      markRule(/(?:^|[^*])\*([^*\s][^*]*)\*$/, marks.em),
      markRule(/(?:^|[^_\w])_([^_\s][^_]*)_$/, marks.em),
      markRule(/`([^`]+)`$/, marks.code),
      markRule(/~~([^~]+)~~$/, marks.strike),
    ],
  });
}

const splitItem = chainCommands(splitListItem(nodes.list_item), splitListItem(nodes.check_item));
const sinkItem = chainCommands(sinkListItem(nodes.list_item), sinkListItem(nodes.check_item));
const liftItem = chainCommands(liftListItem(nodes.list_item), liftListItem(nodes.check_item));

/// Ticks or unticks the check-list item the caret is in: the box's own click needs a mouse.
export const toggleCheck: Command = (state, dispatch) => {
  const { $from } = state.selection;
  for (let d = $from.depth; d > 0; d--) {
    const node = $from.node(d);
    if (node.type === nodes.check_item) {
      dispatch?.(state.tr.setNodeMarkup($from.before(d), undefined, { ...node.attrs, checked: !node.attrs.checked }));
      return true;
    }
  }
  return false;
};

export function editorKeys(): Plugin[] {
  return [
    history(),
    keymap({
      "Mod-z": undo,
      "Mod-Shift-z": redo,
      "Mod-y": redo,
      "Mod-b": toggleMark(marks.strong),
      "Mod-i": toggleMark(marks.em),
      "Mod-u": toggleMark(marks.underline),
      "Mod-Shift-s": toggleMark(marks.strike),
      "Mod-e": toggleMark(marks.code),
      "Mod-Alt-0": setBlockType(nodes.paragraph),
      "Mod-Alt-1": setBlockType(nodes.heading, { level: 1 }),
      "Mod-Alt-2": setBlockType(nodes.heading, { level: 2 }),
      "Mod-Alt-3": setBlockType(nodes.heading, { level: 3 }),
      "Mod-Shift-8": wrapInList(nodes.bullet_list),
      "Mod-Shift-7": wrapInList(nodes.ordered_list),
      "Mod-Shift-9": wrapInList(nodes.check_list),
      // Leaving a code block first: one inside a check-list item keeps Ctrl+Enter's usual meaning there.
      "Mod-Enter": chainCommands(exitCode, toggleCheck),
      Enter: splitItem,
      Tab: sinkItem,
      "Shift-Tab": liftItem,
    }),
    keymap(baseKeymap),
  ];
}

/// Whether the selection (or the stored marks at the caret) has the mark: the toolbar shows it pressed.
export function markActive(state: EditorState, type: MarkType): boolean {
  const { from, $from, to, empty } = state.selection;
  if (empty) return !!type.isInSet(state.storedMarks || $from.marks());
  return state.doc.rangeHasMark(from, to, type);
}

/// Whether the caret's block is of `type` (with `attrs`).
export function blockActive(state: EditorState, type: NodeType, attrs?: Record<string, unknown>): boolean {
  const { $from } = state.selection;
  for (let d = $from.depth; d > 0; d--) {
    const node = $from.node(d);
    if (node.type === type) return !attrs || Object.entries(attrs).every(([k, v]) => node.attrs[k] === v);
  }
  return false;
}

/// The toolbar's buttons that show whether they apply at the selection, and how each is found.
export const active = {
  strong: (state: EditorState) => markActive(state, marks.strong),
  em: (state: EditorState) => markActive(state, marks.em),
  underline: (state: EditorState) => markActive(state, marks.underline),
  strike: (state: EditorState) => markActive(state, marks.strike),
  code: (state: EditorState) => markActive(state, marks.code),
  link: (state: EditorState) => markActive(state, marks.link),
  heading1: (state: EditorState) => blockActive(state, nodes.heading, { level: 1 }),
  heading2: (state: EditorState) => blockActive(state, nodes.heading, { level: 2 }),
  heading3: (state: EditorState) => blockActive(state, nodes.heading, { level: 3 }),
  bulletList: (state: EditorState) => blockActive(state, nodes.bullet_list),
  orderedList: (state: EditorState) => blockActive(state, nodes.ordered_list),
  checkList: (state: EditorState) => blockActive(state, nodes.check_list),
  quote: (state: EditorState) => blockActive(state, nodes.blockquote),
  codeBlock: (state: EditorState) => blockActive(state, nodes.code_block),
} satisfies Record<string, (state: EditorState) => boolean>;

/// What the toolbar shows of `state`, in one string: a transaction that leaves it as it was (most
/// keystrokes) needs no new render of the toolbar.
export function toolbarShows(state: EditorState): string {
  let shows = "";
  for (const isActive of Object.values(active)) shows += isActive(state) ? "1" : "0";
  return shows;
}

/// Turns the caret's block into `type` or, when it already is, back into a paragraph.
export function toggleBlock(type: NodeType, attrs?: Record<string, unknown>): Command {
  return (state, dispatch) => (blockActive(state, type, attrs) ? setBlockType(nodes.paragraph)(state, dispatch) : setBlockType(type, attrs)(state, dispatch));
}

/// Wraps the selection in a list of `type` or, inside one, lifts it out.
export function toggleList(type: NodeType): Command {
  const item = type === nodes.check_list ? nodes.check_item : nodes.list_item;
  return (state, dispatch) => (blockActive(state, type) ? liftListItem(item)(state, dispatch) : wrapInList(type)(state, dispatch));
}

export const toggleQuote: Command = (state, dispatch) => wrapIn(nodes.blockquote)(state, dispatch);

/// Links the selection to `href`, or unlinks it when `href` is empty.
export function setLink(href: string): Command {
  return (state, dispatch) => {
    const { from, to, empty } = state.selection;
    if (empty) return false;
    if (dispatch) {
      const tr = state.tr.removeMark(from, to, marks.link);
      if (href.trim()) tr.addMark(from, to, marks.link.create({ href: href.trim() }));
      dispatch(tr);
    }
    return true;
  };
}

export const insertRule: Command = (state, dispatch) => {
  if (dispatch) dispatch(state.tr.replaceSelectionWith(ruleParagraph()).scrollIntoView());
  return true;
};

export { undo, redo, toggleMark };
