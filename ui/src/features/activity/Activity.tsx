// The team's activity feed: events from GitHub, Slack and Trello, newest first, live, a page at a time
// (Show older events reads the next). Links are shown only when http(s) (links.ts) and open in the system
// browser through open_link, never inside this webview.
import { useEffect, useState } from "react";
import { commands, type ActivityItem, type ActivityPage, type TeamMembership } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { dateTime } from "../../lib/dates";
import { subscribeRoom } from "../../lib/events";
import { useReconnects } from "../../lib/reconnects";
import { Integrations } from "../integrations/Integrations";
import { webLink } from "../../lib/links";

/** `items` and `more` merged, newest first, each event once (the room and a page can bring the same one). */
function merged(items: ActivityItem[], more: ActivityItem[]): ActivityItem[] {
  const seqs = new Set(more.map((i) => i.seq));
  return [...items.filter((i) => !seqs.has(i.seq)), ...more].sort((a, b) => b.seq - a.seq);
}

/**
 * What the feed shows, newest first, and the cursor of the next older page while there is one. `paged`
 * once older pages were read: the latest page, read again on a reconnect, then no longer says where the
 * shown ones end.
 */
interface Feed {
  items: ActivityItem[];
  before: number | null;
  paged: boolean;
}

/** The feed with the latest page read (again). Items the room brought while the read was on its way stay,
 *  and so do older pages shown, unless the page does not reach them (more events came while the link was
 *  away than a page holds): the events between could never be paged to, so the feed starts again there. */
function withLatest(feed: Feed, page: ActivityPage): Feed {
  const next = page.next_before ?? null;
  const gap = feed.items.length > 0 && next !== null && next > feed.items[0].seq;
  if (gap) return { items: page.items, before: next, paged: false };
  return { items: merged(feed.items, page.items), before: feed.paged ? feed.before : next, paged: feed.paged };
}

export function Activity({ team }: { team: TeamMembership }) {
  const [feed, setFeed] = useState<Feed>({ items: [], before: null, paged: false });
  const items = feed.items;
  const [readingOlder, setReadingOlder] = useState(false);
  // What opening a link met, and why the feed could not be read (cleared by the next read that succeeds).
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  // Read again when the relay is back: the feed may never have been read on this device.
  const reconnects = useReconnects();
  useEffect(() => {
    // Only the latest read counts.
    let latest = true;
    call(commands.activity(team.id, null)).then(
      (page) => {
        if (!latest) return;
        setFeed((shown) => withLatest(shown, page));
        setLoadError(null);
      },
      (e) => latest && setLoadError(messageOf(e)),
    );
    return () => {
      latest = false;
    };
  }, [team.id, reconnects]);

  async function showOlder() {
    const before = feed.before;
    if (before === null) return;
    setReadingOlder(true);
    try {
      const page = await call(commands.activity(team.id, before));
      setFeed((shown) => ({ items: merged(shown.items, page.items), before: page.next_before ?? null, paged: true }));
      setError(null);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setReadingOlder(false);
    }
  }

  useEffect(
    () =>
      subscribeRoom(team.id, (frame) => {
        if (frame.type === "activity") {
          const item = frame.item;
          setFeed((shown) => ({ ...shown, items: [item, ...shown.items.filter((i) => i.seq !== item.seq)] }));
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
              <time dateTime={item.created_at}>{dateTime(item.created_at)}</time>
            </li>
          );
        })}
      </ul>
      {feed.before !== null && (
        <button type="button" className="older" onClick={() => void showOlder()} disabled={readingOlder} data-testid="activity-older">
          {readingOlder ? "Reading older events…" : "Show older events"}
        </button>
      )}
    </section>
  );
}
