// Teams, members, projects and invitations for the tests, numbered so a test can say "the 30th member".
import type { AppError, Invitation, Link, PendingInvitation, PresentMember, Project, ServerMessage, Status, Team, TeamId, TeamSettings } from "../bindings";

export const TEAM: TeamId = "0190f1e2-0000-7000-8000-0000000000aa";

export const userId = (n: number) => `0190f1e2-0000-7000-8000-${String(n).padStart(12, "0")}`;

export function member(n: number, online = false): PresentMember {
  return { user_id: userId(n), email: `m${n}@example.com`, display_name: `Member ${n}`, role: "member", joined_at: "2026-11-29T10:00:00Z", online };
}

/** Members `from` to `to`, both included. */
export function members(from: number, to: number, online = false): PresentMember[] {
  return Array.from({ length: to - from + 1 }, (_, i) => member(from + i, online));
}

export function project(n: number): Project {
  const at = new Date(Date.UTC(2026, 10, 1, 0, n)).toISOString();
  return {
    id: `0190f1e2-0000-7000-9000-${String(n).padStart(12, "0")}`,
    team_id: TEAM,
    name: `Project ${n}`,
    description: "",
    status: "active",
    document_id: null,
    owner_id: null,
    due_date: null,
    versions: { name: 0, description: 0, status: 0, document_id: 0, owner_id: 0, due_date: 0 },
    created_by: userId(1),
    created_at: at,
    updated_at: at,
  };
}

export function projects(from: number, to: number): Project[] {
  return Array.from({ length: to - from + 1 }, (_, i) => project(from + i));
}

/** The relay's answer to joining `TEAM`: `team_state` with the first 25, then pages of 25 more. */
export function joinFrames(all: PresentMember[], allProjects: Project[] = []): ServerMessage[] {
  const team: Team = { id: TEAM, name: "Crew", role: "member", member_count: all.length, created_at: "2026-11-01T00:00:00Z" };
  const pages = <T>(items: T[]) => Array.from({ length: Math.ceil(items.length / 25) }, (_, i) => items.slice(i * 25, i * 25 + 25));
  const [first = [], ...rest] = pages(all);
  const [firstProjects = [], ...restProjects] = pages(allProjects);
  return [
    { type: "team_state", team, members: first, projects: firstProjects, latest_seq: 0 },
    ...rest.map((page): ServerMessage => ({ type: "team_members", team_id: TEAM, members: page })),
    ...restProjects.map((page): ServerMessage => ({ type: "team_projects", team_id: TEAM, projects: page })),
  ];
}

/** An invitation token as the relay makes them (43 base64url characters), numbered. */
export const inviteToken = (n: number) => `tok${String(n).padStart(4, "0")}`.padEnd(43, "x");

/** The link of invitation `n` on the test relay. */
export const inviteLink = (n: number) => `http://127.0.0.1:8080/invite/${inviteToken(n)}`;

/** A pending invitation of `TEAM` as its owners and admins list it (no token or link). */
export function invitation(n: number, patch: Partial<Invitation> = {}): Invitation {
  return { id: `0190f1e2-0000-7000-a000-${String(n).padStart(12, "0")}`, team_id: TEAM, role: "member", email: null, expires_at: "2026-12-08T10:00:00Z", ...patch };
}

/** An invitation waiting for the signed-in person: to team `n`, from "Ada". */
export function pendingInvitation(n: number, patch: Partial<PendingInvitation> = {}): PendingInvitation {
  return {
    id: `0190f1e2-0000-7000-b000-${String(n).padStart(12, "0")}`,
    token: inviteToken(n),
    team_id: `0190f1e2-0000-7000-c000-${String(n).padStart(12, "0")}`,
    team_name: `Team ${n}`,
    role: "member",
    inviter_name: "Ada",
    expires_at: "2026-12-08T10:00:00Z",
    ...patch,
  };
}

/** A refusal from the relay with `code`, as a command answers it. */
export const refused = (code: string, status = 400): AppError => ({ kind: "refused", status, code, message: `the relay says ${code}` });

/** The node's status with the relay link as given (signed in, nothing queued). */
export const linkStatus = (link: Link): Status => ({ signed_in: true, link, peers: [], pending: 0, failed: 0, documents: {}, credentials: null });

/** A team's settings, the relay's defaults unless overridden. */
export const teamSettings = (overrides: Partial<TeamSettings> = {}): TeamSettings => ({
  description: "",
  default_project_status: "active",
  members_can_create_projects: true,
  webhook_payload_retention_days: 30,
  ...overrides,
});
