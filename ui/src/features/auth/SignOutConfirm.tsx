// Asked before signing out would lose work: signing out empties this device's store, so what has not
// reached the relay is gone. Staying signed in is the default (Escape, the backdrop, the focused button).
import { useEffect } from "react";

export function SignOutConfirm({ unsent, onStay, onSignOut }: { unsent: string; onStay: () => void; onSignOut: () => void }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onStay();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onStay]);

  return (
    <div className="overlay" onMouseDown={(e) => e.target === e.currentTarget && onStay()}>
      <section
        className="dialog"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="sign-out-title"
        aria-describedby="sign-out-unsent"
        data-testid="sign-out-confirm"
      >
        <h2 id="sign-out-title">Sign out with unsent work?</h2>
        <p id="sign-out-unsent" data-testid="sign-out-unsent">
          {unsent}
        </p>
        <p>Signing out removes them from this device, and your team never gets them. Stay signed in until the sync indicator says everything is synced.</p>
        <div className="actions">
          <button type="button" className="primary" onClick={onStay} autoFocus data-testid="sign-out-stay">
            Stay signed in
          </button>
          <button type="button" className="danger" onClick={onSignOut} data-testid="sign-out-anyway">
            Sign out anyway
          </button>
        </div>
      </section>
    </div>
  );
}
