// A document's own state beside its title: "Saving…" while the window holds edits the node has not
// confirmed, whatever the node says of the relay; otherwise the node's word.
import { act, cleanup, render, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import type { Status } from "../../bindings";
import { setStatus } from "./status";
import { DocState } from "./SyncIndicator";

afterEach(cleanup);

const url = "automerge:doc";
const status = (state?: Status["documents"][string]): Status =>
  ({ signed_in: true, credentials: null, link: "online", peers: [], pending: 0, failed: 0, documents: state ? { [url]: state } : {} }) as Status;

it("says the document is saving while the window holds unconfirmed edits, even if the relay had the rest", () => {
  setStatus(status("synced"));
  render(<DocState url={url} saving />);
  expect(screen.getByTestId("doc-state").textContent).toBe("Saving…");
});

it("otherwise says what the node says", () => {
  setStatus(status("synced"));
  render(<DocState url={url} />);
  expect(screen.getByTestId("doc-state").textContent).toBe("Saved to relay");
  act(() => setStatus(status("local_only")));
  expect(screen.getByTestId("doc-state").textContent).toBe("Only on this device");
  act(() => setStatus(status()));
  expect(screen.getByTestId("doc-state").textContent).toBe("Opening…");
});
