// One message the relay holds, as the chat draws it: author, time, "(edited)", its text (or that it was
// deleted; a message continuing its author's run shows its time on hover beside the actions, its author
// only to screen readers), its reactions, and what this person may do with it: react (a chip to join or
// leave, "React" to pick an emoji), edit their own (in place, with mentions; Enter saves, Escape leaves),
// delete their own or, as an admin or owner, anyone's (after asking).
import { useEffect, useRef, useState } from "react";
import { type Member, type Message, MIRRORED_CLIENT_PREFIX, type User } from "../../bindings";
import { Avatar } from "../people/Avatar";
import { dateTime, timeOfDay } from "../../lib/dates";
import { readable } from "./mentions";
import { MentionComposer } from "./MentionComposer";
import { MessageText } from "./MessageText";
import { QUICK_REACTIONS, whoReacted } from "./reactions";

export function SentMessage({
  message,
  continued,
  user,
  focused,
  canWrite,
  canDeleteAny,
  members,
  editing,
  onEditing,
  onEdit,
  onDelete,
  onReact,
  onAsked,
  onOpenLink,
}: {
  message: Message;
  /** It continues its author's run just above (`continuesRun`): no name and avatar again. */
  continued: boolean;
  user: User;
  focused: boolean;
  /** Whether this person may write in the team (not a viewer): only then do they edit. */
  canWrite: boolean;
  /** An admin or owner: they delete anyone's message. */
  canDeleteAny: boolean;
  members: Member[];
  editing: boolean;
  onEditing: (on: boolean) => void;
  onEdit: (content: string) => void;
  onDelete: () => void;
  /** This person's `emoji` put on the message (`on`) or taken off. */
  onReact: (emoji: string, on: boolean) => void;
  /** The question about deleting was answered no. */
  onAsked: () => void;
  /** A link in the message was clicked: open it in the system browser. */
  onOpenLink: (url: string) => void;
}) {
  const mine = message.author_id === user.id;
  // A message mirrored from Slack is that service's record: deleted, never rewritten (the relay's rule).
  const editable = mine && canWrite && !message.client_id.startsWith(MIRRORED_CLIENT_PREFIX);
  const [asking, setAsking] = useState(false);
  const [picking, setPicking] = useState(false);
  // Closed by a pick or Escape, the picker gives the focus back to "React" (its buttons are gone); closed
  // by the focus moving elsewhere, it leaves the focus there.
  const reactButton = useRef<HTMLButtonElement>(null);
  const refocus = useRef(false);
  useEffect(() => {
    if (!picking && refocus.current) reactButton.current?.focus();
    refocus.current = false;
  }, [picking]);
  const closePicker = (giveFocusBack: boolean) => {
    refocus.current = giveFocusBack;
    setPicking(false);
  };
  // The whole edit box in view, its buttons too (focusing the box alone shows only its text).
  const row = useRef<HTMLLIElement>(null);
  useEffect(() => {
    if (editing) row.current?.scrollIntoView?.({ block: "nearest" });
  }, [editing]);
  // Deleted by someone else while being edited: there is nothing left to save.
  useEffect(() => {
    if (message.deleted && editing) onEditing(false);
  }, [message.deleted]);
  const classes = ["message", continued && "continued", focused && "focused", (message.mentions ?? []).includes(user.id) && "mentions-me", message.deleted && "deleted"];

  const time = (
    <time dateTime={message.created_at} title={dateTime(message.created_at)}>
      {timeOfDay(new Date(message.created_at))}
    </time>
  );
  const mayDelete = !message.deleted && (mine || canDeleteAny);
  const mayReact = !message.deleted && canWrite;
  const reactions = message.deleted ? [] : (message.reactions ?? []);
  const edited = message.edited_at && !message.deleted && (
    <span className="edited" title={`Edited ${dateTime(message.edited_at)}`} data-testid="message-edited">
      (edited)
    </span>
  );

  return (
    <li ref={row} className={classes.filter(Boolean).join(" ")} data-testid="message" data-state="sent" data-seq={message.seq}>
      {continued ? (
        <span className="author visually-hidden">{message.author_name}</span>
      ) : (
        <>
          <Avatar userId={message.author_id} name={message.author_name} size={22} />
          <span className="author">{message.author_name}</span>
          {time}
        </>
      )}
      {!continued && edited}
      {editing ? (
        <EditBox message={message} user={user} members={members} onSave={onEdit} onCancel={() => onEditing(false)} />
      ) : message.deleted ? (
        <p className="gone" data-testid="message-deleted">
          This message was deleted.
        </p>
      ) : (
        // With no name line to stand on, "(edited)" goes after the words.
        <MessageText content={message.content} me={user.id} onOpenLink={onOpenLink} trailing={continued && edited} />
      )}
      {reactions.length > 0 && (
        <div className="reactions" data-testid="reactions">
          {reactions.map((reaction) => {
            const reacted = reaction.user_ids.includes(user.id);
            const who = whoReacted(reaction, members, user.id);
            return (
              <button
                key={reaction.emoji}
                className={reacted ? "reaction mine" : "reaction"}
                aria-pressed={reacted}
                aria-label={`${who}${mayReact ? (reacted ? ". Take yours off" : ". Add yours") : ""}`}
                title={who}
                // Not `disabled`: a viewer still reaches it with Tab, to hear who reacted.
                aria-disabled={!mayReact}
                onClick={() => mayReact && onReact(reaction.emoji, !reacted)}
                data-testid="reaction"
              >
                <span className="emoji">{reaction.emoji}</span> <span className="count">{reaction.user_ids.length}</span>
              </button>
            );
          })}
        </div>
      )}
      {!editing &&
        (asking ? (
          <span className="actions asking" role="group" aria-label="Delete this message?">
            Delete this message?{" "}
            <button
              className="danger"
              onClick={() => {
                setAsking(false);
                onDelete();
              }}
              data-testid="confirm-delete-message"
            >
              Delete
            </button>
            <button
              onClick={() => {
                setAsking(false);
                onAsked();
              }}
            >
              Cancel
            </button>
          </span>
        ) : (
          (continued || mayDelete || mayReact) && (
            <span className={picking ? "actions message-actions open" : "actions message-actions"}>
              {continued && time}
              {mayReact &&
                (picking ? (
                  <span
                    className="picker"
                    role="group"
                    aria-label="React with"
                    onKeyDown={(e) => {
                      if (e.key === "Escape") {
                        e.stopPropagation();
                        closePicker(true);
                      }
                    }}
                    onBlur={(e) => {
                      if (!e.currentTarget.contains(e.relatedTarget as Node | null)) closePicker(false);
                    }}
                    data-testid="reaction-picker"
                  >
                    {QUICK_REACTIONS.map((emoji, i) => (
                      <button
                        key={emoji}
                        autoFocus={i === 0}
                        aria-label={`React with ${emoji}`}
                        onClick={() => {
                          closePicker(true);
                          onReact(emoji, true);
                        }}
                        data-testid="pick-reaction"
                      >
                        {emoji}
                      </button>
                    ))}
                  </span>
                ) : (
                  <button ref={reactButton} onClick={() => setPicking(true)} data-testid="react">
                    React
                  </button>
                ))}
              {editable && !message.deleted && (
                <button onClick={() => onEditing(true)} data-testid="edit-message">
                  Edit
                </button>
              )}
              {mayDelete && (
                <button onClick={() => setAsking(true)} data-testid="delete-message">
                  Delete
                </button>
              )}
            </span>
          )
        ))}
    </li>
  );
}

/** The message's text to change: mentions read as their labels ("@Name", "@Name (email)" when two share
 *  it) and are still mentions once saved; saved unchanged, the message stays as it was. */
function EditBox({
  message,
  user,
  members,
  onSave,
  onCancel,
}: {
  message: Message;
  user: User;
  members: Member[];
  onSave: (content: string) => void;
  onCancel: () => void;
}) {
  const [opened] = useState(() => readable(message.content, members));
  const [draft, setDraft] = useState(opened.text);
  return (
    <MentionComposer
      draft={draft}
      onDraft={setDraft}
      // Unchanged, the message as it was (not its mentions read back and written again).
      onSend={(content) => onSave(draft.trim() === opened.text.trim() ? message.content : content)}
      members={members}
      me={user.id}
      placeholder="Edit message"
      picks={opened.picks}
      editing={{ onCancel }}
    />
  );
}
