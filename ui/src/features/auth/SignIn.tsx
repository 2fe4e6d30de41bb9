// Sign in or sign up against a team's relay; the relay address is remembered for next time. Signing up
// with an invitation link fills in the relay from it and joins the invitation's team; an invitation link
// the app was opened with does the same, and says when its relay is not the person's own. A forgotten
// password is set again with the administrator's reset link (ResetPassword.tsx).
import { type FormEvent, useEffect, useState } from "react";
import { commands, type OpenedLink, type User } from "../../bindings";
import { call, explain } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { INVITATION_GONE, parseInvitationLink } from "../../lib/invitation";
import { sameRelay } from "../../lib/openedLinks";
import { markReady, SIGN_IN_READY } from "../../lib/readiness";
import { InvitationField } from "./InvitationField";
import { ResetPassword, UNREACHABLE } from "./ResetPassword";

type Mode = "sign_in" | "sign_up" | "reset";


const SIGN_UP_REFUSED = {
  ...UNREACHABLE,
  registration_closed: "This relay accepts new accounts by invitation only: paste the invitation link you were sent.",
  conflict: "An account with this email already exists: sign in instead.",
};

const SIGN_UP_WITH_INVITATION_REFUSED = {
  ...UNREACHABLE,
  // A relay that registers by invitation answers an unusable invitation as if there were none.
  registration_closed: INVITATION_GONE,
  not_found: INVITATION_GONE,
  conflict: "An account with this email already exists: sign in instead, then paste the link under “Join with a link”.",
};

type Props = {
  initialRelayUrl: string;
  startupError: string | null;
  onSignedIn: (user: User, relayUrl: string) => void;
  /** A link the app was opened with: an invitation opens "Create account" with it; `onOpenedTaken` once it
   *  filled the form. */
  opened?: OpenedLink | null;
  onOpenedTaken?: () => void;
};

export function SignIn(props: Props) {
  const { opened = null, onOpenedTaken = () => {} } = props;
  const [mode, setMode] = useState<Mode>("sign_in");
  const [relayUrl, setRelayUrl] = useState(props.initialRelayUrl);
  // The relay address as it was before an opened invitation replaced it: any web page can open the app
  // with a link, so going back to "Sign in" signs in where the person did before, not where the link says.
  const [relayBeforeLink, setRelayBeforeLink] = useState<string | null>(null);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  // Said once a reset set a new password, until the next attempt.
  const [notice, setNotice] = useState<string | null>(null);
  const [invitation, setInvitation] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(props.startupError);
  useEffect(() => markReady(SIGN_IN_READY), []);

  useEffect(() => {
    if (!opened) return;
    onOpenedTaken();
    setError(null);
    setNotice(null);
    // A password typed for one relay is never sent to the one a link names: it is typed again.
    setPassword("");
    // The form fills in the link's relay (as a pasted link does); the person's own is kept to go back to.
    const theirs = parseInvitationLink(opened.link)?.relayUrl;
    if (theirs && !sameRelay(theirs, relayUrl)) {
      if (relayUrl.trim() && relayBeforeLink === null) setRelayBeforeLink(relayUrl);
      setRelayUrl(theirs);
    }
    setMode("sign_up");
    setInvitation(opened.link);
    // Only a new link fills the form; the callback's identity is not one.
  }, [opened]);

  /** Back to signing in, at the relay the person had before a link changed it. */
  function toSignIn() {
    if (relayBeforeLink !== null) setRelayUrl(relayBeforeLink);
    setRelayBeforeLink(null);
    setMode("sign_in");
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    const invited = mode === "sign_up" && invitation.trim() !== "";
    try {
      const user =
        mode === "sign_in"
          ? await call(commands.signIn(relayUrl, email, password))
          : invited
            ? await call(commands.signUpWithInvitation(relayUrl, email, password, name, invitation))
            : await call(commands.signUp(relayUrl, email, password, name));
      props.onSignedIn(user, relayUrl);
    } catch (e) {
      setError(explain(e, mode === "sign_in" ? UNREACHABLE : invited ? SIGN_UP_WITH_INVITATION_REFUSED : SIGN_UP_REFUSED));
    } finally {
      setBusy(false);
    }
  }

  if (mode === "reset") {
    return (
      <main className="auth">
        <ResetPassword
          relayUrl={relayUrl}
          onRelayUrl={setRelayUrl}
          onDone={() => {
            setPassword("");
            setError(null);
            setNotice("Password changed: sign in with the new one.");
            setMode("sign_in");
          }}
          onCancel={toSignIn}
        />
      </main>
    );
  }

  return (
    <main className="auth">
      <form className="card" onSubmit={submit} data-testid="auth-form">
        <h1>TeamFlow</h1>
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "sign_in"} onClick={toSignIn} data-testid="mode-sign-in">
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={mode === "sign_up"} onClick={() => setMode("sign_up")} data-testid="mode-sign-up">
            Create account
          </button>
        </div>
        {mode === "sign_up" && <InvitationField value={invitation} onChange={setInvitation} relayUrl={relayUrl} onRelayUrl={setRelayUrl} />}
        {mode === "sign_up" && relayBeforeLink !== null && !sameRelay(relayBeforeLink, relayUrl) && (
          <p className="caution" role="status" data-testid="link-other-relay">
            This invitation is for another relay than yours ({relayBeforeLink}): go on only if you expected one from {relayUrl}.
          </p>
        )}
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
        {notice && (
          <p className="marker" role="status" data-testid="auth-notice">
            {notice}
          </p>
        )}
        <ErrorLine error={error} testId="auth-error" />
        <button type="submit" className="primary" disabled={busy} data-testid="auth-submit">
          {busy ? "…" : mode === "sign_in" ? "Sign in" : "Create account"}
        </button>
        {mode === "sign_in" && (
          <button type="button" className="link" onClick={() => setMode("reset")} data-testid="forgot-password">
            Forgot your password?
          </button>
        )}
      </form>
    </main>
  );
}
