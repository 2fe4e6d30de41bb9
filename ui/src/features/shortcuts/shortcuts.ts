// The window's keyboard shortcuts: which key press means what, and the list the help overlay shows.
// Single-key shortcuts never fire while someone is typing (an input, a text area, the editor).

/** Whether the keys to show are a Mac's (⌘ for Ctrl, ⌥ for Alt). */
export const MAC = typeof navigator !== "undefined" && /Mac/.test(navigator.platform);

export type Action = { type: "search" } | { type: "help" } | { type: "section"; index: number };

type Press = { key: string; code?: string; ctrlKey: boolean; metaKey: boolean; altKey: boolean; target: EventTarget | null };

/** Whether the key press goes into something being typed in. */
export function isTyping(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).closest !== "function") return false;
  const element = target as HTMLElement;
  if (element.isContentEditable || element.closest("[contenteditable=true], [contenteditable='']")) return true;
  if (element instanceof HTMLTextAreaElement || element instanceof HTMLSelectElement) return true;
  if (element instanceof HTMLInputElement) return !["checkbox", "radio", "button", "submit", "reset"].includes(element.type);
  return false;
}

/** What a key press asks for, if anything. */
export function shortcutFor(press: Press): Action | null {
  if ((press.ctrlKey || press.metaKey) && !press.altKey && press.key.toLowerCase() === "k") return { type: "search" };
  // Alt+1..9 go to the sections in the sidebar's order: the digit keys wherever the layout puts the digits
  // (`code`: AZERTY's Alt+1 types "&", macOS's Option+1 "¡"), or a digit typed with Alt.
  const digit = /^Digit([1-9])$/.exec(press.code ?? "")?.[1] ?? (/^[1-9]$/.test(press.key) ? press.key : null);
  if (press.altKey && !press.ctrlKey && !press.metaKey && digit) return { type: "section", index: Number(digit) - 1 };
  if (press.key === "?" && !press.ctrlKey && !press.metaKey && !press.altKey && !isTyping(press.target)) return { type: "help" };
  return null;
}

export type Shortcut = { keys: string[]; what: string };

/** The help overlay's list; `mac` shows ⌘ where others press Ctrl. */
export function shortcutList(mac: boolean, sections: string[]): Shortcut[] {
  return [
    { keys: [mac ? "⌘" : "Ctrl", "K"], what: "Search messages, projects and documents" },
    { keys: ["?"], what: "Show these shortcuts" },
    ...sections.map((name, i) => ({ keys: [mac ? "⌥" : "Alt", String(i + 1)], what: `Go to ${name}` })),
    { keys: ["Esc"], what: "Close a dialog, search or this list; cancel a rename" },
    { keys: ["Tab"], what: "Move to the next control (Shift+Tab: the previous one)" },
    { keys: ["↑ ↓"], what: "Move through search results and choices" },
    { keys: ["Enter"], what: "Send a message, save a form, open a search result" },
    { keys: [mac ? "⌘" : "Ctrl", "Enter"], what: "In a document: tick or untick the check-list item at the caret" },
  ];
}
