//! Invitations: how a person joins a relay and a team by consent.
//!
//! An invitation names a team and a role, optionally an email (then only the account with that normalised
//! email can use it), and expires. Its token is the secret: the relay stores only its SHA-256. A token is
//! `HMAC-SHA256(secret, id)` under a secret derived from the relay's signing key, so the relay can show an
//! email-bound invitation's token to the invited person (`GET /api/me`) without keeping it; without the key,
//! tokens are as unguessable as random ones. A token works once; used, declined, revoked and expired
//! invitations all answer as unknown. Joining publishes the membership change once committed: a person
//! appears in the team only when they accept.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::{Digest as _, Sha256};
use sqlx::AnyConnection;
use teamflow_protocol::api::auth::TeamMembership;
use teamflow_protocol::api::invitations::{Invitation, InvitationInput, InvitationPreview, PendingInvitation};
use teamflow_protocol::api::teams::AddMember;
use teamflow_protocol::{Role, TeamId, UserId};
use uuid::Uuid;

use crate::access::Membership;
use crate::auth::SigningKeys;
use crate::db::{self, Db, begin_write, from_ms, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::validate::Validator;

/// What every unusable token is told, whichever way it is unusable.
pub const UNKNOWN: &str = "no such invitation: it is unknown, used, revoked or expired";

/// Default and longest lifetime of an invitation, in hours.
const DEFAULT_HOURS: u32 = 7 * 24;
const MAX_HOURS: u32 = 30 * 24;

/// What invitation tokens are made with. Derived from the relay's signing key: the relay and its admin
/// command (which opens the same data directory) make the same tokens.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invitations::Secret")
    }
}

impl Secret {
    pub fn from_keys(keys: &SigningKeys) -> Self {
        // Ed25519 signatures are deterministic: this is a value only the key's holder can compute.
        let signature = keys.sign(b"teamflow-invitation-secret-v1");
        Self(Sha256::digest(signature).into())
    }

    fn token(&self, id: Uuid) -> String {
        let mut mac = <Hmac<Sha256> as hmac::Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(b"invitation\n");
        mac.update(id.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The link a person opens: `{public_url}/invite/{token}`.
pub fn url(public_url: &str, token: &str) -> String {
    format!("{public_url}/invite/{token}")
}

pub use teamflow_protocol::api::invitations::token_from;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    #[sqlx(try_from = "String")]
    team_id: TeamId,
    #[sqlx(try_from = "String")]
    role: Role,
    email: Option<String>,
    expires_at: i64,
    team_name: String,
    inviter_name: Option<String>,
}

const SELECT: &str = "SELECT i.id, i.team_id, i.role, i.email, i.expires_at, t.name AS team_name,
        u.display_name AS inviter_name
    FROM invitations i JOIN teams t ON t.id = i.team_id LEFT JOIN users u ON u.id = i.invited_by";
/// Usable: not used, revoked or declined, and its inviter (unless the relay's administrator made it) is still
/// in the team with the right to give its role. An invitation is only as good as its inviter's standing:
/// an admin who is demoted, removed or leaves takes their links with them.
const PENDING: &str = "i.used_at IS NULL AND i.revoked_at IS NULL AND i.declined_at IS NULL
    AND (i.invited_by IS NULL OR EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = i.team_id
        AND m.user_id = i.invited_by AND (m.role = 'owner' OR (m.role = 'admin' AND i.role <> 'owner'))))";

/// Who made an invitation made by `teamflow-relay admin invite`.
const ADMINISTRATOR: &str = "the relay's administrator";

impl Row {
    fn id(&self) -> Result<Uuid, ApiError> {
        self.id.parse().map_err(|e| ApiError::Internal(format!("invitation id in database: {e}")))
    }

    fn inviter(&self) -> String {
        self.inviter_name.clone().unwrap_or_else(|| ADMINISTRATOR.to_owned())
    }

    fn invitation(&self) -> Result<Invitation, ApiError> {
        Ok(Invitation {
            id: self.id()?,
            team_id: self.team_id,
            role: self.role,
            email: self.email.clone(),
            token: None,
            url: None,
            expires_at: from_ms(self.expires_at),
        })
    }
}

/// An invitation its token names, if it is still usable.
async fn pending(tx: &mut AnyConnection, token: &str) -> Result<Row, ApiError> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE i.token_hash = $1 AND {PENDING} AND i.expires_at > $2"
    )))
    .bind(token_hash(token))
    .bind(now_ms())
    .fetch_optional(&mut *tx)
    .await?;
    row.ok_or(ApiError::NotFound(UNKNOWN))
}

