// The sign-up form's invitation link: pasting one fills in the relay it came from and shows what it offers
// ("Join Studio as member, invited by Ada"), or why it cannot be used, before the account exists.
import { ErrorLine } from "../../lib/ErrorLine";
import { parseInvitationLink } from "../../lib/invitation";
import { usePreview } from "../invitations/usePreview";

export function InvitationField(props: { value: string; onChange: (value: string) => void; relayUrl: string; onRelayUrl: (url: string) => void }) {
  const { value, relayUrl } = props;
  const preview = usePreview(value, relayUrl);

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
