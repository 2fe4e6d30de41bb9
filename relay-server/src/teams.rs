//! Teams, their members and settings, and the role rules that guard them.
//!
//! Every function under a team takes the caller's [`Membership`], checked once by the caller (a non-member
//! gets `not_found`, so the team's existence is not revealed); a member without the needed role gets
//! `forbidden`. A change to membership publishes its event once committed.

use sqlx::any::AnyExecutor;
use teamflow_protocol::api::teams::{Member, Team, TeamInput, TeamSettings};
use teamflow_protocol::{Role, TeamId, UserId};

use crate::access::{Membership, TEAM_NOT_FOUND, role_in};
use crate::db::{Db, begin_write, from_ms, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::validate::{Lines, Validator};

#[derive(sqlx::FromRow)]
struct TeamRow {
    #[sqlx(try_from = "String")]
    id: TeamId,
    name: String,
    #[sqlx(try_from = "String")]
    role: Role,
    member_count: i64,
    created_at: i64,
}

impl From<TeamRow> for Team {
    fn from(r: TeamRow) -> Self {
        Team { id: r.id, name: r.name, role: r.role, member_count: r.member_count, created_at: from_ms(r.created_at) }
    }
}

const TEAM_SELECT: &str = "SELECT t.id, t.name, m.role, t.created_at,
        (SELECT COUNT(*) FROM team_members c WHERE c.team_id = t.id) AS member_count
    FROM teams t JOIN team_members m ON m.team_id = t.id AND m.user_id = $1";

pub async fn list(db: &Db, user: UserId) -> Result<Vec<Team>, ApiError> {
    let rows: Vec<TeamRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{TEAM_SELECT} ORDER BY {}, t.id", db.nocase("t.name"))))
            .bind(user.to_string())
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(Team::from).collect())
}

pub async fn get<'e, E: AnyExecutor<'e>>(db: E, member: &Membership) -> Result<Team, ApiError> {
    let row: Option<TeamRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{TEAM_SELECT} WHERE t.id = $2")))
        .bind(member.user().to_string())
        .bind(member.team().to_string())
        .fetch_optional(db)
        .await?;
    row.map(Team::from).ok_or(ApiError::NotFound(TEAM_NOT_FOUND))
}

fn validate_team(input: &TeamInput) -> Result<String, ApiError> {
    let mut v = Validator::new();
    let name = v.text("name", &input.name, 1, 100, Lines::Single);
    v.finish()?;
    Ok(name)
}

/// Creates a team with `user` as its owner.
pub async fn create(db: &Db, user: UserId, input: TeamInput) -> Result<Team, ApiError> {
    let name = validate_team(&input)?;
    let team = TeamId::new();
    let now = now_ms();
    let settings = serde_json::to_string(&TeamSettings::default()).map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO teams (id, name, settings, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(team.to_string())
    .bind(&name)
    .bind(settings)
    .bind(user.to_string())
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES ($1, $2, 'owner', $3)")
        .bind(team.to_string())
        .bind(user.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Team { id: team, name, role: Role::Owner, member_count: 1, created_at: from_ms(now) })
}

/// Renames the team (owners and admins); its room hears `team_renamed` once the name is stored.
pub async fn rename(db: &Db, events: &Events, member: &Membership, input: TeamInput) -> Result<Team, ApiError> {
    member.require(Role::Admin)?;
    let name = validate_team(&input)?;
    sqlx::query("UPDATE teams SET name = $1, updated_at = $2 WHERE id = $3")
        .bind(&name)
        .bind(now_ms())
        .bind(member.team().to_string())
        .execute(db.pool())
        .await?;
    events.publish(Event::TeamRenamed { team: member.team(), name }).await;
    get(db.pool(), member).await
}

/// Deletes the team and everything in it (projects, messages, the document registry, the documents' stored
/// content, leaving tombstones). Owners only. Publishes who were members, so their live access is revoked;
/// their device certificates naming the team are revoked in the same transaction.
pub async fn delete(db: &Db, events: &Events, member: &Membership) -> Result<(), ApiError> {
    member.require(Role::Owner)?;
    let (team, user) = (member.team(), member.user());
    let mut tx = db.begin_erasing().await?;
    // Joins, role changes and document registrations of the team wait for this to end, then find no team.
    if !db.lock_team(&mut tx, &team.to_string()).await? {
        return Err(ApiError::NotFound(TEAM_NOT_FOUND));
    }
    let members: Vec<String> = sqlx::query_scalar("SELECT user_id FROM team_members WHERE team_id = $1")
        .bind(team.to_string())
        .fetch_all(&mut **tx)
        .await?;
    let members = members
        .into_iter()
        .map(|m| m.parse().map_err(|e| ApiError::Internal(format!("user id in database: {e}"))))
        .collect::<Result<Vec<UserId>, _>>()?;
    crate::documents::bury_team(&mut tx, team).await?;
    for &gone in &members {
        crate::devices::revoke(&mut tx, gone, team).await?;
    }
    sqlx::query("DELETE FROM teams WHERE id = $1").bind(team.to_string()).execute(&mut **tx).await?;
    tx.commit().await?;
    tracing::info!(%team, by = %user, "team deleted");
    events.publish(Event::TeamDeleted { team, members }).await;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    #[sqlx(try_from = "String")]
    user_id: UserId,
    email: String,
    display_name: String,
    #[sqlx(try_from = "String")]
    role: Role,
    joined_at: i64,
}

impl From<MemberRow> for Member {
    fn from(r: MemberRow) -> Self {
        Member {
            user_id: r.user_id,
            email: r.email,
            display_name: r.display_name,
            role: r.role,
            joined_at: from_ms(r.joined_at),
        }
    }
}

const MEMBER_SELECT: &str = "SELECT m.user_id, u.email, u.display_name, m.role, m.joined_at
    FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1";

pub async fn members<'e, E: AnyExecutor<'e>>(db: E, member: &Membership) -> Result<Vec<Member>, ApiError> {
    let rows: Vec<MemberRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{MEMBER_SELECT} ORDER BY m.joined_at, m.user_id")))
            .bind(member.team().to_string())
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(Member::from).collect())
}

