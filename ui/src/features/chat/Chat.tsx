// Team chat: history that pages in as you scroll up, sending that shows at once (pending, then sent, or
// failed with retry), editing and deleting sent messages (`SentMessage`), "New" where the unread begins,
// who is typing, and @mentions (offered from the roster, highlighted for the person).
import { Avatar } from "../people/Avatar";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { commands, events, type Message, type MessageId, MIRRORED_CLIENT_PREFIX, type OutboxEntry, type TeamMembership, type User } from "../../bindings";
import { AppFailure, call, messageOf } from "../../lib/call";
import { useReconnects } from "../../lib/reconnects";
import { all, subscribe, subscribeRoom } from "../../lib/events";
import { draftOf } from "./drafts";
import { type ChatItem, chatItems, continuesRun, firstUnread, mergeMessages, messageLeftOutbox } from "./model";
import { dayLabel, sameDay } from "../../lib/dates";
import { plainText, segments } from "./mentions";
import { composerRows, MentionComposer } from "./MentionComposer";
import { MessageText, useFormat } from "./MessageText";
import { SentMessage } from "./SentMessage";
import { toggled } from "./reactions";
import { ErrorLine } from "../../lib/ErrorLine";
import { useLatest } from "../../lib/latest";
import { typistNames } from "../../lib/team/live";
import { useTeam } from "../../lib/team/store";

const TYPING_SENT_EVERY_MS = 2000;

/** Whether the sent message at `i` is the first shown of its day (a divider goes above it). */
function startsDay(items: ChatItem[], i: number): boolean {
  const item = items[i];
  if (item.state !== "sent") return false;
  for (let j = i - 1; j >= 0; j--) {
    const before = items[j];
    if (before.state === "sent") return !sameDay(new Date(before.message.created_at), new Date(item.message.created_at));
  }
  return true;
}

