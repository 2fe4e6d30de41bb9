// A message's text with its mentions drawn as names; a mention of the reader stands out.
import type { UserId } from "../../bindings";
import { segments } from "./mentions";

export function MessageText({ content, me }: { content: string; me: UserId }) {
  return (
    <>
      {segments(content).map((s, i) =>
        "text" in s ? (
          <span key={i}>{s.text}</span>
        ) : (
          <span key={i} className={s.mention.userId === me ? "mention mention-me" : "mention"} data-testid={s.mention.userId === me ? "mention-me" : "mention"} data-user={s.mention.userId}>
            @{s.mention.name}
          </span>
        ),
      )}
    </>
  );
}
