// The chat composer with @mention autocomplete: typing "@" offers the team's members (filtered as you type);
// arrows move, Enter or Tab picks, Escape closes. A pick shows as "@Name" ("@Name (email)" when two members
// share the name, "@Name (2)" for someone who has left) and is sent in the wire form.
// Enter sends, Shift+Enter starts a new line; the box grows with its lines, up to a few. The same box edits
// a message already sent (`editing`): Save instead of Send, and Escape or Cancel leaves it.
import { type FormEvent, type KeyboardEvent, type RefObject, useId, useRef, useState } from "react";
import type { Member, UserId } from "../../bindings";
import { insertMention, labelFor, matchMembers, mentionQuery, type Picks, toWire } from "./mentions";

/** How many lines the composer shows for `draft`: its own, up to six (then it scrolls). */
export const composerRows = (draft: string) => Math.min(6, draft.split("\n").length);

export function MentionComposer({
  draft,
  onDraft,
  onSend,
  members,
  me,
  placeholder,
  picks,
  editing,
  onEditLast,
  inputRef,
}: {
  draft: string;
  onDraft: (value: string) => void;
  onSend: (content: string) => void;
  members: Member[];
  me: UserId;
  placeholder: string;
  /** Where the draft's picked names are kept, when they should outlive this composer (`drafts.ts`). */
  picks?: Picks;
  /** Editing a message already sent: how to leave without saving. */
  editing?: { onCancel: () => void };
  /** Arrow up in an empty composer: edit the person's last message, as Slack does. */
  onEditLast?: () => void;
  /** The text box, for a caller that gives it the focus back. */
  inputRef?: RefObject<HTMLTextAreaElement | null>;
}) {
  const ownInput = useRef<HTMLTextAreaElement>(null);
  const input = inputRef ?? ownInput;
  // Two boxes can be open at once (the composer and a message being edited): ids of their own.
  const listId = `mention-list${useId()}`;
  const [caret, setCaret] = useState(0);
  const [active, setActive] = useState(0);
  const [closed, setClosed] = useState<number | null>(null);
  // The names picked from the list in this draft, to send as mentions.
  const own = useRef<Picks>(new Map());
  const picked = picks ?? own.current;

  const query = mentionQuery(draft, caret);
  const open = query !== null && closed !== query.start;
  const options = open ? matchMembers(members, query.query, me) : [];
  const shown = options.length > 0;

  function change(value: string, at: number) {
    setCaret(at);
    setActive(0);
    if (!value) picked.clear();
    onDraft(value);
  }

  function pick(member: Member) {
    if (!query) return;
    const who = { userId: member.user_id, name: member.display_name, email: member.email };
    const label = labelFor(who, members, picked);
    const next = insertMention(draft, query.start, caret, label);
    picked.set(label, { userId: who.userId, name: who.name });
    change(next.draft, next.caret);
    requestAnimationFrame(() => {
      input.current?.focus();
      input.current?.setSelectionRange(next.caret, next.caret);
    });
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    // An input method composing a character owns its keys (WebKit sends the Enter that ends a word with
    // keyCode 229 and isComposing already false).
    if (e.nativeEvent.isComposing || e.nativeEvent.keyCode === 229) return;
    if (!shown) {
      // Enter sends; Shift+Enter is a new line.
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        e.currentTarget.form?.requestSubmit();
      } else if (e.key === "Escape" && editing) {
        e.preventDefault();
        editing.onCancel();
      } else if (e.key === "ArrowUp" && draft === "" && onEditLast) {
        e.preventDefault();
        onEditLast();
      }
      return;
    }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const step = e.key === "ArrowDown" ? 1 : -1;
      setActive((a) => (a + step + options.length) % options.length);
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      pick(options[Math.min(active, options.length - 1)]);
    } else if (e.key === "Escape") {
      e.preventDefault();
      setClosed(query?.start ?? null);
    }
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    const content = toWire(draft.trim(), picked);
    if (!content) return;
    picked.clear();
    setClosed(null);
    onSend(content);
  }

  return (
    <form className={editing ? "composer editing" : "composer"} onSubmit={submit}>
      {shown && (
        <ul className="mention-list" role="listbox" id={listId} aria-label="Mention a member" data-testid="mention-list">
          {options.map((m, i) => (
            <li
              key={m.user_id}
              id={`${listId}-${m.user_id}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? "active" : ""}
              data-testid="mention-option"
              // Before the input loses focus: the pick keeps the caret in the composer.
              onMouseDown={(e) => {
                e.preventDefault();
                pick(m);
              }}
            >
              <span className="name">{m.display_name}</span> <span className="email">{m.email}</span>
            </li>
          ))}
        </ul>
      )}
      <textarea
        ref={input}
        rows={composerRows(draft)}
        value={draft}
        onChange={(e) => change(e.target.value, e.target.selectionStart ?? e.target.value.length)}
        onKeyDown={onKeyDown}
        onKeyUp={(e) => setCaret(e.currentTarget.selectionStart ?? draft.length)}
        onClick={(e) => setCaret(e.currentTarget.selectionStart ?? draft.length)}
        placeholder={placeholder}
        aria-label={placeholder}
        maxLength={4000}
        // A text box with a suggestion list (a textarea takes no combobox role): the list it controls and
        // the option chosen are named while it is open.
        aria-autocomplete="list"
        aria-controls={shown ? listId : undefined}
        aria-activedescendant={shown ? `${listId}-${options[Math.min(active, options.length - 1)].user_id}` : undefined}
        data-testid={editing ? "edit-message-text" : "composer"}
        autoFocus={editing !== undefined}
      />
      {editing ? (
        <>
          <button type="submit" className="primary" data-testid="save-message">
            Save
          </button>
          <button type="button" onClick={editing.onCancel}>
            Cancel
          </button>
        </>
      ) : (
        <button type="submit" className="primary" data-testid="send">
          Send
        </button>
      )}
    </form>
  );
}
