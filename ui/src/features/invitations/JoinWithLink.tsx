// For someone who already has an account and was sent a link: paste it, join the team. A link the app was
// opened with (from the invitation's page) is filled in with what it offers, and Join takes the focus: one
// key joins, and nothing joins without it.
import { type FormEvent, useEffect, useRef, useState } from "react";
import { commands, type OpenedLink, type TeamMembership } from "../../bindings";
import { call, explain } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { NOT_A_LINK, parseInvitationLink } from "../../lib/invitation";
import { sameRelay } from "../../lib/openedLinks";
import { usePreview } from "./usePreview";
import { ANSWER_REFUSED } from "./words";

export const RESET_WHILE_SIGNED_IN = "That was a password reset link: sign out, then use it under “Forgot your password?”.";

/** An invitation made by another relay than the one signed in to: its team cannot be joined from here. */
export const otherRelay = (theirs: string, ours: string) =>
  `This invitation is for the relay at ${theirs}, and you are signed in to ${ours}: sign out, then create an account there with the link.`;

export function JoinWithLink({
  onJoined,
  opened = null,
  onOpenedTaken = () => {},
}: {
  onJoined: (team: TeamMembership) => void;
  opened?: OpenedLink | null;
  onOpenedTaken?: () => void;
}) {
  const [link, setLink] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const button = useRef<HTMLButtonElement>(null);
  // The link came from outside the app, not from the person's own paste: what it offers is shown.
  const [fromOutside, setFromOutside] = useState(false);
  const preview = usePreview(fromOutside && !error ? link : "", parseInvitationLink(link)?.relayUrl ?? "");

  useEffect(() => {
    if (!opened) return;
    onOpenedTaken();
    if (opened.kind === "password_reset") return setError(RESET_WHILE_SIGNED_IN);
    setLink(opened.link);
    setFromOutside(true);
    setError(null);
    button.current?.focus();
    const theirs = parseInvitationLink(opened.link)?.relayUrl;
    call(commands.settings()).then(
      (settings) => {
        const ours = settings.relay_url;
        if (theirs && ours && !sameRelay(theirs, ours)) setError(otherRelay(theirs, ours));
      },
      // Without the settings, the relay's own answer to Join says whether the link is usable here.
      () => {},
    );
    // Only a new link fills the form; the callback's identity is not one.
  }, [opened]);

  async function join(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (!parseInvitationLink(link)) return setError(NOT_A_LINK);
    setBusy(true);
    try {
      const team = await call(commands.acceptInvitation(link));
      setLink("");
      setFromOutside(false);
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
        <input
          value={link}
          onChange={(e) => {
            setLink(e.target.value);
            setFromOutside(false);
          }}
          placeholder="Invitation link"
          aria-label="Invitation link"
          required
          spellCheck={false}
          data-testid="join-link"
        />
        <button ref={button} type="submit" disabled={busy} data-testid="join-with-link">
          Join
        </button>
      </div>
      {preview.kind === "offer" && (
        <p className="offer" data-testid="join-preview">
          Join <strong>{preview.offer.team_name}</strong> as {preview.offer.role}, invited by <strong>{preview.offer.inviter_name}</strong>
        </p>
      )}
      <ErrorLine error={error ?? (preview.kind === "problem" ? preview.message : null)} testId="join-link-error" />
    </form>
  );
}
