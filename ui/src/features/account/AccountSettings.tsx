// Settings › Your account: the display name teammates see, the password (changing it signs out the
// account's other devices), signing out on every device, and deleting the account. Each needs the relay.
// Signing out everywhere and deleting empty this device's store too, so they say what unsent work is lost.
import { type FormEvent, useState } from "react";
import { commands, type User } from "../../bindings";
import { call, explain } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { passwordProblem } from "../../lib/password";
import { useStatus } from "../sync/status";
import { unsentWork } from "../sync/summary";

const NEEDS_RELAY = "The relay can't be reached, and account changes need it: try again once you're connected.";
const NAME_REFUSED = { offline: NEEDS_RELAY, validation_failed: "A display name needs 1 to 80 characters." };
const PASSWORD_REFUSED = { offline: NEEDS_RELAY, validation_failed: "The current password is not correct." };
const EVERYWHERE_REFUSED = { offline: NEEDS_RELAY };
const DELETE_REFUSED = {
  offline: NEEDS_RELAY,
  validation_failed: "The password is not correct.",
  conflict: "You are the last owner of a team: make someone else an owner, or delete the team, first.",
};

type Props = {
  user: User;
  /** The account as the relay now has it (after a new name). */
  onUserChanged: (user: User) => void;
  /** Signed out here (every sign-in ended, or the account deleted). */
  onSignedOut: () => void;
};

export function AccountSettings({ user, onUserChanged, onSignedOut }: Props) {
  // What signing out or deleting would lose, as the node says now.
  const unsent = useStatus(unsentWork);
  return (
    <section className="account" data-testid="account-settings">
      <h2>Your account</h2>
      <p className="hint">Signed in as {user.email}.</p>
      <DisplayName user={user} onUserChanged={onUserChanged} />
      <Password />
      <SignOutEverywhere unsent={unsent} onSignedOut={onSignedOut} />
      <DeleteAccount unsent={unsent} onSignedOut={onSignedOut} />
    </section>
  );
}

function DisplayName({ user, onUserChanged }: Pick<Props, "user" | "onUserChanged">) {
  const [name, setName] = useState(user.display_name);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function save(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      onUserChanged(await call(commands.updateDisplayName(name.trim())));
      setSaved(true);
    } catch (e) {
      setError(explain(e, NAME_REFUSED));
    }
  }

  return (
    <form className="settings inline-form" onSubmit={save} data-testid="display-name-form">
      <label>
        Display name
        <input value={name} onChange={(e) => (setName(e.target.value), setSaved(false))} maxLength={80} required data-testid="account-display-name" />
      </label>
      <button type="submit" disabled={name.trim() === "" || name.trim() === user.display_name} data-testid="save-display-name">
        Save name
      </button>
      {saved && (
        <span className="marker" role="status" data-testid="display-name-saved">
          Saved. Teammates see it as their apps next read the team's members.
        </span>
      )}
      <ErrorLine error={error} testId="display-name-error" />
    </form>
  );
}

function Password() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [busy, setBusy] = useState(false);
  const [changed, setChanged] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function change(e: FormEvent) {
    e.preventDefault();
    setChanged(false);
    const problem = passwordProblem(next);
    if (problem) return setError(problem);
    setError(null);
    setBusy(true);
    try {
      await call(commands.changePassword(current, next));
      setCurrent("");
      setNext("");
      setChanged(true);
    } catch (e) {
      setError(explain(e, PASSWORD_REFUSED));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="settings fields" onSubmit={change} data-testid="password-form">
      <h3>Password</h3>
      <label>
        Current password
        <input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required data-testid="current-password" />
      </label>
      <label>
        New password
        <input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} required data-testid="new-password" />
        <small>8 to 128 characters. Your other devices are signed out; this one stays signed in.</small>
      </label>
      <button type="submit" disabled={busy || current === "" || next === ""} data-testid="change-password">
        Change password
      </button>
      {changed && (
        <p className="marker" role="status" data-testid="password-changed">
          Password changed. Your other devices were signed out.
        </p>
      )}
      <ErrorLine error={error} testId="password-error" />
    </form>
  );
}

function LostHere({ unsent, testId }: { unsent: string | null; testId: string }) {
  if (!unsent) return null;
  return (
    <p className="warning" data-testid={testId}>
      Not yet on the relay, and lost with this device's copy: {unsent}
    </p>
  );
}

function SignOutEverywhere({ unsent, onSignedOut }: { unsent: string | null; onSignedOut: () => void }) {
  const [asking, setAsking] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function signOutEverywhere() {
    setError(null);
    try {
      await call(commands.signOutEverywhere());
      onSignedOut();
    } catch (e) {
      setError(explain(e, EVERYWHERE_REFUSED));
    }
  }

  return (
    <div className="settings danger-zone" data-testid="sign-out-everywhere">
      <h3>Sign out everywhere</h3>
      <p className="empty">Ends every sign-in of your account, on every device, this one too: for a lost laptop or phone.</p>
      {asking ? (
        <>
          <LostHere unsent={unsent} testId="sign-out-everywhere-unsent" />
          <span className="confirm">
            Sign out on every device?
            <button type="button" className="danger" onClick={() => void signOutEverywhere()} data-testid="confirm-sign-out-everywhere">
              Sign out everywhere
            </button>
            <button type="button" onClick={() => setAsking(false)}>
              Cancel
            </button>
          </span>
        </>
      ) : (
        <button type="button" onClick={() => setAsking(true)} data-testid="start-sign-out-everywhere">
          Sign out everywhere…
        </button>
      )}
      <ErrorLine error={error} testId="sign-out-everywhere-error" />
    </div>
  );
}

function DeleteAccount({ unsent, onSignedOut }: { unsent: string | null; onSignedOut: () => void }) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function remove(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await call(commands.deleteAccount(password));
      onSignedOut();
    } catch (e) {
      setError(explain(e, DELETE_REFUSED));
      setBusy(false);
    }
  }

  return (
    <form className="settings danger-zone" onSubmit={remove} data-testid="delete-account">
      <h3>Delete your account</h3>
      <p className="empty">
        You leave every team and cannot sign in again; your messages stay, shown as “Deleted user”. If you are the last owner of a team, make someone else an owner
        or delete the team first. Type your password to confirm.
      </p>
      <LostHere unsent={unsent} testId="delete-account-unsent" />
      <label>
        Password
        <input type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} data-testid="delete-account-password" />
      </label>
      <button type="submit" className="danger" disabled={busy || password === ""} data-testid="confirm-delete-account">
        Delete my account
      </button>
      <ErrorLine error={error} testId="delete-account-error" />
    </form>
  );
}
