// "Invite people": an owner or admin makes an invitation link (a role never above their own, optionally
// bound to one email, with an expiry), copies it to pass on, and sees and revokes the team's pending ones.
import { type FormEvent, useEffect, useRef, useState } from "react";
import { commands, type Invitation, type Role, type TeamMembership } from "../../bindings";
import { call, explain, isRefusal } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { COPY_FAILED, DEFAULT_EXPIRY, EXPIRY, INVITE_REFUSED, LIST_REFUSED, REVOKE_REFUSED, ROLE_NAME, roleWithHint, rolesUpTo, until } from "./words";

export function InviteDialog({ team, onClose }: { team: TeamMembership; onClose: () => void }) {
  const [role, setRole] = useState<Role>("member");
  const [email, setEmail] = useState("");
  const [hours, setHours] = useState(DEFAULT_EXPIRY);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Invitation | null>(null);
  const [copied, setCopied] = useState(false);
  const [pending, setPending] = useState<Invitation[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [listError, setListError] = useState<string | null>(null);
  const link = useRef<HTMLInputElement>(null);

  useEffect(() => {
    call(commands.invitations(team.id)).then(setPending, (e) => setListError(explain(e, LIST_REFUSED)));
  }, [team.id]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setCopied(false);
    try {
      const invitation = await call(commands.invite(team.id, role, email.trim() || null, hours));
      setCreated(invitation);
      setEmail("");
      // The answer is the only time the link is shown; the list keeps the rest.
      setPending((list) => [...(list ?? []), { ...invitation, token: null, url: null }]);
    } catch (e) {
      setError(explain(e, INVITE_REFUSED));
    } finally {
      setBusy(false);
    }
  }

  async function copy() {
    if (!created?.url) return;
    setError(null);
    try {
      // Only a user's click may write the clipboard; this runs inside the Copy button's.
      await navigator.clipboard.writeText(created.url);
      setCopied(true);
    } catch {
      link.current?.select();
      setError(COPY_FAILED);
    }
  }

  async function revoke(invitation: Invitation) {
    setListError(null);
    try {
      await call(commands.revokeInvitation(team.id, invitation.id));
    } catch (e) {
      setListError(explain(e, REVOKE_REFUSED));
      // Refused as no longer pending: it is off the relay's list as well, so off this one too.
      if (!isRefusal(e, "not_found")) return;
    }
    setPending((list) => list?.filter((i) => i.id !== invitation.id) ?? null);
    if (created?.id === invitation.id) setCreated(null);
  }

  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <section className="dialog" role="dialog" aria-modal="true" aria-labelledby="invite-title" data-testid="invite-dialog">
        <header>
          <h2 id="invite-title">Invite people to {team.name}</h2>
          <button type="button" className="close" onClick={onClose} aria-label="Close" data-testid="invite-close">
            ×
          </button>
        </header>
        <form className="fields" onSubmit={create}>
          <label>
            Role
            <select value={role} onChange={(e) => setRole(e.target.value as Role)} autoFocus data-testid="invite-role">
              {rolesUpTo(team.role).map((r) => (
                <option key={r} value={r}>
                  {roleWithHint(r)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Email (optional)
            <input
              type="email"
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              placeholder="Anyone with the link can join"
              data-testid="invite-email"
            />
            <small>With an email, only that person can use the link, and it waits for them when they sign in.</small>
          </label>
          <label>
            Link expires after
            <select value={hours} onChange={(e) => setHours(Number(e.target.value))} data-testid="invite-expiry">
              {EXPIRY.map(([h, label]) => (
                <option key={h} value={h}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="primary" disabled={busy} data-testid="invite-create">
            {busy ? "…" : "Create invitation link"}
          </button>
        </form>
        {created?.url && (
          <div className="link-box" data-testid="invite-link-box">
            <input ref={link} readOnly value={created.url} onFocus={(e) => e.target.select()} aria-label="Invitation link" data-testid="invite-link" />
            <button type="button" onClick={copy} data-testid="invite-copy">
              Copy
            </button>
            {copied && (
              <span className="copied" role="status" data-testid="invite-copied">
                Copied
              </span>
            )}
          </div>
        )}
        <ErrorLine error={error} testId="invite-error" />
        <h3>Pending invitations</h3>
        {pending?.length === 0 && <p className="empty">None: every invitation was used, revoked or has expired.</p>}
        <ul className="invitations" data-testid="team-invitations">
          {pending?.map((i) => (
            <li key={i.id} data-testid="team-invitation">
              <span className="role">{ROLE_NAME[i.role]}</span>
              <span className="who">{i.email ?? "Anyone with the link"}</span>
              <span className="when">until {until(i.expires_at)}</span>
              <button type="button" onClick={() => revoke(i)} data-testid="invite-revoke">
                Revoke
              </button>
            </li>
          ))}
        </ul>
        <ErrorLine error={listError} testId="invitations-error" />
      </section>
    </div>
  );
}
