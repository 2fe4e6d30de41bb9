// How invitations read: the roles a person may hand out, the expiry choices, dates, and the words for each
// refusal the relay can answer (by its stable code).
import { briefMoment } from "../../lib/dates";
import type { Role } from "../../bindings";
import { INVITATION_GONE } from "../../lib/invitation";

const ORDER: Role[] = ["viewer", "member", "admin", "owner"];

export const ROLE_NAME: Record<Role, string> = { viewer: "Viewer", member: "Member", admin: "Admin", owner: "Owner" };

const ROLE_HINT: Record<Role, string> = {
  viewer: "reads everything, changes nothing",
  member: "chats, plans and writes",
  admin: "also manages members and settings",
  owner: "everything, including deleting the team",
};

/** "Member: chats, plans and writes". */
export const roleWithHint = (role: Role) => `${ROLE_NAME[role]}: ${ROLE_HINT[role]}`;

/** The roles someone with `mine` may invite to: never one above their own (the relay checks too). */
export function rolesUpTo(mine: Role): Role[] {
  return ORDER.slice(0, ORDER.indexOf(mine) + 1);
}

/** How long a new link stays usable, in hours, with its label; a week unless chosen otherwise. */
export const EXPIRY: [number, string][] = [
  [24, "1 day"],
  [72, "3 days"],
  [168, "7 days"],
  [720, "30 days"],
];
export const DEFAULT_EXPIRY = 168;

/** When an invitation expires, in the person's own locale and time zone. */
export function until(iso: string): string {
  return briefMoment(iso);
}

/** Nothing about invitations waits for the relay to come back: each needs it there and then. */
export const NEEDS_RELAY = "The relay can't be reached, and invitations need it: try again once you're online.";

export const INVITE_REFUSED = {
  offline: NEEDS_RELAY,
  forbidden: "Only owners and admins invite people, and never to a role above their own.",
  validation_failed: "Check the email address: it doesn't look like one.",
  not_found: "This team no longer exists.",
};

export const LIST_REFUSED = { offline: NEEDS_RELAY, forbidden: "Only owners and admins see the team's invitations." };

export const REVOKE_REFUSED = {
  offline: NEEDS_RELAY,
  not_found: "That invitation is no longer pending: it was used, revoked or has expired.",
  forbidden: "Only owners and admins revoke invitations.",
};

export const ANSWER_REFUSED = { offline: NEEDS_RELAY, not_found: INVITATION_GONE, conflict: "You're already a member of this team." };

export const COPY_FAILED = "Couldn't copy the link: select it and copy it yourself.";
