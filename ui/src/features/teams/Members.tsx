// A team's members with roles and who is online; owners and admins add people by email.
import { type FormEvent, useEffect, useState } from "react";
import { commands, type Member, type Role, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { subscribeRoom } from "../../lib/events";

export function Members({ team }: { team: TeamMembership }) {
  const [members, setMembers] = useState<Member[]>([]);
  const [online, setOnline] = useState<Set<string>>(new Set());
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [error, setError] = useState<string | null>(null);
  const canInvite = team.role === "owner" || team.role === "admin";

  const load = () => call(commands.members(team.id)).then(setMembers, (e) => setError(messageOf(e)));

  useEffect(() => {
    void load();
    const unlisten = subscribeRoom(team.id, (frame) => {
      if (frame.type === "team_state") {
        setMembers(frame.members.map((m) => ({ user_id: m.user_id, email: m.email, display_name: m.display_name, role: m.role, joined_at: m.joined_at })));
        setOnline(new Set(frame.members.filter((m) => m.online).map((m) => m.user_id)));
      } else if (frame.type === "user_joined") {
        setOnline((s) => new Set(s).add(frame.user_id));
      } else if (frame.type === "user_left") {
        setOnline((s) => {
          const next = new Set(s);
          next.delete(frame.user_id);
          return next;
        });
      } else if (frame.type === "member_changed") {
        void load();
      }
    });
    // The room sends a fresh team_state on join: ask for it so the online dots are right at once.
    call(commands.joinTeam(team.id)).catch(() => {});
    return unlisten;
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
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
