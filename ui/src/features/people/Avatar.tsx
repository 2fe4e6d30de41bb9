// A person's avatar: initials on their colour, with a presence dot when it is known. The name beside it is
// the accessible text (the initials are decoration); the dot's state is spelled out for screen readers.
import { avatarColor, initials } from "./avatar";

type Props = { userId: string; name: string; online?: boolean; size?: number };

export function Avatar({ userId, name, online, size = 28 }: Props) {
  return (
    <span className="avatar" style={{ width: size, height: size, fontSize: Math.round(size * 0.42) }} data-testid="avatar">
      <span className="initials" style={{ background: avatarColor(userId) }} aria-hidden="true">
        {initials(name)}
      </span>
      {online !== undefined && <span className={online ? "presence on" : "presence off"} aria-hidden="true" />}
      {online !== undefined && <span className="visually-hidden">{online ? "online" : "offline"}</span>}
    </span>
  );
}
