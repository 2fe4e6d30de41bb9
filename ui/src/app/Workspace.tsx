// The signed-in frame: team switcher (with unread counts), sections, sync indicator, notifications, the
// invitations waiting for this person; joins every team's room (so counts and mentions arrive for all) and
// feeds the team store from the rooms while someone is signed in.
import { forgetRepo, handOverHeld } from "../features/editor/lifetime";
import { type FormEvent, lazy, Suspense, useEffect, useRef, useState } from "react";
import { commands, events, type OpenedLink, type SearchHit, type TeamMembership, type User } from "../bindings";
import { call, messageOf } from "../lib/call";
import { subscribe } from "../lib/events";
import { followRooms } from "../lib/team/store";
import { Activity } from "../features/activity/Activity";
import { Chat } from "../features/chat/Chat";
import { forgetDrafts } from "../features/chat/drafts";
import { Documents } from "../features/editor/Documents";
import { InviteDialog } from "../features/invitations/InviteDialog";
import { JoinWithLink } from "../features/invitations/JoinWithLink";
import { PendingInvitations } from "../features/invitations/PendingInvitations";
import { Projects } from "../features/projects/Projects";
import { SearchPalette } from "../features/search/SearchPalette";
import { currentStatus, followStatus } from "../features/sync/status";
import { SyncIndicator } from "../features/sync/SyncIndicator";
import { unsentWork } from "../features/sync/summary";
import { RefusedChanges } from "../features/sync/RefusedChanges";
import { SignOutConfirm } from "../features/auth/SignOutConfirm";
import { TeamSettings } from "../features/settings/TeamSettings";
import { AccountSettings } from "../features/account/AccountSettings";
import { Members } from "../features/teams/Members";
import { membershipMayHaveChanged, noLongerMember, stillListed } from "../features/teams/membership";
import { teamLabel } from "../features/notify/attention";
import { UnreadElsewhere } from "../features/notify/UnreadElsewhere";
import { NotificationsPanel } from "../features/notify/NotificationsPanel";
import { useAttention } from "../features/notify/useAttention";
import { ErrorLine } from "../lib/ErrorLine";
import { ScreenBoundary } from "../lib/ScreenBoundary";
import { ThemeSwitcher } from "../features/appearance/ThemeSwitcher";
import { ShortcutsHelp } from "../features/shortcuts/ShortcutsHelp";
import { MAC, shortcutFor } from "../features/shortcuts/shortcuts";

type Section = "chat" | "projects" | "documents" | "members" | "activity" | "analytics" | "settings";
const SECTIONS: [Section, string][] = [
  ["chat", "Chat"],
  ["projects", "Projects"],
  ["documents", "Documents"],
  ["members", "Members"],
  ["activity", "Activity"],
  ["analytics", "Analytics"],
  ["settings", "Settings"],
];

// The charts library loads with the Analytics screen, not with the app.
const Analytics = lazy(() => import("../features/analytics/Analytics").then((m) => ({ default: m.Analytics })));

/** How long signing out waits for the window's document to hand its edits to the node before asking. */
const SIGN_OUT_HAND_OVER_MS = 2000;


type WorkspaceProps = {
  user: User;
  onSignedOut: () => void;
  /** The signed-in account changed (a new display name). */
  onUserChanged?: (user: User) => void;
  /** A link the app was opened with, for "Join with a link"; `onOpenedTaken` once it filled the form. */
  opened?: OpenedLink | null;
  onOpenedTaken?: () => void;
};

