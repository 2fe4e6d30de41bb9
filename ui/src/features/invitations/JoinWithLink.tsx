// For someone who already has an account and was sent a link: paste it, join the team.
import { type FormEvent, useState } from "react";
import { commands, type TeamMembership } from "../../bindings";
import { call, explain } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { NOT_A_LINK, parseInvitationLink } from "../../lib/invitation";
import { ANSWER_REFUSED } from "./words";

export function JoinWithLink({ onJoined }: { onJoined: (team: TeamMembership) => void }) {
  const [link, setLink] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function join(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (!parseInvitationLink(link)) return setError(NOT_A_LINK);
    setBusy(true);
    try {
      const team = await call(commands.acceptInvitation(link));
      setLink("");
      onJoined(team);
    } catch (e) {
      setError(explain(e, ANSWER_REFUSED));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={join} className="join" aria-labelledby="join-title">
      <span id="join-title" className="label">
        Join with a link
      </span>
      <div className="inline">
        <input value={link} onChange={(e) => setLink(e.target.value)} placeholder="Invitation link" aria-label="Invitation link" required spellCheck={false} data-testid="join-link" />
        <button type="submit" disabled={busy} data-testid="join-with-link">
          Join
        </button>
      </div>
      <ErrorLine error={error} testId="join-link-error" />
    </form>
  );
}
