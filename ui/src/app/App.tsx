// The app's frame: sign-in until someone is signed in, then the workspace; while another TeamFlow on this
// device has the data open, a screen that says so and tries again on request.
import { useEffect, useState } from "react";
import { commands, type OpenedLink, type User } from "../bindings";
import { AppFailure, call, messageOf } from "../lib/call";
import { followOpenedLinks } from "../lib/openedLinks";
import { followLink } from "../lib/reconnects";
import { SignIn } from "../features/auth/SignIn";
import { quitWhenHandedOver } from "../features/editor/quitting";
import { Workspace } from "./Workspace";

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [relayUrl, setRelayUrl] = useState("");
  const [error, setError] = useState<string | null>(null);
  // A `teamflow://` link the app was opened with, until the screen showing it fills a form with it.
  const [opened, setOpened] = useState<OpenedLink | null>(null);

  // Closing the window quits only once the node holds every edit made in it.
  useEffect(quitWhenHandedOver, []);
  // From the app's start, before any screen loads: every return of the link is counted for the screens
  // that read again on it, including one that comes while the workspace is still starting.
  useEffect(followLink, []);
  useEffect(() => followOpenedLinks(setOpened), []);
  const openedTaken = () => setOpened(null);

  // Why the data cannot be opened yet: another TeamFlow on this device has it. Read again on "Try again";
  // `refused` counts the answers that said so, which the screen shows as a changed attribute.
  const [inUse, setInUse] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [refused, setRefused] = useState(0);
  // A try takes a moment (the node asks for the data's lock again for up to half a second before it says
  // the other still has it): the button says so rather than inviting a second click.
  const [trying, setTrying] = useState(false);

  useEffect(() => {
    Promise.all([call(commands.session()), call(commands.settings())])
      .finally(() => setTrying(false))
      .then(([session, settings]) => {
        setInUse(null);
        setRelayUrl(settings.relay_url ?? "");
        setUser(session);
      })
      .catch((e) => {
        if (e instanceof AppFailure && e.error.kind === "data_in_use") {
          setInUse(e.message);
          setRefused((n) => n + 1);
          return;
        }
        setInUse(null);
        setError(messageOf(e));
        setUser(null);
      });
  }, [attempt]);

  if (inUse !== null) {
    return (
      <main className="splash-message" data-testid="data-in-use" data-refused={refused}>
        <h1>TeamFlow is already open</h1>
        <p role="alert">{inUse}</p>
        <button
          type="button"
          className="primary"
          disabled={trying}
          onClick={() => {
            setTrying(true);
            setAttempt((n) => n + 1);
          }}
          data-testid="data-in-use-retry"
        >
          {trying ? "Trying…" : "Try again"}
        </button>
      </main>
    );
  }
  if (user === undefined) return <div className="splash">TeamFlow</div>;
  if (user === null) {
    return (
      <SignIn
        initialRelayUrl={relayUrl}
        startupError={error}
        opened={opened}
        onOpenedTaken={openedTaken}
        onSignedIn={(u, url) => {
          setRelayUrl(url);
          setUser(u);
        }}
      />
    );
  }
  return <Workspace user={user} onSignedOut={() => setUser(null)} onUserChanged={setUser} opened={opened} onOpenedTaken={openedTaken} />;
}
