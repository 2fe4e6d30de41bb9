// Links the app was opened with: `teamflow://open?link=…` from the relay's pages (src-tauri/src/deep_links.rs).
// The shell keeps the latest until the window takes it: once the listener is in place (a link that came
// with the app's own start), and each time the shell says another arrived. A link only fills in a form.
import { commands, events, type OpenedLink } from "../bindings";

/** Calls `onLink` with each link the app is opened with; answers the effect's cleanup. */
export function followOpenedLinks(onLink: (link: OpenedLink) => void): () => void {
  // A taken link is the shell's no longer: it is handed on even after a cleanup (React runs an effect twice
  // in development, and the second run finds nothing left to take).
  const take = () =>
    commands.takeOpenedLink().then(
      (link) => link && onLink(link),
      (e) => console.warn("the link the app was opened with could not be read", e),
    );
  const unlisten = events.linkOpened.listen(() => void take());
  // Taken once listening, or failing to: the start's link is never left behind.
  void unlisten.then(take, take);
  return () => void unlisten.then((stop) => stop());
}

/** The same relay, however its address was written ("https://relay.example.com/" and "…com" alike). */
export function sameRelay(a: string, b: string): boolean {
  const canonical = (url: string) => url.trim().replace(/\/+$/, "").toLowerCase();
  return canonical(a) === canonical(b);
}
