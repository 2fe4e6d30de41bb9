// For someone who already has an account and was sent a link: paste it, join the team. A link the app was
// opened with (from the invitation's page) is filled in with what it offers; Join is pressed by the person,
// never for them: it waits for the offer, and takes the focus only when nothing else has it.
import { type FormEvent, useEffect, useLayoutEffect, useRef, useState } from "react";
import { commands, type OpenedLink, type TeamMembership } from "../../bindings";
import { call, explain } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { NOT_A_LINK, parseInvitationLink } from "../../lib/invitation";
import { sameRelay } from "../../lib/openedLinks";
import { usePreview } from "./usePreview";
import { ANSWER_REFUSED } from "./words";

/** An invitation made by another relay than the one signed in to: its team cannot be joined from here. */
export const otherRelay = (theirs: string, ours: string) =>
  `This invitation is for the relay at ${theirs}, and you are signed in to ${ours}: sign out, then create an account there with the link.`;

/** Whether anything in the window has the focus: a key the person presses there stays there (a link that
 *  arrives while they type must not turn their Enter into a Join). */
function focusTaken(): boolean {
  const active = document.activeElement;
  return active !== null && active !== document.body;
}

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
  // The field holds a link from outside the app, untouched: Join waits for what it offers.
  const [fromOutside, setFromOutside] = useState(false);
  // That link once it is known to be this relay's: only then is its relay asked what it offers.
  const [toPreview, setToPreview] = useState("");
  const preview = usePreview(toPreview, parseInvitationLink(toPreview)?.relayUrl ?? "");
  const focusOnOffer = useRef(false);
  // Which link's relay check is the latest: an earlier one's answer is dropped.
  const latest = useRef(0);

  useEffect(() => {
    if (!opened) return;
    onOpenedTaken();
    setLink(opened.link);
    setFromOutside(true);
    setToPreview("");
    setError(null);
    focusOnOffer.current = true;
    const theirs = parseInvitationLink(opened.link)?.relayUrl;
    // A later link, or the person's typing, makes this check's answer moot (not the link being taken,
    // which clears `opened` at once).
    const check = ++latest.current;
    call(commands.settings()).then(
      (settings) => {
        if (check !== latest.current) return;
        const ours = settings.relay_url;
        if (theirs && ours && !sameRelay(theirs, ours)) setError(otherRelay(theirs, ours));
        else setToPreview(opened.link);
      },
      // Not known to be this relay's: no preview (its relay is asked nothing), Join as for a pasted link.
      () => check === latest.current && setFromOutside(false),
    );
    // Only a new link fills the form; the callback's identity is not one.
  }, [opened]);

  // In the commit that shows the offer (a layout effect): no frame, and no key, between the offer showing
  // and Join having the focus.
  useLayoutEffect(() => {
    if (preview.kind !== "offer" || !focusOnOffer.current) return;
    focusOnOffer.current = false;
    if (!focusTaken()) button.current?.focus();
  }, [preview]);

  async function join(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (!parseInvitationLink(link)) return setError(NOT_A_LINK);
    setBusy(true);
    try {
      const team = await call(commands.acceptInvitation(link));
      setLink("");
      setFromOutside(false);
      setToPreview("");
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
            // The person's own link from here on: joined when they say, without a preview.
            setLink(e.target.value);
            setFromOutside(false);
            setToPreview("");
            setError(null);
            focusOnOffer.current = false;
            latest.current += 1;
          }}
          placeholder="Invitation link"
          aria-label="Invitation link"
          required
          spellCheck={false}
          data-testid="join-link"
        />
        <button ref={button} type="submit" disabled={busy || (fromOutside && preview.kind !== "offer")} data-testid="join-with-link">
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
