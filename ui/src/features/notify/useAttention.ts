// The workspace's side of being told: read states of every team kept current from the rooms, the total on
// the window title and badge, marking read what is on screen while the window is focused, and notifying
// (natively, and in the in-app list) as `shouldNotify` decides. The desktop notification plugin reports no
// click on desktop platforms, so focusing the window after a notification opens its conversation.
import { useEffect, useRef, useState } from "react";
import { commands, events, type Message, type MessageId, type ReadState, type TeamId, type TeamMembership, type User } from "../../bindings";
import { call } from "../../lib/call";
import { subscribe } from "../../lib/events";
import { useReconnects } from "../../lib/reconnects";
import { plainText } from "../chat/mentions";
import { applyFrame, applyState, countsMayChange, type NotifySettings, type ReadStates, shouldNotify, totalUnread, windowTitle } from "./attention";

export type Notice = { id: string; team: TeamId; teamName: string; why: "mention" | "message"; title: string; body: string; seq: number };

const KEPT_NOTICES = 20;

export function useAttention(user: User, teams: TeamMembership[], viewing: TeamId | null, open: (team: TeamId) => void) {
  const [states, setStates] = useState<ReadStates>(new Map());
  const [settings, setSettings] = useState<NotifySettings>({ every_message_unfocused: false, muted: [] });
  const [notices, setNotices] = useState<Notice[]>([]);
  const [focused, setFocused] = useState(() => document.hasFocus());
  // Read by the room handler, which is subscribed once.
  const situation = useRef({ settings, focused, viewing, teams });
  situation.current = { settings, focused, viewing, teams };
  // The conversation of the last notification not looked at yet: opened when the window gets the focus.
  const toOpen = useRef<TeamId | null>(null);

  // Read again when the link returns too: messages that came while this device was away arrive in no room
  // frame, so only the relay's counts have them.
  const teamIds = teams.map((t) => t.id).join(",");
  const reconnects = useReconnects();
  useEffect(() => {
    if (teams.length === 0) return;
    call(commands.readStates()).then((list) => setStates((s) => list.reduce(applyState, s)), () => {});
  }, [teamIds, reconnects]);

  useEffect(() => {
    call(commands.notificationSettings()).then(setSettings, () => {});
    const onFocus = () => {
      setFocused(true);
      const team = toOpen.current;
      toOpen.current = null;
      if (team) open(team);
    };
    const onBlur = () => setFocused(false);
    window.addEventListener("focus", onFocus);
    window.addEventListener("blur", onBlur);
    const stop = subscribe(events.roomEvent, ({ team_id, frame }) => {
      setStates((s) => applyFrame(s, team_id, frame, user.id));
      if (frame.type === "new_message") consider(frame.message);
      if (frame.type === "message_changed") changed(frame.message);
    });
    return () => {
      window.removeEventListener("focus", onFocus);
      window.removeEventListener("blur", onBlur);
      stop();
    };
  }, [user.id]);

  function consider(message: Message) {
    const now = situation.current;
    const why = shouldNotify(message, { me: user.id, ...now });
    if (!why) return;
    const teamName = now.teams.find((t) => t.id === message.team_id)?.name ?? "a team";
    const title = why === "mention" ? `${message.author_name} mentioned you in ${teamName}` : `${message.author_name} in ${teamName}`;
    const notice: Notice = { id: message.id, team: message.team_id, teamName, why, title, body: plainText(message.content), seq: message.seq };
    setNotices((n) => [notice, ...n.filter((x) => x.id !== notice.id)].slice(0, KEPT_NOTICES));
    if (!now.focused) toOpen.current = message.team_id;
    call(commands.notify(title, notice.body)).catch(() => {});
  }

  // The team whose counts are being read again, and whether another change came meanwhile (then read once
  // more when that answers): a burst of deletions costs two reads, not one per message.
  const recounting = useRef(new Map<TeamId, boolean>());
  function recount(team: TeamId) {
    if (recounting.current.has(team)) {
      recounting.current.set(team, true);
      return;
    }
    recounting.current.set(team, false);
    const done = () => {
      const again = recounting.current.get(team);
      recounting.current.delete(team);
      if (again) recount(team);
    };
    call(commands.readState(team)).then((state) => setStates((s) => applyState(s, state)), () => {}).finally(done);
  }

  const edits = useRef(new Map<MessageId, string>());
  /** A message edited or deleted: a notice of it says what it says now, or goes with it; the team's counts
   * (a deleted message is no longer unread, an edit may mention someone) are the relay's again. A reaction
   * changes neither. */
  function changed(message: Message) {
    setNotices((all) =>
      message.deleted
        ? all.filter((n) => n.id !== message.id)
        : all.map((n) => (n.id === message.id ? { ...n, body: plainText(message.content) } : n)),
    );
    if (countsMayChange(message, edits.current)) recount(message.team_id);
  }

  const total = totalUnread(states);
  useEffect(() => {
    document.title = windowTitle(total);
    call(commands.setUnreadTotal(total)).catch(() => {});
  }, [total]);

  /** The chat on screen shows up to `seq`: read, if the person can see it. */
  function seen(team: TeamId, seq: number) {
    if (!situation.current.focused) return;
    const state = states.get(team);
    if (state && state.read_seq >= seq) return;
    call(commands.markRead(team, seq)).then((s: ReadState) => setStates((all) => applyState(all, s)), () => {});
  }

  // Coming back to a chat that got messages meanwhile reads them.
  useEffect(() => {
    if (!focused || !viewing) return;
    const state = states.get(viewing);
    if (state && state.latest_seq > state.read_seq) seen(viewing, state.latest_seq);
  }, [focused, viewing]);

  async function mute(team: TeamId, muted: boolean) {
    setSettings(await call(commands.setTeamMuted(team, muted)));
  }

  async function everyMessage(on: boolean) {
    setSettings(await call(commands.setEveryMessageUnfocused(on)));
  }

  return { states, total, settings, notices, seen, mute, everyMessage };
}
