import { describe, expect, it } from "vitest";
import type { Member, Role } from "../../bindings";
import { allowed, mayLeave } from "./rules";

const member = (id: string, role: Role): Member => ({ user_id: id, email: `${id}@x.test`, display_name: id, role, joined_at: "" });

describe("member rules, as the relay applies them", () => {
  it("owners manage everyone and grant any role", () => {
    expect(allowed({ id: "o", role: "owner" }, member("a", "admin"), 1)).toEqual({ roles: ["viewer", "member", "admin", "owner"], remove: true, why: null });
  });

  it("admins never touch or grant a role above theirs", () => {
    expect(allowed({ id: "a", role: "admin" }, member("m", "member"), 1).roles).toEqual(["viewer", "member", "admin"]);
    const owner = allowed({ id: "a", role: "admin" }, member("o", "owner"), 2);
    expect(owner).toEqual({ roles: [], remove: false, why: "Their role is above yours." });
  });

  it("members and viewers manage nobody", () => {
    expect(allowed({ id: "m", role: "member" }, member("v", "viewer"), 1).remove).toBe(false);
    expect(allowed({ id: "v", role: "viewer" }, member("m", "member"), 1).why).toBe("Only owners and admins manage members.");
  });

  it("the only owner stays owner, and nobody raises their own role", () => {
    expect(allowed({ id: "o", role: "owner" }, member("o", "owner"), 1).roles).toEqual([]);
    expect(allowed({ id: "p", role: "owner" }, member("o", "owner"), 1).remove).toBe(false);
    expect(allowed({ id: "o", role: "owner" }, member("o", "owner"), 2).roles).toEqual(["viewer", "member", "admin", "owner"]);
    expect(allowed({ id: "m", role: "member" }, member("m", "member"), 1).roles).toEqual(["viewer", "member"]);
    expect(allowed({ id: "v", role: "viewer" }, member("v", "viewer"), 1).roles).toEqual([]);
  });

  it("the only owner cannot leave; anyone else can", () => {
    expect(mayLeave("owner", 1)).toBe(false);
    expect(mayLeave("owner", 2)).toBe(true);
    expect(mayLeave("viewer", 0)).toBe(true);
  });
});
