// Sign in or sign up against a team's relay; the relay address is remembered for next time.
import { type FormEvent, useState } from "react";
import { commands, type User } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";

type Mode = "sign_in" | "sign_up";

export function SignIn(props: { initialRelayUrl: string; startupError: string | null; onSignedIn: (user: User, relayUrl: string) => void }) {
  const [mode, setMode] = useState<Mode>("sign_in");
  const [relayUrl, setRelayUrl] = useState(props.initialRelayUrl);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(props.startupError);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const user =
        mode === "sign_in"
          ? await call(commands.signIn(relayUrl, email, password))
          : await call(commands.signUp(relayUrl, email, password, name));
      props.onSignedIn(user, relayUrl);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="auth">
      <form className="card" onSubmit={submit} data-testid="auth-form">
        <h1>TeamFlow</h1>
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "sign_in"} onClick={() => setMode("sign_in")} data-testid="mode-sign-in">
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={mode === "sign_up"} onClick={() => setMode("sign_up")} data-testid="mode-sign-up">
            Create account
          </button>
        </div>
        <label>
          Relay
          <input value={relayUrl} onChange={(e) => setRelayUrl(e.target.value)} placeholder="relay.example.com" required data-testid="relay-url" />
        </label>
        {mode === "sign_up" && (
          <label>
            Your name
            <input value={name} onChange={(e) => setName(e.target.value)} required autoComplete="name" data-testid="display-name" />
          </label>
        )}
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="email" data-testid="email" />
        </label>
        <label>
          Password
          <input
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            minLength={mode === "sign_up" ? 8 : undefined}
            autoComplete={mode === "sign_up" ? "new-password" : "current-password"}
            data-testid="password"
          />
        </label>
        <ErrorLine error={error} testId="auth-error" />
        <button type="submit" className="primary" disabled={busy} data-testid="auth-submit">
          {busy ? "…" : mode === "sign_in" ? "Sign in" : "Create account"}
        </button>
      </form>
    </main>
  );
}
