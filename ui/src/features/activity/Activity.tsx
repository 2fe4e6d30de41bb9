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
  // What opening a link met, and why the feed could not be read (cleared by the next read that succeeds).
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  // Read again when the relay is back: the feed may never have been read on this device.
  const reconnects = useReconnects();
  useEffect(() => {
    // Only the latest read counts.
    let latest = true;
    call(commands.activity(team.id)).then(
      (read) => {
        if (!latest) return;
        // Items the room brought while the read was on its way stay.
        setItems((current) => {
          const seqs = new Set(read.map((i) => i.seq));
          return [...current.filter((i) => !seqs.has(i.seq)), ...read].sort((a, b) => b.seq - a.seq);
        });
        setLoadError(null);
      },
      (e) => latest && setLoadError(messageOf(e)),
    );
    return () => {
      latest = false;
    };
  }, [team.id, reconnects]);

  useEffect(
    () =>
      subscribeRoom(team.id, (frame) => {
        if (frame.type === "activity") {
          const item = frame.item;
          setItems((current) => [item, ...current.filter((i) => i.seq !== item.seq)]);
        }
      }),
    [team.id],
  );

  return (
    <section className="panel">
      <h2>Activity</h2>
      {(team.role === "owner" || team.role === "admin") && <Integrations team={team} />}
      {(error ?? loadError) && <p className="error">{error ?? loadError}</p>}
      {items.length === 0 && !loadError && (
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