/// What a checked request to invite asks for.
struct New {
    team: TeamId,
    role: Role,
    email: Option<String>,
    hours: u32,
    by: Option<UserId>,
}

fn check_inviter(actor: &Membership, role: Role) -> Result<(), ApiError> {
    if !actor.role().can_manage() {
        return Err(ApiError::Forbidden("only owners and admins invite people"));
    }
    if !actor.role().at_least(role) {
        return Err(ApiError::Forbidden("you cannot grant a role above your own"));
    }
    Ok(())
}

async fn insert(
    db: impl sqlx::AnyExecutor<'_>,
    secret: &Secret,
    public_url: &str,
    new: New,
) -> Result<Invitation, ApiError> {
    let id = Uuid::new_v4();
    let token = secret.token(id);
    let now = now_ms();
    let expires_at = now.saturating_add(i64::from(new.hours) * 3_600_000);
    sqlx::query(
        "INSERT INTO invitations (id, token_hash, team_id, role, email, invited_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.to_string())
    .bind(token_hash(&token))
    .bind(new.team.to_string())
    .bind(new.role.as_str())
    .bind(&new.email)
    .bind(new.by.map(|u| u.to_string()))
    .bind(now)
    .bind(expires_at)
    .execute(db)
    .await?;
    tracing::info!(team = %new.team, invitation = %id, role = new.role.as_str(), by = ?new.by, "invitation created");
    Ok(Invitation {
        id,
        team_id: new.team,
        role: new.role,
        email: new.email,
        url: Some(url(public_url, &token)),
        token: Some(token),
        expires_at: from_ms(expires_at),
    })
}

/// `POST /api/teams/{team_id}/invitations`: owners and admins, never a role above their own.
pub async fn create(
    db: &Db,
    secret: &Secret,
    public_url: &str,
    actor: &Membership,
    input: InvitationInput,
) -> Result<Invitation, ApiError> {
    let mut v = Validator::new();
    let email = input.email.as_deref().map(|email| v.email("email", email));
    let hours = input.expires_in_hours.unwrap_or(DEFAULT_HOURS);
    v.check("expires_in_hours", (1..=MAX_HOURS).contains(&hours), "must be between 1 and 720");
    v.finish()?;
    check_inviter(actor, input.role)?;
    let new = New { team: actor.team(), role: input.role, email, hours, by: Some(actor.user()) };
    insert(db.pool(), secret, public_url, new).await
}

/// `teamflow-relay admin invite`: an unbound invitation to `team` with the default lifetime.
pub async fn create_as_administrator(
    db: &Db,
    secret: &Secret,
    public_url: &str,
    team: TeamId,
    role: Role,
) -> Result<Invitation, ApiError> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM teams WHERE id = $1")
        .bind(team.to_string())
        .fetch_optional(db.pool())
        .await?;
    exists.ok_or(ApiError::NotFound("no such team"))?;
    insert(db.pool(), secret, public_url, New { team, role, email: None, hours: DEFAULT_HOURS, by: None }).await
}

/// `POST /api/teams/{team_id}/members` for an existing account: an invitation bound to its email, which the
/// person sees in `GET /api/me` and joins by accepting.
pub async fn invite_member(
    db: &Db,
    secret: &Secret,
    public_url: &str,
    actor: &Membership,
    input: AddMember,
) -> Result<Invitation, ApiError> {
    let mut v = Validator::new();
    let email = v.email("email", &input.email);
    v.finish()?;
    check_inviter(actor, input.role)?;
    let user: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1 AND deleted_at IS NULL")
        .bind(&email)
        .fetch_optional(db.pool())
        .await?;
    let user = user.ok_or(ApiError::NotFound("no account uses this email; send them an invitation link instead"))?;
    let member: Option<i64> = sqlx::query_scalar("SELECT 1 FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(actor.team().to_string())
        .bind(&user)
        .fetch_optional(db.pool())
        .await?;
    if member.is_some() {
        return Err(ApiError::Conflict("already a member of this team"));
    }
    let new =
        New { team: actor.team(), role: input.role, email: Some(email), hours: DEFAULT_HOURS, by: Some(actor.user()) };
    insert(db.pool(), secret, public_url, new).await
}

/// A team's pending invitations (owners and admins), without their tokens.
pub async fn list(db: &Db, actor: &Membership) -> Result<Vec<Invitation>, ApiError> {
    if !actor.role().can_manage() {
        return Err(ApiError::Forbidden("only owners and admins see invitations"));
    }
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE i.team_id = $1 AND {PENDING} AND i.expires_at > $2 ORDER BY i.created_at"
    )))
    .bind(actor.team().to_string())
    .bind(now_ms())
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(Row::invitation).collect()
}

