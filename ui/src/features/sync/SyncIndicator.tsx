// The sync indicator: online or offline, peers, changes waiting, at a glance; details on hover.
import { useStatus } from "./status";
import { summarize } from "./summary";

/** `onReview`: opens the refused changes, offered while the relay has refused any. */
export function SyncIndicator({ onReview }: { onReview?: () => void }) {
  const s = useStatus(summarize);
  const failed = useStatus((status) => status.failed);
  return (
    // A status region: a screen reader says "Offline" or "Needs attention" as it changes.
    <div className={`sync sync-${s.tone}`} role="status" title={s.detail} data-testid="sync-indicator" data-tone={s.tone}>
      <span className="dot" aria-hidden />
      <span className="label">{s.label}</span>
      {s.detail && <span className="detail">{s.detail}</span>}
      {failed > 0 && onReview && (
        <button type="button" className="link" onClick={onReview} data-testid="review-refused">
          Review refused changes
        </button>
      )}
    </div>
  );
}

/**
 * One document's own state, beside its title (shown while it is open: no state yet means still opening).
 * `saving`: the window holds edits the node has not confirmed yet, whatever the node says of the relay.
 */
export function DocState({ url, saving = false }: { url: string; saving?: boolean }) {
  const known = useStatus((status) => status.documents[url]);
  const state = saving ? "saving" : known;
  const label =
    state === "saving" ? "Saving…" : state === "synced" ? "Saved to relay" : state === "syncing" ? "Syncing…" : state === "local_only" ? "Only on this device" : "Opening…";
  return (
    <span className={`doc-state doc-${state ?? "closed"}`} data-testid="doc-state">
      {label}
    </span>
  );
}
