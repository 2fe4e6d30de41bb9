// The one way a feature shows what went wrong: an alert line, nothing while there is no error.
type Props = {
  error: string | null | undefined;
  /** Clicking the line, or its Dismiss button (reachable by keyboard), clears it. */
  onDismiss?: () => void;
  /** Spans the page instead of sitting under a form. */
  banner?: boolean;
  testId?: string;
};

export function ErrorLine({ error, onDismiss, banner, testId }: Props) {
  if (!error) return null;
  return (
    <p className={banner ? "error banner" : "error"} role="alert" onClick={onDismiss} data-testid={testId}>
      {error}
      {/* Its × is drawn by the stylesheet, so the alert's text is the error alone. */}
      {onDismiss && <button type="button" className="dismiss" aria-label="Dismiss" title="Dismiss" />}
    </p>
  );
}