export function Workspace({ user, onSignedOut, onUserChanged, opened = null, onOpenedTaken = () => {} }: WorkspaceProps) {
  const [teams, setTeams] = useState<TeamMembership[]>([]);
  const [teamId, setTeamId] = useState<string | null>(null);
  const [section, setSection] = useState<Section>("chat");
  const [error, setError] = useState<string | null>(null);
  // Told once a team is no longer this person's (removed, or the team deleted, elsewhere).
  const [notice, setNotice] = useState<string | null>(null);
  const [newTeam, setNewTeam] = useState("");
  const [openDoc, setOpenDoc] = useState<string | null>(null);
  const [searching, setSearching] = useState(false);
  // What a search result asked to show; kept across the team switch it may cause.
  const [found, setFound] = useState<SearchHit | null>(null);

  const [helping, setHelping] = useState(false);
  // Ctrl+K (Cmd+K on macOS) opens search from anywhere, `?` the shortcuts (not while typing), Alt+digit a
  // section (see features/shortcuts).
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const action = shortcutFor(e);
      if (!action) return;
      e.preventDefault();
      if (action.type === "search") setSearching(true);
      if (action.type === "help") setHelping(true);
      if (action.type === "section" && SECTIONS[action.index]) go(SECTIONS[action.index][0]);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  function openHit(hit: SearchHit) {
    setSearching(false);
    setFound(hit);
    setTeamId(hit.team_id);
    if (hit.target.kind === "message") setSection("chat");
    if (hit.target.kind === "project") setSection("projects");
    if (hit.target.kind === "document") {
      setSection("documents");
      setOpenDoc(hit.target.url);
    }
  }
  const [inviting, setInviting] = useState(false);
  const [reviewing, setReviewing] = useState(false);
  /** What signing out would lose, while the person is asked whether to sign out anyway. */
  const [confirmingSignOut, setConfirmingSignOut] = useState<string | null>(null);
  const [notifying, setNotifying] = useState(false);
  const [noticesSeen, setNoticesSeen] = useState(0);

  /** A notification's conversation: its team's chat. */
  /** A team's chat; at message `seq` when a notification names one, else at its newest. */
  function openConversation(team: string, seq?: number) {
    setTeamId(team);
    setSection("chat");
    setNotifying(false);
    setFound(seq === undefined ? null : { team_id: team, target: { kind: "message", seq }, title: "", snippet: "" });
  }

  /** Another section, chosen by the person: what a search or a notification asked to show is done with. */
  function go(to: Section) {
    setSection(to);
    setFound(null);
  }
  const attention = useAttention(user, teams, section === "chat" ? teamId : null, openConversation);

  // Before any team is joined, so the store sees each room's first frame. (The link's returns are followed
  // by the app itself, from before the workspace: `App`.)
  useEffect(followRooms, []);

  // The node's status, for every part of the window that shows some of it (`useStatus`); the workspace
  // itself only hears a sign-in revoked (or expired for good): back to the sign-in screen.
  useEffect(
    () =>
      followStatus((status, fromEvent) => {
        if (fromEvent && !status.signed_in) signedOut();
      }),
    [],
  );

  // Only the latest list counts: the first load can answer after a team created meanwhile was listed,
  // and would take it off the switcher again.
  const teamsAsked = useRef(0);
  async function loadTeams(select?: string) {
    const asked = ++teamsAsked.current;
    try {
      const list = await call(commands.teams());
      if (asked !== teamsAsked.current) return;
      setTeams(list);
      setTeamId((current) => select ?? current ?? list[0]?.id ?? null);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  useEffect(() => {
    void loadTeams();
  }, []);

  useEffect(() => {
    if (!teamId) return;
    // A document opened from search in this team stays open through the switch.
    setOpenDoc(found?.team_id === teamId && found.target.kind === "document" ? found.target.url : null);
    setInviting(false);
    call(commands.joinTeam(teamId)).catch((e) => setError(messageOf(e)));
  }, [teamId]);

  // Every team's room, so unread counts and mentions arrive for teams not on screen too.
  useEffect(() => {
    for (const t of teams) call(commands.joinTeam(t.id)).catch(() => {});
  }, [teams.map((t) => t.id).join(",")]);

  // The latest teams and team on screen, for the room frames' handler below.
  const shown = useRef({ teams, teamId });
  shown.current = { teams, teamId };

  /** This person's membership of `changed` may have changed elsewhere: the relay's list says how. A team
   * no longer on it leaves the switcher (another one opens if it was on screen) and the person is told. */
  async function recheckMembership(changed: string) {
    const name = shown.current.teams.find((t) => t.id === changed)?.name;
    const asked = ++teamsAsked.current;
    try {
      const list = await call(commands.teams());
      if (asked !== teamsAsked.current) return;
      setTeams(list);
      if (list.some((t) => t.id === changed)) return;
      if (shown.current.teamId === changed) setSection("chat");
      setTeamId((current) => stillListed(current, list));
      if (name) setNotice(noLongerMember(name));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  useEffect(
    () =>
      subscribe(events.roomEvent, ({ team_id, frame }) => {
        if (membershipMayHaveChanged(frame, user.id)) void recheckMembership(team_id);
        // Renamed by an owner or admin, here or on another device: the switcher and the chat follow.
        if (frame.type === "team_renamed") setTeams((list) => list.map((t) => (t.id === frame.team_id ? { ...t, name: frame.name } : t)));
      }),
    [],
  );

  /** A team left or deleted: off the switcher, and another one (or none) chosen. */
  async function forget(gone: string) {
    setTeamId(null);
    setSection("chat");
    const asked = ++teamsAsked.current;
    try {
      const list = (await call(commands.teams())).filter((t) => t.id !== gone);
      if (asked !== teamsAsked.current) return;
      setTeams(list);
      setTeamId((current) => stillListed(current, list));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function createTeam(e: FormEvent) {
    e.preventDefault();
    try {
      const team = await call(commands.createTeam(newTeam));
      setNewTeam("");
      await loadTeams(team.id);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  /** A team joined by accepting an invitation: into the switcher, and opened. */
  async function joined(team: TeamMembership) {
    setSection("chat");
    await loadTeams(team.id);
  }

  /** However the sign-in ended, the window's documents and drafts go with it: the next person starts from nothing. */
  function signedOut() {
    forgetRepo();
    forgetDrafts();
    onSignedOut();
  }

  /** Signs out at once when the relay has everything; otherwise asks first (`confirmed`: asked already). */
  async function signOut(confirmed = false) {
    if (!confirmed) {
      // Asked of the node now, not from the status last shown: edits typed a moment ago go to the node
      // first (the window's document holds them until it confirms), and the answer counts them.
      const handedOver = await handOverHeld(SIGN_OUT_HAND_OVER_MS);
      const now = await call(commands.status()).catch(() => currentStatus());
      const unsent = unsentWork(now) ?? (handedOver ? null : "Edits in an open document have not reached this device's store yet.");
      if (unsent) {
        setConfirmingSignOut(unsent);
        return;
      }
    }
    setConfirmingSignOut(null);
    try {
      await call(commands.signOut());
      signedOut();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  const team = teams.find((t) => t.id === teamId) ?? null;
  return (
    <div className="workspace">
      <aside className="sidebar">
        <div className="me" title={user.email}>
          {user.display_name}
        </div>
        <select value={teamId ?? ""} onChange={(e) => setTeamId(e.target.value || null)} data-testid="team-switcher" aria-label="Team">
          {teams.length === 0 && <option value="">No team yet</option>}
          {teams.map((t) => (
            <option key={t.id} value={t.id} data-testid={`team-option-${t.name}`}>
              {teamLabel(t.name, attention.states.get(t.id))}
            </option>
          ))}
        </select>
        <UnreadElsewhere teams={teams.filter((t) => t.id !== teamId)} states={attention.states} onOpen={openConversation} />
        <form onSubmit={createTeam} className="inline">
          <input value={newTeam} onChange={(e) => setNewTeam(e.target.value)} placeholder="New team name" aria-label="New team name" required data-testid="new-team-name" />
          <button type="submit" data-testid="create-team">
            Create
          </button>
        </form>
        <JoinWithLink onJoined={joined} opened={opened} onOpenedTaken={onOpenedTaken} />
        <nav>
          {SECTIONS.map(([key, label]) => (
            <button
              key={key}
              className={section === key ? "active" : ""}
              onClick={() => go(key)}
              disabled={!team && key !== "settings"}
              aria-current={section === key ? "page" : undefined}
              data-testid={`nav-${key}`}
            >
              {label}
            </button>
          ))}
        </nav>
        <button
          className="notifications-button"
          onClick={() => {
            setNotifying(true);
            setNoticesSeen(attention.notices.length);
          }}
          data-testid="open-notifications"
          aria-label={`Notifications${attention.notices.length > noticesSeen ? `, ${attention.notices.length - noticesSeen} new` : ""}`}
        >
          Notifications
          {attention.notices.length > noticesSeen && (
            <span className="badge" data-testid="notices-new">
              {attention.notices.length - noticesSeen}
            </span>
          )}
        </button>
        <button className="search-button" onClick={() => setSearching(true)} data-testid="open-search" aria-keyshortcuts="Control+K Meta+K">
          Search <kbd>{MAC ? "⌘K" : "Ctrl K"}</kbd>
        </button>
        <SyncIndicator onReview={() => setReviewing(true)} />
        <button className="link" onClick={() => setHelping(true)} aria-keyshortcuts="?" data-testid="open-shortcuts">
          Keyboard shortcuts <kbd>?</kbd>
        </button>
        <button className="link" onClick={() => void signOut()} data-testid="sign-out">
          Sign out
        </button>
      </aside>
      <main className="content">
        <ErrorLine error={error} banner onDismiss={() => setError(null)} />
        {notice && (
          <p className="notice banner" role="status" onClick={() => setNotice(null)} data-testid="membership-notice">
            {notice}
            <button type="button" className="dismiss" aria-label="Dismiss" title="Dismiss" />
          </p>
        )}
        <PendingInvitations onJoined={joined} />
        {/* A screen that fails shows so in its place; choosing another one tries again. */}
        <ScreenBoundary resetKey={`${section} ${team?.id ?? ""} ${openDoc ?? ""}`}>
          {!team && section !== "settings" && <p className="empty">Create a team to start, or ask a teammate for an invitation link.</p>}
          {team && section === "chat" && (
            <Chat
              key={team.id}
              team={team}
              user={user}
              focusSeq={found?.team_id === team.id && found.target.kind === "message" ? found.target.seq : null}
              readSeq={attention.states.get(team.id)?.read_seq ?? null}
              onSeen={(seq) => attention.seen(team.id, seq)}
            />
          )}
          {team && section === "projects" && (
            <Projects
              key={team.id}
              team={team}
              focusProject={found?.team_id === team.id && found.target.kind === "project" ? found.target.project_id : null}
              onFocused={() => setFound(null)}
              onOpenDocument={(url) => {
                setOpenDoc(url);
                setSection("documents");
              }}
            />
          )}
          {team && section === "documents" && <Documents key={team.id} team={team} user={user} open={openDoc} onOpen={setOpenDoc} />}
          {team && section === "members" && (
            <Members key={team.id} team={team} user={user} onInvite={() => setInviting(true)} onLeft={() => void forget(team.id)} />
          )}
          {team && section === "activity" && <Activity key={team.id} team={team} />}
          {team && section === "analytics" && (
            <Suspense fallback={<p className="empty">Loading analytics…</p>}>
              <Analytics key={team.id} team={team} />
            </Suspense>
          )}
          {section === "settings" && (
            // One scroll for the page: the person's appearance, the team's settings, the person's account.
            <div className="panel settings-page">
              <ThemeSwitcher />
              {team && <TeamSettings key={team.id} team={team} onChanged={(deleted) => void (deleted ? forget(team.id) : loadTeams(team.id))} />}
              <AccountSettings user={user} onUserChanged={(u) => onUserChanged?.(u)} onSignedOut={signedOut} />
            </div>
          )}
        </ScreenBoundary>
      </main>
      {searching && <SearchPalette teams={teams} onOpen={openHit} onClose={() => setSearching(false)} />}
      {team && inviting && <InviteDialog team={team} onClose={() => setInviting(false)} />}
      {reviewing && <RefusedChanges teams={teams} onClose={() => setReviewing(false)} />}
      {confirmingSignOut && (
        <SignOutConfirm unsent={confirmingSignOut} onStay={() => setConfirmingSignOut(null)} onSignOut={() => void signOut(true)} />
      )}
      {helping && <ShortcutsHelp sections={SECTIONS.map(([, label]) => label)} onClose={() => setHelping(false)} />}
      {notifying && (
        <NotificationsPanel
          notices={attention.notices}
          teams={teams}
          settings={attention.settings}
          onOpen={(n) => openConversation(n.team, n.seq)}
          onMute={attention.mute}
          onEveryMessage={attention.everyMessage}
          onClose={() => setNotifying(false)}
        />
      )}
    </div>
  );
}
