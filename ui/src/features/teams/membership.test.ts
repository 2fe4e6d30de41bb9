import { describe, expect, it } from "vitest";
import type { ServerMessage } from "../../bindings";
import { membershipMayHaveChanged, noLongerMember, stillListed } from "./membership";

const me = "11111111-1111-4111-8111-111111111111";
const other = "22222222-2222-4222-8222-222222222222";
const team = "33333333-3333-4333-8333-333333333333";

describe("membershipMayHaveChanged", () => {
  it("is my own membership changing or the room cut off", () => {
    expect(membershipMayHaveChanged({ type: "member_changed", team_id: team, user_id: me, role: null }, me)).toBe(true);
    expect(membershipMayHaveChanged({ type: "member_changed", team_id: team, user_id: me, role: "viewer" }, me)).toBe(true);
    expect(membershipMayHaveChanged({ type: "access_revoked", team_id: team }, me)).toBe(true);
  });

  it("is not a teammate's change or any other frame", () => {
    expect(membershipMayHaveChanged({ type: "member_changed", team_id: team, user_id: other, role: null }, me)).toBe(false);
    expect(membershipMayHaveChanged({ type: "typing", team_id: team, user_id: me } as ServerMessage, me)).toBe(false);
    expect(membershipMayHaveChanged({ type: "pong", nonce: null }, me)).toBe(false);
  });
});

describe("noLongerMember", () => {
  it("names the team", () => {
    expect(noLongerMember("Ops")).toContain("“Ops”");
  });
});

describe("stillListed", () => {
  const home = { id: "home" };
  const side = { id: "side" };
  it("keeps the team on screen while it is listed", () => {
    expect(stillListed("side", [home, side])).toBe("side");
  });
  it("opens the first team when the one on screen is gone, or none was chosen", () => {
    expect(stillListed("ops", [home, side])).toBe("home");
    expect(stillListed(null, [side, home])).toBe("side");
  });
  it("is none only without teams", () => {
    expect(stillListed("ops", [])).toBeNull();
  });
});
