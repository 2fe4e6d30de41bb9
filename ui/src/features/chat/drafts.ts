// What a person has typed in a team's composer and not sent, kept while the window is open: leaving the
// chat (another section, another team) and coming back finds it as it was, with the names picked from the
// list still mentions. Forgotten when the sign-in ends (`forgetDrafts`): the next person starts empty.
import type { TeamId } from "../../bindings";
import type { Picks } from "./mentions";

export interface Draft {
  text: string;
  /** Names picked from the mention list in this draft, to send as mentions of these users. */
  picked: Picks;
}

const drafts = new Map<TeamId, Draft>();

/** The team's draft, the same object each time (empty at first). */
export function draftOf(team: TeamId): Draft {
  let draft = drafts.get(team);
  if (!draft) {
    draft = { text: "", picked: new Map() };
    drafts.set(team, draft);
  }
  return draft;
}

/** Forgets every team's draft. */
export function forgetDrafts(): void {
  drafts.clear();
}
