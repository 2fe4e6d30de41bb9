// A team's members with roles and who is online. Owners and admins open "Invite people", change roles and
// remove people here, with the relay's rules shown before the click (rules.ts); anyone may leave, except the
// team's only owner. People show once they accepted an invitation (the room's membership change brings
// them in); a role change or removal arrives the same way.
import { Avatar } from "../people/Avatar";
import { useEffect, useState } from "react";
import { commands, type Member, type Role, type TeamMembership, type User } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { useReconnects } from "../../lib/reconnects";
import { loadMembers, useTeam } from "../../lib/team/store";
import { allowed, canManage, mayLeave } from "./rules";

export function Members(props: { team: TeamMembership; user?: User; onInvite?: () => void; onLeft?: () => void }) {
  const { team, user, onInvite, onLeft } = props;
  const { members, online } = useTeam(team.id);
  // What an action met, and why the roster could not be read (cleared by the next read that succeeds).
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  // A role change asked again before it is made: one's own (nobody raises their own role back) and making
  // an owner (who may delete the team). A choice in a menu is too easy to make by accident for those.
  const [confirmingRole, setConfirmingRole] = useState<{ member: Member; role: Role } | null>(null);
  const [leaving, setLeaving] = useState(false);
  const canInvite = canManage(team.role);
  const list = [...members.values()];
  const owners = list.filter((m) => m.role === "owner").length;
  // My role as the roster has it (the room keeps it current), else as the team list had it.
  const myRole: Role = (user && members.get(user.id)?.role) || team.role;

  // The room keeps the roster current once joined; loading it as well shows it offline (from the cache),
  // and once the relay is back when it was never fetched.
  const reconnects = useReconnects();
  useEffect(() => {
    // Only the latest read says whether the roster could be read.
    let latest = true;
    loadMembers(team.id).then(
      () => latest && setLoadError(null),
      (e) => latest && setLoadError(messageOf(e)),
    );
    return () => {
      latest = false;
    };
  }, [team.id, reconnects]);

  async function act(what: Promise<unknown>) {
    setError(null);
    try {
      await what;
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function changeRole(member: Member, role: Role) {
    setConfirmingRole(null);
    await act(call(commands.changeRole(team.id, member.user_id, role)).then(() => loadMembers(team.id)));
  }

  async function leave() {
    setError(null);
    try {
      await call(commands.leaveTeam(team.id));
      onLeft?.();
    } catch (e) {
      setError(messageOf(e));
      setLeaving(false);
    }
  }

  const row = (m: Member) => {
    const rules = user ? allowed({ id: user.id, role: myRole }, m, owners) : { roles: [], remove: false, why: null };
    const label = `Role of ${m.display_name}`;
    return (
      <li key={m.user_id} data-testid="member">
        <Avatar userId={m.user_id} name={m.display_name} online={online.has(m.user_id)} />
        <span className="name">{m.display_name}</span>
        <span className="email">{m.email}</span>
        {rules.roles.length > 0 ? (
          <select
            className="role"
            aria-label={label}
            value={m.role}
            onChange={(e) => {
              const role = e.target.value as Role;
              if (m.user_id === user?.id || role === "owner") setConfirmingRole({ member: m, role });
              else void changeRole(m, role);
            }}
            data-testid="member-role"
          >
            {rules.roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          <span className="role">{m.role}</span>
        )}
        {confirmingRole?.member.user_id === m.user_id && (
          <span className="confirm" data-testid="confirm-role">
            {m.user_id === user?.id
              ? `Make yourself ${confirmingRole.role}? You cannot raise your own role again.`
              : `Make ${m.display_name} an owner? Owners can change anyone's role and delete the team.`}
            <button className="danger" onClick={() => void changeRole(m, confirmingRole.role)} data-testid="confirm-role-change">
              Change role
            </button>
            <button onClick={() => setConfirmingRole(null)}>Cancel</button>
          </span>
        )}
        {removing === m.user_id ? (
          <span className="confirm">
            Remove {m.display_name}?
            <button className="danger" onClick={() => void act(call(commands.removeMember(team.id, m.user_id)).then(() => setRemoving(null)))} data-testid="confirm-remove">
              Remove
            </button>
            <button onClick={() => setRemoving(null)}>Cancel</button>
          </span>
        ) : (
          rules.remove && (
            <button onClick={() => setRemoving(m.user_id)} aria-label={`Remove ${m.display_name}`} data-testid="remove-member">
              Remove
            </button>
          )
        )}
        {rules.why && canManage(myRole) && (
          <small className="why" data-testid="member-why">
            {rules.why}
          </small>
        )}
      </li>
    );
  };

  return (
    <section className="panel">
      <header className="panel-head">
        <h2>Members</h2>
        {canInvite && onInvite && (
          <button type="button" className="primary" onClick={onInvite} data-testid="invite-people">
            Invite people
          </button>
        )}
      </header>
      <ul className="members" data-testid="members">
        {list.map(row)}
      </ul>
      <ErrorLine error={error ?? loadError} />
      {/* Whether one may leave depends on the roster: nothing is said before it is known. */}
      {user && list.length > 0 && (
        <footer className="leave">
          {!mayLeave(myRole, owners) ? (
            <p className="empty" data-testid="leave-blocked">
              You are the team's only owner: make someone else owner before you leave.
            </p>
          ) : leaving ? (
            <span className="confirm">
              Leave {team.name}? You lose access to its chat, projects and documents.
              <button className="danger" onClick={() => void leave()} data-testid="confirm-leave">
                Leave team
              </button>
              <button onClick={() => setLeaving(false)}>Cancel</button>
            </span>
          ) : (
            <button onClick={() => setLeaving(true)} data-testid="leave-team">
              Leave team
            </button>
          )}
        </footer>
      )}
    </section>
  );
}
