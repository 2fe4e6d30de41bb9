// The team's activity feed: events from GitHub, Slack and Trello, newest first, live.
import { useEffect, useState } from "react";
import { commands, type ActivityItem, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { subscribeRoom } from "../../lib/events";

export function Activity({ team }: { team: TeamMembership }) {
  const [items, setItems] = useState<ActivityItem[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    call(commands.activity(team.id)).then(setItems, (e) => setError(messageOf(e)));
    return subscribeRoom(team.id, (frame) => {
      if (frame.type === "activity") {
        const item = frame.item;
        setItems((current) => [item, ...current.filter((i) => i.seq !== item.seq)]);
      }
    });
  }, [team.id]);

  return (
    <section className="panel">
      <h2>Activity</h2>
      {error && <p className="error">{error}</p>}
      {items.length === 0 && !error && <p className="empty">Nothing yet. Connect GitHub, Slack or Trello to see their events here.</p>}
      <ul className="activity" data-testid="activity">
        {items.map((item) => (
          <li key={item.seq}>
            <span className={`service ${item.service}`}>{item.service}</span>
            {item.url ? (
              <a href={item.url} target="_blank" rel="noreferrer">
                {item.summary}
              </a>
            ) : (
              <span>{item.summary}</span>
            )}
            <time dateTime={item.created_at}>{new Date(item.created_at).toLocaleString()}</time>
          </li>
        ))}
      </ul>
    </section>
  );
}
