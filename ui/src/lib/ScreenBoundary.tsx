// What shows when a screen's code fails to load or throws while drawing: a panel that says so, with a way
// out, instead of a blank window. Without it React drops the whole tree and the window is left empty, the
// sidebar and every other screen with it.
import { Component, type ErrorInfo, type ReactNode } from "react";

type Props = {
  children: ReactNode;
  /** A change of it (another screen, team or document chosen) tries the children again. */
  resetKey?: string;
};

type State = { error: unknown };

/** What to tell the person: a part of the app that did not load is mended by reloading, not by waiting. */
export function describeFailure(error: unknown): string {
  // Without its closing full stop: it is quoted inside a sentence.
  const message = (error instanceof Error ? error.message : String(error)).replace(/\.$/, "");
  if (isLoadFailure(message)) {
    return `A part of TeamFlow could not be loaded (${message}). Reload the window; if it happens again, reinstall TeamFlow.`;
  }
  return `Something went wrong while drawing it (${message}). Reload the window to carry on.`;
}

// WebKit, Chromium and Firefox each word a lazily loaded chunk that could not be read differently.
function isLoadFailure(message: string): boolean {
  return /MIME type|Importing a module script failed|dynamically imported module|error loading dynamically imported module/i.test(
    message,
  );
}

export class ScreenBoundary extends Component<Props, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error: error ?? new Error("unknown error") };
  }

  componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error("a screen failed", error, info.componentStack);
  }

  componentDidUpdate(previous: Props) {
    if (this.state.error !== null && previous.resetKey !== this.props.resetKey) this.setState({ error: null });
  }

  render() {
    if (this.state.error === null) return this.props.children;
    return (
      <section className="panel screen-failed" role="alert" data-testid="screen-failed">
        <h2>This screen could not be shown</h2>
        <p>{describeFailure(this.state.error)}</p>
        <button type="button" className="primary" onClick={() => window.location.reload()}>
          Reload the window
        </button>
      </section>
    );
  }
}
