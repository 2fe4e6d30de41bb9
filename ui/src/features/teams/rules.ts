// What the person may do to a member, decided the way the relay decides it (relay-server/src/teams.rs), so the
// screen says why a control is off before anyone clicks: owners and admins manage members; nobody touches a
// role above their own or grants one; nobody raises their own role; a team keeps at least one owner.
import type { Member, Role } from "../../bindings";

const RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };
export const ROLES: Role[] = ["viewer", "member", "admin", "owner"];

export const atLeast = (role: Role, than: Role) => RANK[role] >= RANK[than];
export const canManage = (role: Role) => atLeast(role, "admin");

/** What `me` may do to `target`: the roles they may set (empty: none), whether they may remove them, and
 * why not, in words, when something is off. */
export type Allowed = { roles: Role[]; remove: boolean; why: string | null };

export function allowed(me: { id: string; role: Role }, target: Member, owners: number): Allowed {
  const lastOwner = target.role === "owner" && owners <= 1;
  if (target.user_id === me.id) {
    // Oneself: only a lower role, and leaving is its own button.
    const roles = lastOwner ? [] : ROLES.filter((r) => !atLeast(r, target.role) || r === target.role);
    const why = lastOwner ? "You are the team's only owner: make someone else owner first." : null;
    return { roles: roles.length > 1 ? roles : [], remove: false, why };
  }
  if (!canManage(me.role)) return { roles: [], remove: false, why: "Only owners and admins manage members." };
  if (!atLeast(me.role, target.role)) return { roles: [], remove: false, why: "Their role is above yours." };
  if (lastOwner) return { roles: [], remove: false, why: "The team's only owner: make someone else owner first." };
  return { roles: ROLES.filter((r) => atLeast(me.role, r)), remove: true, why: null };
}

/** Whether `me` may leave the team: not while they are its only owner. */
export function mayLeave(role: Role, owners: number): boolean {
  return !(role === "owner" && owners <= 1);
}
