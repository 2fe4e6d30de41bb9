// The sign-up form's invitation link: pasting one fills in the relay it came from and shows what it offers
// ("Join Studio as member, invited by Ada"), or why it cannot be used, before the account exists.
import { useEffect, useState } from "react";
import { commands, type InvitationPreview } from "../../bindings";
import { call, explain } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { INVITATION_GONE, NOT_A_LINK, parseInvitationLink } from "../../lib/invitation";

type Preview = { kind: "none" } | { kind: "looking" } | { kind: "offer"; offer: InvitationPreview } | { kind: "problem"; message: string };

/** How long typing pauses before the relay is asked: a paste asks once, typing asks when it stops. */
const SETTLE_MS = 300;

const PREVIEW_REFUSED = { not_found: INVITATION_GONE, offline: "The relay can't be reached: check its address, or try again later." };

export function InvitationField(props: { value: string; onChange: (value: string) => void; relayUrl: string; onRelayUrl: (url: string) => void }) {
  const { value, relayUrl } = props;
  const [preview, setPreview] = useState<Preview>({ kind: "none" });

  useEffect(() => {
    const link = parseInvitationLink(value);
    if (!value.trim()) return setPreview({ kind: "none" });
    if (!link) return setPreview({ kind: "problem", message: NOT_A_LINK });
    if (!relayUrl.trim()) return setPreview({ kind: "problem", message: "Fill in the relay this invitation is for." });
    setPreview({ kind: "looking" });
    // An answer for an input since changed is dropped: only the latest one shows.
    let current = true;
    const timer = setTimeout(() => {
      call(commands.previewInvitation(relayUrl, value)).then(
        (offer) => current && setPreview({ kind: "offer", offer }),
        (e) => current && setPreview({ kind: "problem", message: explain(e, PREVIEW_REFUSED) }),
      );
    }, SETTLE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [value, relayUrl]);

  function change(text: string) {
    props.onChange(text);
    const relay = parseInvitationLink(text)?.relayUrl;
    if (relay) props.onRelayUrl(relay);
  }

  return (
    <>
      <label>
        Invitation link
        <input
          value={value}
          onChange={(e) => change(e.target.value)}
          placeholder="https://relay.example.com/invite/…"
          spellCheck={false}
          autoComplete="off"
          data-testid="invitation-link"
        />
      </label>
      {preview.kind === "looking" && <p className="offer muted">Looking up the invitation…</p>}
      {preview.kind === "offer" && (
        <p className="offer" data-testid="invitation-preview">
          Join <strong>{preview.offer.team_name}</strong> as {preview.offer.role}, invited by <strong>{preview.offer.inviter_name}</strong>
        </p>
      )}
      {preview.kind === "problem" && <ErrorLine error={preview.message} testId="invitation-error" />}
    </>
  );
}
