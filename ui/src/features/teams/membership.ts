// When this person's membership of a team changes from elsewhere (an owner or admin removed them, lowered
// their role, or deleted the team), the workspace asks the relay's list of teams again; these say when,
// and what to tell the person when a team is gone.
import type { ServerMessage, TeamMembership, UserId } from "../../bindings";

/** Whether a room frame may mean `me`'s membership of its team changed: their own `member_changed` (a new
 * role, or none: removed or left), or the relay cutting the room off (`access_revoked`: removed, or a lower
 * role). Only the relay's list of teams says which. */
export function membershipMayHaveChanged(frame: ServerMessage, me: UserId): boolean {
  if (frame.type === "access_revoked") return true;
  return frame.type === "member_changed" && frame.user_id === me;
}

/** What the person reads when a team they had open or listed is no longer theirs. */
export function noLongerMember(team: string): string {
  return `You are no longer a member of “${team}”. What this device kept of it has been removed.`;
}

/** The team to show once `list` is the person's teams: `current` while it is on it, else the first (never
 * none while there is one: a list answered after another cleared the choice still picks one). */
export function stillListed(current: string | null, list: Pick<TeamMembership, "id">[]): string | null {
  return current && list.some((t) => t.id === current) ? current : (list[0]?.id ?? null);
}
