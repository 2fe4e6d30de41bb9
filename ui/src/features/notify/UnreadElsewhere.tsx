// Under the team switcher: the other teams with unread messages, each with its count (mentions marked),
// one click from its chat. A closed switcher shows only the chosen team.
import type { TeamId, TeamMembership } from "../../bindings";
import { type ReadStates, teamLabel } from "./attention";

export function UnreadElsewhere({ teams, states, onOpen }: { teams: TeamMembership[]; states: ReadStates; onOpen: (team: TeamId) => void }) {
  const waiting = teams.filter((t) => (states.get(t.id)?.unread ?? 0) > 0);
  if (waiting.length === 0) return null;
  return (
    <ul className="unread-teams" aria-label="Unread in other teams" data-testid="unread-teams">
      {waiting.map((t) => {
        const state = states.get(t.id);
        return (
          <li key={t.id}>
            <button className={state && state.mentions > 0 ? "link mentioned" : "link"} onClick={() => onOpen(t.id)} data-testid={`unread-${t.name}`}>
              {teamLabel(t.name, state)}
            </button>
          </li>
        );
      })}
    </ul>
  );
}
