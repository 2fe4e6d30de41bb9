// A message's text with its mentions drawn as names (a mention of the reader stands out) and its web links
// as links, which open in the system browser (`onOpenLink`), never in this window.
import type { UserId } from "../../bindings";
import { linkParts } from "../../lib/links";
import { segments } from "./mentions";

export function MessageText({ content, me, onOpenLink }: { content: string; me: UserId; onOpenLink: (url: string) => void }) {
  return (
    <>
      {segments(content).map((s, i) =>
        "text" in s ? (
          linkParts(s.text).map((part, j) =>
            "url" in part ? (
              <a
                key={`${i}-${j}`}
                href={part.url}
                rel="noreferrer noopener"
                data-testid="message-link"
                onClick={(event) => {
                  event.preventDefault();
                  onOpenLink(part.url);
                }}
                // A middle click would ask the webview for a window of its own.
                onAuxClick={(event) => event.preventDefault()}
              >
                {part.text}
              </a>
            ) : (
              <span key={`${i}-${j}`}>{part.text}</span>
            ),
          )
        ) : (
          <span key={i} className={s.mention.userId === me ? "mention mention-me" : "mention"} data-testid={s.mention.userId === me ? "mention-me" : "mention"} data-user={s.mention.userId}>
            @{s.mention.name}
          </span>
        ),
      )}
    </>
  );
}
