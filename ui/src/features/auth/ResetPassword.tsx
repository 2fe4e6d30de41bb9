// "Forgot your password?": the relay sends no mail, so its administrator gives the person a reset link
// (`teamflow-relay admin reset-password`). Pasted here, the link fills in the relay and, with a new
// password, sets it; every sign-in of the account ends, and the person signs in with the new one.
import { type FormEvent, useState } from "react";
import { commands } from "../../bindings";
import { call, explain } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { parseResetLink } from "../../lib/invitation";
import { passwordProblem } from "../../lib/password";

const NOT_A_RESET_LINK = "That doesn't look like a reset link: it ends in /reset-password/ and a long code.";
/** Signing in, up or resetting needs the relay at the address typed: nothing waits to be sent later. */
export const UNREACHABLE = { offline: "Can't reach a relay at this address: check it, or try again once you're connected." };

const REFUSED = {
  ...UNREACHABLE,
  not_found: "This reset link is no longer valid: it was used, or is more than an hour old. Ask your relay's administrator for a new one.",
};

type Props = { relayUrl: string; onRelayUrl: (url: string) => void; onDone: () => void; onCancel: () => void };

export function ResetPassword({ relayUrl, onRelayUrl, onDone, onCancel }: Props) {
  const [link, setLink] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  function pasted(value: string) {
    setLink(value);
    const parsed = parseResetLink(value);
    if (parsed?.relayUrl) onRelayUrl(parsed.relayUrl);
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    const parsed = parseResetLink(link);
    if (!parsed) return setError(NOT_A_RESET_LINK);
    const problem = passwordProblem(password);
    if (problem) return setError(problem);
    setError(null);
    setBusy(true);
    try {
      await call(commands.resetPassword(relayUrl, parsed.token, password));
      onDone();
    } catch (e) {
      setError(explain(e, REFUSED));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={submit} data-testid="reset-form">
      <h1>Reset your password</h1>
      <p className="hint">Ask your relay's administrator for a reset link (it works once, within an hour), and paste it here.</p>
      <label>
        Reset link
        <input value={link} onChange={(e) => pasted(e.target.value)} placeholder="https://relay.example.com/reset-password/…" required data-testid="reset-link" />
      </label>
      <label>
        Relay
        <input value={relayUrl} onChange={(e) => onRelayUrl(e.target.value)} placeholder="relay.example.com" required data-testid="reset-relay-url" />
      </label>
      <label>
        New password
        <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} required autoComplete="new-password" data-testid="reset-new-password" />
      </label>
      <ErrorLine error={error} testId="reset-error" />
      <button type="submit" className="primary" disabled={busy} data-testid="reset-submit">
        {busy ? "…" : "Set the new password"}
      </button>
      <button type="button" className="link" onClick={onCancel} data-testid="reset-cancel">
        Back to sign in
      </button>
    </form>
  );
}
