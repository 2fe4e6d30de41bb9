// What an invitation link offers, asked of its relay while the person looks at it (no sign-in needed):
// "Join Studio as member, invited by Ada", or why it cannot be used. Shared by the sign-up form and
// "Join with a link".
import { useEffect, useState } from "react";
import { commands, type InvitationPreview } from "../../bindings";
import { call, explain } from "../../lib/call";
import { INVITATION_GONE, NOT_A_LINK, parseInvitationLink } from "../../lib/invitation";

export type Preview = { kind: "none" } | { kind: "looking" } | { kind: "offer"; offer: InvitationPreview } | { kind: "problem"; message: string };

/** How long typing pauses before the relay is asked: a paste asks once, typing asks when it stops. */
const SETTLE_MS = 300;

const PREVIEW_REFUSED = { not_found: INVITATION_GONE, offline: "The relay can't be reached: check its address, or try again later." };

/** The preview of `value` (a link or a bare token) from the relay at `relayUrl`. */
export function usePreview(value: string, relayUrl: string): Preview {
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
  return preview;
}