/// Revokes a pending invitation of the team (owners and admins).
pub async fn revoke(db: &Db, actor: &Membership, id: Uuid) -> Result<(), ApiError> {
    if !actor.role().can_manage() {
        return Err(ApiError::Forbidden("only owners and admins revoke invitations"));
    }
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE invitations AS i SET revoked_at = $1 WHERE i.id = $2 AND i.team_id = $3 AND {PENDING} AND i.expires_at > $4"
    )))
    .bind(now_ms())
    .bind(id.to_string())
    .bind(actor.team().to_string())
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound(UNKNOWN));
    }
    tracing::info!(team = %actor.team(), invitation = %id, by = %actor.user(), "invitation revoked");
    Ok(())
}

/// `GET /api/invitations/{token}`: what it offers, for anyone holding it.
pub async fn preview(db: &Db, token: &str) -> Result<InvitationPreview, ApiError> {
    let mut conn = db.pool().acquire().await?;
    let row = pending(&mut conn, token).await?;
    Ok(InvitationPreview {
        inviter_name: row.inviter(),
        team_name: row.team_name,
        role: row.role,
        expires_at: from_ms(row.expires_at),
    })
}

/// Invitations waiting for the account with `email` (for `GET /api/me`), with their tokens.
pub async fn pending_for(
    db: impl sqlx::AnyExecutor<'_>,
    secret: &Secret,
    email: &str,
) -> Result<Vec<PendingInvitation>, ApiError> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} WHERE i.email = $1 AND {PENDING} AND i.expires_at > $2 ORDER BY i.created_at"
    )))
    .bind(email)
    .bind(now_ms())
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|row| {
            let id = row.id()?;
            Ok(PendingInvitation {
                id,
                token: secret.token(id),
                team_id: row.team_id,
                inviter_name: row.inviter(),
                team_name: row.team_name,
                role: row.role,
                expires_at: from_ms(row.expires_at),
            })
        })
        .collect()
}

/// Uses the invitation `token` for `user` (whose normalised email is `email`) inside the caller's write
/// transaction: checks it, marks it used and adds the membership. Answers the change to publish after the
/// commit. An invitation bound to another email answers as unknown.
pub(crate) async fn redeem(
    tx: &mut AnyConnection,
    token: &str,
    user: UserId,
    email: &str,
) -> Result<(TeamMembership, Event), ApiError> {
    let row = pending(tx, token).await?;
    if row.email.as_deref().is_some_and(|bound| bound != email) {
        return Err(ApiError::NotFound(UNKNOWN));
    }
    let now = now_ms();
    consume(tx, &row.id, Some(user), now).await?;
    sqlx::query("INSERT INTO team_members (team_id, user_id, role, joined_at) VALUES ($1, $2, $3, $4)")
        .bind(row.team_id.to_string())
        .bind(user.to_string())
        .bind(row.role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if db::is_unique_violation(&e) { ApiError::Conflict("already a member of this team") } else { e.into() }
        })?;
    tracing::info!(team = %row.team_id, %user, role = row.role.as_str(), invitation = %row.id, "invitation accepted");
    let event = Event::MembershipChanged { team: row.team_id, user, before: None, after: Some(row.role) };
    Ok((TeamMembership { id: row.team_id, name: row.team_name, role: row.role }, event))
}

