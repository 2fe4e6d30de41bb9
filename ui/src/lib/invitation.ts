// Invitation and password reset links as people paste them, and the words every screen uses for an
// invitation that stopped working.

/** What a pasted link holds: the relay it came from (none for a bare token) and its token. */
export type InvitationLink = { relayUrl: string | null; token: string };

// The relay's tokens are base64url; anything else is not one (a typo, half a link).
const TOKEN = /^[A-Za-z0-9_-]{16,200}$/;

/**
 * Reads `{public_url}/invite/{token}` (the relay's `url`), or a bare token, as pasted: surrounding space
 * and a trailing slash are fine. Answers null for anything else, so a form can say so before asking the
 * relay. The relay is the link's address up to `/invite/`, path included (a relay served under a prefix).
 */
export function parseInvitationLink(input: string): InvitationLink | null {
  return parseLink(input, "/invite/");
}

/** A password reset link (`{public_url}/reset-password/{token}`, from `teamflow-relay admin
 *  reset-password`), or a bare token, read as `parseInvitationLink` reads an invitation. */
export function parseResetLink(input: string): InvitationLink | null {
  return parseLink(input, "/reset-password/");
}

function parseLink(input: string, segment: string): InvitationLink | null {
  const text = input.trim();
  if (TOKEN.test(text)) return { relayUrl: null, token: text };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const at = url.pathname.lastIndexOf(segment);
  if (at < 0 || url.search || url.hash) return null;
  const token = url.pathname.slice(at + segment.length).replace(/\/$/, "");
  if (!TOKEN.test(token)) return null;
  return { relayUrl: url.origin + url.pathname.slice(0, at), token };
}

/** The relay answers `not_found` alike for an invitation that is unknown, used, revoked or expired. */
export const INVITATION_GONE = "This invitation is no longer valid: it was used, revoked or has expired. Ask for a new link.";

/** For text that `parseInvitationLink` refuses. */
export const NOT_A_LINK = "That doesn't look like an invitation link: it ends in /invite/ and a long code.";
