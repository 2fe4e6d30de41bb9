// The team's activity feed: events from GitHub, Slack and Trello, newest first, live. Links are shown only
// when http(s) (links.ts) and open in the system browser through open_link, never inside this webview.
import { useEffect, useState } from "react";
import { commands, type ActivityItem, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { subscribeRoom } from "../../lib/events";
import { useReconnects } from "../../lib/reconnects";
import { Integrations } from "../integrations/Integrations";
import { webLink } from "./links";

export function Activity({ team }: { team: TeamMembership }) {
  const [items, setItems] = useState<ActivityItem[]>([]);
  const [error, setError] = useState<string | null>(null);

  const reconnects = useReconnects();

  useEffect(() => {
    call(commands.activity(team.id)).then(
      (items) => {
        setItems(items);
        setError(null);
      },
      (e) => setError(messageOf(e)),
    );
    return subscribeRoom(team.id, (frame) => {
      if (frame.type === "activity") {
        const item = frame.item;
        setItems((current) => [item, ...current.filter((i) => i.seq !== item.seq)]);
      }
    });
  }, [team.id, reconnects]);

  return (
    <section className="panel">
      <h2>Activity</h2>
      {(team.role === "owner" || team.role === "admin") && <Integrations team={team} />}
      {error && <p className="error">{error}</p>}
      {items.length === 0 && !error && (
        <p className="empty">
          {team.role === "owner" || team.role === "admin" ? "No events yet." : "Nothing yet. An owner or admin connects GitHub, Slack or Trello to see their events here."}
        </p>
      )}
      <ul className="activity" data-testid="activity">
        {items.map((item) => {
          const link = webLink(item.url);
          return (
            <li key={item.seq}>
              <span className={`service ${item.service}`}>{item.service}</span>
              {link ? (
                <a
                  href={link}
                  rel="noreferrer noopener"
                  onClick={(event) => {
                    event.preventDefault();
                    call(commands.openLink(link)).catch((e) => setError(messageOf(e)));
                  }}
                >
                  {item.summary}
                </a>
              ) : (
                <span>{item.summary}</span>
              )}
              <time dateTime={item.created_at}>{new Date(item.created_at).toLocaleString()}</time>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