async fn fetch_member(db: &Db, team: TeamId, user: UserId) -> Result<Member, ApiError> {
    let row: Option<MemberRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{MEMBER_SELECT} AND m.user_id = $2")))
        .bind(team.to_string())
        .bind(user.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.map(Member::from).ok_or(ApiError::NotFound("no such member"))
}

/// A change to someone's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    SetRole(Role),
    Remove,
}

/// The role rules, apart from storage: who may change whom, and the team's last owner stays.
pub fn check_member_change(
    actor: (UserId, Role),
    target: (UserId, Role),
    change: MemberChange,
    owner_count: i64,
) -> Result<(), ApiError> {
    let (actor_id, actor_role) = actor;
    let (target_id, target_role) = target;
    if actor_id == target_id {
        if let MemberChange::SetRole(new) = change
            && new != target_role
            && new.at_least(target_role)
        {
            return Err(ApiError::Forbidden("nobody can raise their own role"));
        }
    } else {
        if !actor_role.can_manage() {
            return Err(ApiError::Forbidden("only owners and admins manage members"));
        }
        if !actor_role.at_least(target_role) {
            return Err(ApiError::Forbidden("you cannot change a member whose role is above yours"));
        }
        if let MemberChange::SetRole(new) = change
            && !actor_role.at_least(new)
        {
            return Err(ApiError::Forbidden("you cannot grant a role above your own"));
        }
    }
    let loses_owner = target_role == Role::Owner && change != MemberChange::SetRole(Role::Owner);
    if loses_owner && owner_count <= 1 {
        return Err(ApiError::Conflict("a team must keep at least one owner; make someone else owner first"));
    }
    Ok(())
}

/// Changes a member's role. Nobody raises their own; the last owner cannot be demoted.
pub async fn set_role(
    db: &Db,
    events: &Events,
    actor: &Membership,
    target: UserId,
    role: Role,
) -> Result<Member, ApiError> {
    change_member(db, events, actor, target, MemberChange::SetRole(role)).await?;
    fetch_member(db, actor.team(), target).await
}

/// Removes a member; members may remove themselves, which is leaving. The last owner cannot leave.
pub async fn remove_member(db: &Db, events: &Events, actor: &Membership, target: UserId) -> Result<(), ApiError> {
    change_member(db, events, actor, target, MemberChange::Remove).await
}

async fn change_member(
    db: &Db,
    events: &Events,
    actor: &Membership,
    target: UserId,
    change: MemberChange,
) -> Result<(), ApiError> {
    let team = actor.team();
    // One write transaction reading the target's role and the owners, so two owners demoting each other at
    // once cannot both succeed: on PostgreSQL the team's row lock makes the second wait for the first to
    // commit and count the owners again (SQLite's `begin_write` holds the whole database already).
    let mut tx = begin_write(db).await?;
    if !db.lock_team(&mut tx, &team.to_string()).await? {
        return Err(ApiError::NotFound(TEAM_NOT_FOUND));
    }
    // The actor's role as it is now, under the lock: the one checked before may be a moment (or, on another
    // instance's cache, minutes) old, and a demoted owner must not act as one.
    let actor_role = role_in(&mut *tx, team, actor.user()).await?.ok_or(ApiError::NotFound(TEAM_NOT_FOUND))?;
    let target_role = role_in(&mut *tx, team, target).await?.ok_or(ApiError::NotFound("no such member"))?;
    let owners: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM team_members WHERE team_id = $1 AND role = 'owner'")
        .bind(team.to_string())
        .fetch_one(&mut *tx)
        .await?;
    check_member_change((actor.user(), actor_role), (target, target_role), change, owners)?;
    match change {
        MemberChange::SetRole(role) => {
            sqlx::query("UPDATE team_members SET role = $1 WHERE team_id = $2 AND user_id = $3")
                .bind(role.as_str())
                .bind(team.to_string())
                .bind(target.to_string())
                .execute(&mut *tx)
                .await?;
        }
        MemberChange::Remove => {
            sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
                .bind(team.to_string())
                .bind(target.to_string())
                .execute(&mut *tx)
                .await?;
            // Their integrations must not go on acting for them: disabled in the same commit.
            crate::webhooks::disable_for_removed_creator(&mut tx, team, target).await?;
        }
    }
    let after = match change {
        MemberChange::SetRole(role) => Some(role),
        MemberChange::Remove => None,
    };
    // A removal or a lower role voids the target's device certificates in this same transaction, and the
    // invitations they may no longer give.
    if after.is_none_or(|after| !after.at_least(target_role)) {
        crate::devices::revoke(&mut tx, target, team).await?;
        crate::invitations::revoke_beyond(&mut tx, team, target, after).await?;
    }
    tx.commit().await?;
    tracing::info!(%team, %target, ?change, by = %actor.user(), "membership changed");
    events.publish(Event::MembershipChanged { team, user: target, before: Some(target_role), after }).await;
    Ok(())
}