/// Revokes, in the caller's transaction, the pending invitations `user` made in `team` that their role
/// `now` (`None`: no longer a member) may not give: all of them below admin, the owner ones for an admin.
/// The reads check the inviter's standing too (`PENDING`); revoking makes it final, so that a later
/// promotion does not bring old links back.
pub(crate) async fn revoke_beyond(
    tx: &mut AnyConnection,
    team: TeamId,
    user: UserId,
    now: Option<Role>,
) -> Result<(), ApiError> {
    // What they may no longer give: nothing at all below admin; an admin, no owner.
    let beyond = match now {
        Some(Role::Owner) => return Ok(()),
        Some(Role::Admin) => "AND role = 'owner'",
        Some(_) | None => "",
    };
    let revoked = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE invitations SET revoked_at = $1 WHERE team_id = $2 AND invited_by = $3
           AND used_at IS NULL AND revoked_at IS NULL AND declined_at IS NULL {beyond}"
    )))
    .bind(now_ms())
    .bind(team.to_string())
    .bind(user.to_string())
    .execute(&mut *tx)
    .await?;
    if revoked.rows_affected() > 0 {
        tracing::info!(%team, %user, revoked = revoked.rows_affected(), "invitations revoked with their inviter's standing");
    }
    Ok(())
}

/// Marks the invitation used by `by` (or declined, for `None`), if it is still pending and unexpired at this
/// statement: on PostgreSQL two transactions that both read it as pending cannot both take it (the second
/// waits for the first's row lock, then finds it taken), and a revocation committed meanwhile wins.
/// Answers as unknown when it was taken.
async fn consume(tx: &mut AnyConnection, id: &str, by: Option<UserId>, now: i64) -> Result<(), ApiError> {
    // As `PENDING`, checked again in the statement that takes it: a demotion committed meanwhile wins too.
    const STILL_PENDING: &str = "used_at IS NULL AND revoked_at IS NULL AND declined_at IS NULL AND expires_at > $1
        AND (invited_by IS NULL OR EXISTS (SELECT 1 FROM team_members m WHERE m.team_id = invitations.team_id
            AND m.user_id = invitations.invited_by
            AND (m.role = 'owner' OR (m.role = 'admin' AND invitations.role <> 'owner'))))";
    let taken = match by {
        Some(user) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE invitations SET used_at = $1, used_by = $2 WHERE id = $3 AND {STILL_PENDING}"
            )))
            .bind(now)
            .bind(user.to_string())
            .bind(id)
            .execute(&mut *tx)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE invitations SET declined_at = $1 WHERE id = $2 AND {STILL_PENDING}"
            )))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
        }
    };
    if taken.rows_affected() != 1 {
        return Err(ApiError::NotFound(UNKNOWN));
    }
    Ok(())
}

async fn email_of(tx: &mut AnyConnection, user: UserId) -> Result<String, ApiError> {
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1 AND deleted_at IS NULL")
        .bind(user.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    email.ok_or(ApiError::Unauthorized("the account no longer exists"))
}

/// `POST /api/invitations/{token}/accept`: the signed-in account joins the team.
pub async fn accept(db: &Db, events: &Events, user: UserId, token: &str) -> Result<TeamMembership, ApiError> {
    let mut tx = begin_write(db).await?;
    // An account being deleted at this moment is not added to a team after its memberships were removed.
    if !db.lock_user(&mut tx, &user.to_string()).await? {
        return Err(ApiError::Unauthorized("the account no longer exists"));
    }
    let email = email_of(&mut tx, user).await?;
    let (team, event) = redeem(&mut tx, token, user, &email).await?;
    tx.commit().await?;
    events.publish(event).await;
    Ok(team)
}

/// `POST /api/invitations/{token}/decline`: the invitation is dropped; nobody joins.
pub async fn decline(db: &Db, user: UserId, token: &str) -> Result<(), ApiError> {
    let mut tx = begin_write(db).await?;
    let email = email_of(&mut tx, user).await?;
    let row = pending(&mut tx, token).await?;
    if row.email.as_deref().is_some_and(|bound| bound != email) {
        return Err(ApiError::NotFound(UNKNOWN));
    }
    consume(&mut tx, &row.id, None, now_ms()).await?;
    tx.commit().await?;
    tracing::info!(team = %row.team_id, %user, invitation = %row.id, "invitation declined");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_the_key_and_the_id() {
        let (a, b) = (Secret([1; 32]), Secret([2; 32]));
        let id = Uuid::new_v4();
        assert_eq!(a.token(id), a.token(id));
        assert_ne!(a.token(id), b.token(id));
        assert_ne!(a.token(id), a.token(Uuid::new_v4()));
        assert!(a.token(id).len() >= 43);
    }
}
