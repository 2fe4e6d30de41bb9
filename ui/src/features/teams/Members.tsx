// A team's members with roles and who is online; owners and admins add people by email.
import { type FormEvent, useEffect, useState } from "react";
import { commands, type Member, type Role, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { subscribeRoom } from "../../lib/events";
import { ErrorLine } from "../../lib/ErrorLine";

/** `online`: the user ids with a device in the team's room now (the workspace follows the room). */
export function Members({ team, online }: { team: TeamMembership; online: Set<string> }) {
  const [members, setMembers] = useState<Member[]>([]);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [error, setError] = useState<string | null>(null);
  const canInvite = team.role === "owner" || team.role === "admin";

  const load = () => call(commands.members(team.id)).then(setMembers, (e) => setError(messageOf(e)));

  useEffect(() => {
    void load();
    return subscribeRoom(team.id, (frame) => {
      if (frame.type === "member_changed") void load();
    });
  }, [team.id]);

  async function invite(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await call(commands.invite(team.id, email, role));
      setEmail("");
      await load();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <section className="panel">
      <h2>Members</h2>
      <ul className="members" data-testid="members">
        {members.map((m) => (
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