pub async fn settings(db: &Db, member: &Membership) -> Result<TeamSettings, ApiError> {
    let json: String = sqlx::query_scalar("SELECT settings FROM teams WHERE id = $1")
        .bind(member.team().to_string())
        .fetch_optional(db.pool())
        .await?
        .ok_or(ApiError::NotFound(TEAM_NOT_FOUND))?;
    serde_json::from_str(&json).map_err(|e| ApiError::Internal(format!("team settings in database: {e}")))
}

pub async fn update_settings(db: &Db, member: &Membership, input: TeamSettings) -> Result<TeamSettings, ApiError> {
    member.require(Role::Admin)?;
    let mut v = Validator::new();
    let description = v.text("description", &input.description, 0, 500, Lines::Multi);
    v.check(
        "webhook_payload_retention_days",
        (1..=365).contains(&input.webhook_payload_retention_days),
        "must be between 1 and 365",
    );
    v.finish()?;
    let settings = TeamSettings { description, ..input };
    let json = serde_json::to_string(&settings).map_err(|e| ApiError::Internal(e.to_string()))?;
    sqlx::query("UPDATE teams SET settings = $1, updated_at = $2 WHERE id = $3")
        .bind(json)
        .bind(now_ms())
        .bind(member.team().to_string())
        .execute(db.pool())
        .await?;
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (UserId, UserId) {
        (UserId::new(), UserId::new())
    }

    fn code(result: Result<(), ApiError>) -> Option<&'static str> {
        result.err().map(|e| e.code().as_str())
    }

    #[test]
    fn nobody_raises_their_own_role() {
        let (me, _) = ids();
        for (from, to) in [(Role::Viewer, Role::Member), (Role::Member, Role::Admin), (Role::Admin, Role::Owner)] {
            assert_eq!(
                code(check_member_change((me, from), (me, from), MemberChange::SetRole(to), 2)),
                Some("forbidden")
            );
        }
        // Lowering one's own role, or leaving, is fine.
        assert_eq!(
            code(check_member_change((me, Role::Admin), (me, Role::Admin), MemberChange::SetRole(Role::Viewer), 1)),
            None
        );
        assert_eq!(code(check_member_change((me, Role::Member), (me, Role::Member), MemberChange::Remove, 1)), None);
    }

    #[test]
    fn only_managers_change_others_and_never_above_themselves() {
        let (a, b) = ids();
        let change = |actor, target, c| code(check_member_change((a, actor), (b, target), c, 2));
        assert_eq!(change(Role::Member, Role::Viewer, MemberChange::Remove), Some("forbidden"));
        assert_eq!(change(Role::Member, Role::Viewer, MemberChange::SetRole(Role::Member)), Some("forbidden"));
        assert_eq!(change(Role::Admin, Role::Owner, MemberChange::Remove), Some("forbidden"));
        assert_eq!(change(Role::Admin, Role::Member, MemberChange::SetRole(Role::Owner)), Some("forbidden"));
        assert_eq!(change(Role::Admin, Role::Member, MemberChange::SetRole(Role::Admin)), None);
        assert_eq!(change(Role::Admin, Role::Admin, MemberChange::Remove), None);
        assert_eq!(change(Role::Owner, Role::Owner, MemberChange::SetRole(Role::Admin)), None);
    }

    #[test]
    fn the_last_owner_stays() {
        let (me, other) = ids();
        assert_eq!(
            code(check_member_change((me, Role::Owner), (me, Role::Owner), MemberChange::Remove, 1)),
            Some("conflict")
        );
        assert_eq!(
            code(check_member_change((me, Role::Owner), (me, Role::Owner), MemberChange::SetRole(Role::Admin), 1)),
            Some("conflict")
        );
        assert_eq!(
            code(check_member_change((me, Role::Owner), (me, Role::Owner), MemberChange::SetRole(Role::Owner), 1)),
            None
        );
        assert_eq!(code(check_member_change((other, Role::Owner), (me, Role::Owner), MemberChange::Remove, 2)), None);
    }
}
