// The invitations waiting for the signed-in person, on the home screen from sign-in on: Accept joins the
// team (handed to `onJoined`, which puts it in the team switcher), Decline drops it. Nothing shows when
// none wait.
import { useEffect, useRef, useState } from "react";
import { commands, type PendingInvitation, type TeamMembership } from "../../bindings";
import { AppFailure, call, explain, isRefusal } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { useReconnects } from "../../lib/reconnects";
import { ANSWER_REFUSED, ROLE_NAME, until } from "./words";

export function PendingInvitations({ onJoined }: { onJoined: (team: TeamMembership) => void }) {
  const [pending, setPending] = useState<PendingInvitation[]>([]);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Counts answers given: a list asked for before the latest one could still hold what was answered.
  const answered = useRef(0);

  // And when the relay is back: the list offline waits for the next look.
  const reconnects = useReconnects();
  useEffect(() => {
    const load = () => {
      const asked = answered.current;
      return call(commands.pendingInvitations()).then(
        (list) => answered.current === asked && setPending(list),
        (e) => {
          // Offline, the list waits for the next look; nothing is wrong with the invitations.
          if (e instanceof AppFailure && (e.error.kind === "offline" || e.error.kind === "not_cached")) return;
          setError(explain(e, {}));
        },
      );
    };
    void load();
    // Invitations made while the app was open show when the person comes back to it.
    window.addEventListener("focus", load);
    return () => window.removeEventListener("focus", load);
  }, [reconnects]);

  async function answer(invitation: PendingInvitation, accept: boolean) {
    answered.current += 1;
    setBusy(invitation.id);
    setError(null);
    const drop = () => setPending((list) => list.filter((i) => i.id !== invitation.id));
    try {
      if (accept) {
        const team = await call(commands.acceptInvitation(invitation.token));
        drop();
        onJoined(team);
      } else {
        await call(commands.declineInvitation(invitation.token));
        drop();
      }
    } catch (e) {
      setError(explain(e, ANSWER_REFUSED));
      // Used, revoked or expired meanwhile: there is nothing left to answer.
      if (isRefusal(e, "not_found")) drop();
    } finally {
      setBusy(null);
    }
  }

  if (pending.length === 0 && !error) return null;
  return (
    <section className="pending-invitations" aria-label="Invitations for you" data-testid="pending-invitations">
      <ul>
        {pending.map((i) => (
          <li key={i.id} data-testid="pending-invitation">
            <span className="offer">
              <span>
                <strong>{i.inviter_name}</strong> invited you to join <strong>{i.team_name}</strong> as {ROLE_NAME[i.role].toLowerCase()}
              </span>
              <small>until {until(i.expires_at)}</small>
            </span>
            <button type="button" className="primary" disabled={busy !== null} onClick={() => answer(i, true)} data-testid="accept-invitation">
              Accept
            </button>
            <button type="button" disabled={busy !== null} onClick={() => answer(i, false)} data-testid="decline-invitation">
              Decline
            </button>
          </li>
        ))}
      </ul>
      <ErrorLine error={error} testId="pending-invitations-error" />
    </section>
  );
}
