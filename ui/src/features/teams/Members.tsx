// A team's members with roles and who is online; owners and admins open "Invite people" from here. People
// show once they accepted an invitation (the room's membership change brings them in).
import { useEffect, useState } from "react";
import type { TeamMembership } from "../../bindings";
import { messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { loadMembers, useTeam } from "../../lib/team/store";

export function Members({ team, onInvite }: { team: TeamMembership; onInvite?: () => void }) {
  const { members, online } = useTeam(team.id);
  const [error, setError] = useState<string | null>(null);
  const canInvite = team.role === "owner" || team.role === "admin";

  // The room keeps the roster current once joined; loading it as well shows it offline (from the cache).
  useEffect(() => {
    loadMembers(team.id).catch((e) => setError(messageOf(e)));
  }, [team.id]);

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
        {[...members.values()].map((m) => (
          <li key={m.user_id} data-testid="member">
            <span className={`presence ${online.has(m.user_id) ? "on" : "off"}`} title={online.has(m.user_id) ? "Online" : "Offline"} />
            <span className="name">{m.display_name}</span>
            <span className="email">{m.email}</span>
            <span className="role">{m.role}</span>
          </li>
        ))}
      </ul>
      <ErrorLine error={error} />
    </section>
  );
}
