// A team's members with roles and who is online; owners and admins add people by email.
import { type FormEvent, useEffect, useState } from "react";
import { commands, type Role, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { loadMembers, useTeam } from "../../lib/team/store";

export function Members({ team }: { team: TeamMembership }) {
  const { members, online } = useTeam(team.id);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [error, setError] = useState<string | null>(null);
  const canInvite = team.role === "owner" || team.role === "admin";

  // The room keeps the roster current once joined; loading it as well shows it offline (from the cache).
  useEffect(() => {
    loadMembers(team.id).catch((e) => setError(messageOf(e)));
  }, [team.id]);

  async function invite(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await call(commands.invite(team.id, email, role));
      setEmail("");
      await loadMembers(team.id);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <section className="panel">
      <h2>Members</h2>
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
      {canInvite && (
        <form onSubmit={invite} className="inline">
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} placeholder="teammate@example.com" required data-testid="invite-email" />
          <select value={role} onChange={(e) => setRole(e.target.value as Role)} aria-label="Role">
            <option value="viewer">Viewer</option>
            <option value="member">Member</option>
            <option value="admin">Admin</option>
          </select>
          <button type="submit" data-testid="invite">
            Add
          </button>
        </form>
      )}
      <ErrorLine error={error} />
    </section>
  );
}
