// The Notifications dialog: what notified lately (a click opens its conversation), and what notifies on this
// device: every message while TeamFlow is in the background, and a mute per team.
import { useEffect, useRef, useState } from "react";
import type { TeamId, TeamMembership } from "../../bindings";
import { messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import type { NotifySettings } from "./attention";
import type { Notice } from "./useAttention";

export function NotificationsPanel({
  notices,
  teams,
  settings,
  onOpen,
  onMute,
  onEveryMessage,
  onClose,
}: {
  notices: Notice[];
  teams: TeamMembership[];
  settings: NotifySettings;
  onOpen: (notice: Notice) => void;
  onMute: (team: TeamId, muted: boolean) => Promise<void>;
  onEveryMessage: (on: boolean) => Promise<void>;
  onClose: () => void;
}) {
  const [error, setError] = useState<string | null>(null);
  const closeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => closeButton.current?.focus(), []);
  const attempt = (work: Promise<void>) => work.catch((e) => setError(messageOf(e)));

  return (
    <div className="overlay" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <section className="dialog notifications" role="dialog" aria-modal="true" aria-labelledby="notifications-title" data-testid="notifications-dialog">
        <header>
          <h2 id="notifications-title">Notifications</h2>
          <button ref={closeButton} className="close" onClick={onClose} aria-label="Close" data-testid="close-notifications">
            ×
          </button>
        </header>
        {notices.length === 0 ? (
          <p className="empty">Nothing yet. You are told here, and by your system, when someone mentions you.</p>
        ) : (
          <ul aria-label="Recent notifications">
            {notices.map((n) => (
              <li key={n.id}>
                <button onClick={() => onOpen(n)} data-testid="notice" data-team={n.team} data-why={n.why}>
                  <strong>{n.title}</strong>
                  <span>{n.body}</span>
                  <span className="why">{n.why === "mention" ? "Mention" : "New message"}</span>
                </button>
              </li>
            ))}
          </ul>
        )}
        <fieldset>
          <legend>On this device</legend>
          <label>
            <input
              type="checkbox"
              checked={settings.every_message_unfocused}
              onChange={(e) => void attempt(onEveryMessage(e.target.checked))}
              data-testid="every-message"
            />
            Notify me of every message while TeamFlow is in the background
          </label>
          {teams.map((t) => (
            <label key={t.id}>
              <input type="checkbox" checked={settings.muted.includes(t.id)} onChange={(e) => void attempt(onMute(t.id, e.target.checked))} data-testid={`mute-${t.name}`} />
              Mute {t.name} (no notifications; unread still counts)
            </label>
          ))}
        </fieldset>
        <ErrorLine error={error} onDismiss={() => setError(null)} />
      </section>
    </div>
  );
}