export function Chat({
  team,
  user,
  focusSeq = null,
  readSeq = null,
  onSeen,
}: {
  team: TeamMembership;
  user: User;
  focusSeq?: number | null;
  /** The last message this person had read in the team (null until the read states are known). */
  readSeq?: number | null;
  /** The newest message shown, each time it changes: the workspace marks it read while the window is focused. */
  onSeen?: (seq: number) => void;
}) {
  const [messages, setMessages] = useState<Message[]>([]);
  const [outbox, setOutbox] = useState<OutboxEntry[]>([]);
  // Kept for the team beyond this component (`drafts.ts`): a section or team switch loses nothing typed.
  const kept = draftOf(team.id);
  const [draft, setDraft] = useState(kept.text);
  // Only what is typed is kept: a render after the drafts were forgotten (the sign-in ended) writes nothing.
  useEffect(() => {
    draftOf(team.id).text = draft;
  }, [draft]);
  const live = useTeam(team.id);
  const members = useMemo(() => [...live.members.values()], [live.members]);
  const typists = typistNames(live, user.id);
  // The message being edited in place (one at a time).
  const [editing, setEditing] = useState<MessageId | null>(null);
  const [atStart, setAtStart] = useState(false);
  // Paging back reached what this device holds while the relay cannot be reached: older messages wait for
  // the link (the history's start is only known to the relay).
  const [olderOffline, setOlderOffline] = useState(false);
  const reconnects = useReconnects();
  // Whether the first read of the history answered (only then can "no messages" be said).
  const [loaded, setLoaded] = useState(false);
  // What an action met (kept until dismissed), and why the history could not be read (until it is).
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const list = useRef<HTMLOListElement>(null);
  const lastTypingSent = useRef(0);
  const loadingOlder = useRef(false);

  // The outbox as last shown, to tell when one of its messages has gone out; only the latest read of it
  // shows (an earlier read answering late must not bring back what has gone).
  const shownOutbox = useRef<OutboxEntry[]>([]);
  const latestOutbox = useLatest();
  const showOutbox = (next: OutboxEntry[]) => {
    shownOutbox.current = next;
    setOutbox(next);
  };

  const fillGap = () =>
    call(commands.messages(team.id)).then(
      (m) => {
        setMessages((current) => mergeMessages(current, m));
        // Read now (the room is back): whatever kept the first read from answering is over.
        setLoaded(true);
        setLoadError(null);
      },
      () => {},
    );

  const readOutbox = async () => {
    const next = await call(commands.outbox());
    // Delivered while the room was not connected (so no `new_message` came): read it from the history
    // before its entry goes, so that it never disappears in between.
    if (messageLeftOutbox(team.id, shownOutbox.current, next)) await fillGap();
    return next;
  };
  const refreshOutbox = () => latestOutbox(readOutbox()).then(showOutbox, () => {});

  useEffect(() => {
    call(commands.messages(team.id)).then(
      (m) => {
        setMessages((current) => mergeMessages(current, m));
        setLoaded(true);
        setLoadError(null);
      },
      (e) => setLoadError(messageOf(e)),
    );
    void refreshOutbox();
    const room = subscribeRoom(team.id, (frame) => {
      if (frame.type === "new_message" || frame.type === "message_changed") {
        setMessages((current) => mergeMessages(current, [frame.message]));
      } else if (frame.type === "team_state") {
        // Reconnected: fill any gap in what we missed.
        void fillGap();
      }
    });
    // The outbox changes as messages are delivered or refused.
    return all(room, subscribe(events.statusChanged, () => void refreshOutbox()));
  }, [team.id]);

  const items = useMemo(() => chatItems(team.id, messages, outbox), [team.id, messages, outbox]);
  // What was read when the chat opened, so "New" stays where it was while the rest is marked read; the
  // person sending a message has caught up, and it goes.
  const [readWhenOpened, setReadWhenOpened] = useState(readSeq);
  useEffect(() => {
    if (readWhenOpened === null && readSeq !== null) setReadWhenOpened(readSeq);
  }, [readSeq]);
  const unreadKey = firstUnread(items, readWhenOpened, user.id);
  const newest = messages.length > 0 ? messages[messages.length - 1].seq : 0;
  // Marked read only once what was read before is known here, or "New" would start after it.
  useEffect(() => {
    if (newest > 0 && readWhenOpened !== null) onSeen?.(newest);
  }, [newest, readWhenOpened]);

  // The chat opens at its newest message, or at "New" when that is further up (unless it opens at one from
  // search or a notification), and what the person sends brings them there; otherwise it stays at the
  // bottom as messages arrive only while the person is near it, not while they read back.
  const opened = useRef(false);
  const toNewest = useRef(false);
  // Messages are drawn once their formatting can be (its code loads with the first chat): drawn before,
  // they would change height under the reader, after the chat had been scrolled into place.
  const formatter = useFormat();
  const ready = loaded && formatter !== null;
  // A message shown grows (a reaction, an edit, a teammate's longer text) while the person is at the newest:
  // they stay there, the growth in view. Where they were is read from the last scroll (or placing, below),
  // since after the growth the list's own measure says they are not at the bottom any more. Before the
  // placing below, which has the last word when the chat opens or a message arrives.
  const atNewest = useRef(focusSeq === null);
  useLayoutEffect(() => {
    const el = list.current;
    if (el && ready && atNewest.current) el.scrollTop = el.scrollHeight;
  }, [items]);
  useLayoutEffect(() => {
    const el = list.current;
    if (!el || items.length === 0) return;
    // The opening is the history read, not the first items shown: the outbox (this device's own, read
    // without the relay) often answers first.
    const first = ready && !opened.current;
    if (ready) opened.current = true;
    const near = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
    if ((first && focusSeq === null) || toNewest.current || near) el.scrollTop = el.scrollHeight;
    const unread = el.querySelector("[data-testid=new-messages]");
    if (first && focusSeq === null && unread) {
      const above = unread.getBoundingClientRect().top - el.getBoundingClientRect().top;
      if (above < 0) el.scrollTop += above - 8;
    }
    toNewest.current = false;
    atNewest.current = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
  }, [items.length, ready]);

  // The composer grows with its lines and the list gets shorter: whoever was at the newest stays there.
  const draftLines = composerRows(draft);
  useLayoutEffect(() => {
    const el = list.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 160) el.scrollTop = el.scrollHeight;
  }, [draftLines]);

  // The link is back: paging back can ask the relay again (and a search hit still to reach goes on).
  useEffect(() => setOlderOffline(false), [reconnects]);

  // A message opened from search or a notification: page back until it is loaded, then bring it into view,
  // once (new messages and older pages afterwards leave the scroll to the person).
  const broughtIntoView = useRef<number | null>(null);
  useEffect(() => {
    if (focusSeq === null || broughtIntoView.current === focusSeq) return;
    const row = list.current?.querySelector(`[data-seq="${focusSeq}"]`);
    if (row) {
      row.scrollIntoView?.({ block: "center" });
      broughtIntoView.current = focusSeq;
      return;
    }
    const first = messages[0];
    if (first && first.seq > focusSeq) void loadOlder();
  }, [focusSeq, messages, olderOffline, formatter]);

  async function loadOlder() {
    const first = messages[0];
    if (!first || atStart || olderOffline || loadingOlder.current || first.seq <= 1) {
      if (first && first.seq <= 1) setAtStart(true);
      return;
    }
    loadingOlder.current = true;
    const el = list.current;
    const fromBottom = el ? el.scrollHeight - el.scrollTop : 0;
    try {
      const older = await call(commands.olderMessages(team.id, first.seq));
      if (older.length === 0) setAtStart(true);
      setMessages((current) => mergeMessages(current, older));
      // Keep the message the person was reading where it was.
      requestAnimationFrame(() => {
        if (el) el.scrollTop = el.scrollHeight - fromBottom;
      });
    } catch (e) {
      if (e instanceof AppFailure && e.error.kind === "not_cached") setOlderOffline(true);
      else setError(messageOf(e));
    } finally {
      loadingOlder.current = false;
    }
  }

  async function send(content: string) {
    toNewest.current = true;
    setReadWhenOpened(Number.MAX_SAFE_INTEGER);
    setDraft("");
    try {
      const entry = await call(commands.sendMessage(team.id, content));
      showOutbox([...shownOutbox.current.filter((x) => x.client_id !== entry.client_id), entry]);
      void refreshOutbox();
    } catch (e) {
      toNewest.current = false;
      // Back as it was typed: mentions as names (picked again to notify), not their wire form.
      setDraft(plainText(content));
      setError(messageOf(e));
    }
  }

  function onDraft(value: string) {
    setDraft(value);
    const now = Date.now();
    if (value && now - lastTypingSent.current > TYPING_SENT_EVERY_MS) {
      lastTypingSent.current = now;
      call(commands.typing(team.id)).catch(() => {});
    }
  }

  async function retry(clientId: string) {
    try {
      await call(commands.retry(clientId));
    } catch (e) {
      setError(messageOf(e));
    }
    void refreshOutbox();
  }

  /** New text for one of this person's messages: shown at once, delivered through the outbox. */
  async function edit(message: Message, content: string) {
    if (content === message.content) {
      setEditing(null);
      backToComposer();
      return;
    }
    try {
      await call(commands.editMessage(team.id, message.id, content));
      // Closed once queued: refused here (signed out, say), the box stays with what was typed.
      setEditing(null);
      backToComposer();
      const mentions = segments(content).flatMap((s) => ("mention" in s ? [s.mention.userId] : []));
      const edited = { ...message, content, mentions, edited_at: new Date().toISOString() };
      setMessages((current) => mergeMessages(current, [edited]));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function remove(message: Message) {
    backToComposer();
    try {
      await call(commands.deleteMessage(team.id, message.id));
      setMessages((current) => mergeMessages(current, [{ ...message, content: "", mentions: [], deleted: true }]));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  /** This person's emoji on a message or off: shown at once, delivered through the outbox (the relay's copy
   *  replaces this one when the room tells of it). */
  async function react(message: Message, emoji: string, on: boolean) {
    // Shown before it is queued (queuing also tries to deliver, which waits on the relay), and put back
    // if it could not be.
    const flip = (toOn: boolean) =>
      setMessages((current) => {
        const shown = current.find((m) => m.seq === message.seq) ?? message;
        return mergeMessages(current, [{ ...shown, reactions: toggled(shown.reactions ?? [], emoji, toOn, user.id) }]);
      });
    flip(on);
    try {
      await call(commands.react(team.id, message.id, emoji, on));
    } catch (e) {
      flip(!on);
      setError(messageOf(e));
    }
  }

  // The button that had the focus (Save, Cancel, Delete) is gone once it is used: the focus goes back to
  // the composer, not to the page.
  const composer = useRef<HTMLTextAreaElement>(null);
  const backToComposer = () => composer.current?.focus();

  /** Arrow up in the empty composer: the person's newest message that can still be changed. */
  function editLast() {
    if (team.role === "viewer") return;
    const last = [...messages].reverse().find((m) => m.author_id === user.id && !m.deleted && !m.client_id.startsWith(MIRRORED_CLIENT_PREFIX));
    if (last) setEditing(last.id);
  }

  async function discard(clientId: string) {
    try {
      await call(commands.discard(clientId));
    } catch (e) {
      setError(messageOf(e));
    }
    void refreshOutbox();
  }

  /** A refused message back in the composer, to change and send again (a mention of someone who has left,
   *  say, which Retry would only send again as it was): its words are kept, the refused entry goes. */
  async function editRefused(clientId: string, content: string) {
    try {
      await call(commands.discard(clientId));
      // As typed, mentions as names: whoever is still a member is picked again from the list to notify.
      setDraft((current) => (current.trim() === "" ? plainText(content) : `${current} ${plainText(content)}`));
    } catch (e) {
      setError(messageOf(e));
    }
    void refreshOutbox();
  }

  /** A link in a message opens in the system browser; the window never leaves the app. */
  function openLink(url: string) {
    call(commands.openLink(url)).catch((e) => setError(messageOf(e)));
  }

  return (
    <section className="chat">
      <ol
        className="messages"
        ref={list}
        data-testid="messages"
        onScroll={(e) => {
          const el = e.currentTarget;
          atNewest.current = el.scrollHeight - el.scrollTop - el.clientHeight < 120;
          if (el.scrollTop < 40) void loadOlder();
        }}
      >
        {atStart && <li className="start">The beginning of #{team.name}</li>}
        {olderOffline && (
          <li className="start" data-testid="older-offline">
            Older messages show once you're connected.
          </li>
        )}
        {loaded && items.length === 0 && (
          <li className="start empty" data-testid="chat-empty">
            No messages yet. Write the first one below; everyone in the team sees it.
          </li>
        )}
        {formatter !== null && items.map((item, i) => [
          item.state === "sent" && startsDay(items, i) && (
            <li key={`day-${item.key}`} className="day" data-testid="day">
              <span>{dayLabel(new Date(item.message.created_at))}</span>
            </li>
          ),
          item.key === unreadKey && (
            <li key="new-messages" className="day new" data-testid="new-messages">
              <span>New</span>
            </li>
          ),
          item.state === "sent" ? (
            <SentMessage
              key={item.key}
              message={item.message}
              continued={continuesRun(items, i, unreadKey)}
              user={user}
              focused={item.message.seq === focusSeq}
              canWrite={team.role !== "viewer"}
              canDeleteAny={team.role === "admin" || team.role === "owner"}
              members={members}
              editing={editing === item.message.id}
              onEditing={(on) => {
                setEditing(on ? item.message.id : null);
                if (!on) backToComposer();
              }}
              onEdit={(content) => void edit(item.message, content)}
              onDelete={() => void remove(item.message)}
              onReact={(emoji, on) => void react(item.message, emoji, on)}
              onAsked={backToComposer}
              onOpenLink={openLink}
            />
          ) : (
            <li key={item.key} className={`message ${item.state}`} data-testid="message" data-state={item.state}>
              <Avatar userId={user.id} name={user.display_name} size={22} />
              <span className="author">{user.display_name}</span>
              <span className="marker">{item.state === "pending" ? "Sending…" : `Not sent: ${item.error ?? "refused"}`}</span>
              <MessageText content={item.content} me={user.id} onOpenLink={openLink} />
              {item.state === "failed" && (
                <span className="actions">
                  <button onClick={() => retry(item.clientId)} data-testid="retry">
                    Retry
                  </button>
                  <button onClick={() => void editRefused(item.clientId, item.content)} data-testid="edit-failed">
                    Edit
                  </button>
                  <button onClick={() => discard(item.clientId)}>Discard</button>
                </span>
              )}
            </li>
          ),
        ])}
      </ol>
      <div className="typing" aria-live="polite" data-testid="typing">
        {typists.length > 0 && `${typists.join(", ")} ${typists.length === 1 ? "is" : "are"} typing…`}
      </div>
      <ErrorLine error={error ?? loadError} onDismiss={() => (error ? setError(null) : setLoadError(null))} />
      <MentionComposer
        draft={draft}
        onDraft={onDraft}
        onSend={(content) => void send(content)}
        members={members}
        me={user.id}
        placeholder={`Message #${team.name}`}
        picks={kept.picked}
        onEditLast={editLast}
        inputRef={composer}
      />
    </section>
  );
}
