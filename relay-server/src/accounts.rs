//! Accounts and sessions: sign-up (by the registration policy, with invitations), sign-in with a
//! per-account back-off, refresh-token rotation with reuse detection, sign-out (here or everywhere), and
//! the account controls (password change and reset, profile, deletion).
//!
//! Every way a sign-in ends goes through `sessions::end_sessions` in the transaction that ends it, then
//! `LiveSessions::end` after the commit, so its live connections close and its access tokens stop working.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use teamflow_protocol::api::auth::{AuthResponse, LoginRequest, MeResponse, RegisterRequest, TeamMembership, User};
use teamflow_protocol::api::invitations::{AccountDeletion, PasswordChange, ProfileUpdate};
use teamflow_protocol::{Role, UserId};

use crate::auth::{AccessToken, PasswordHasher, TokenService};
use crate::config::Registration;
use crate::db::{self, Db, Serial, begin_write, now_ms};
use crate::error::ApiError;
use crate::events::{Event, Events};
use crate::invitations;
use crate::sessions::{EndReason, LiveSessions, Scope, end_sessions};
use crate::validate::{Lines, Validator};

const BAD_CREDENTIALS: &str = "the email or password is not correct";
const BAD_REFRESH: &str = "the refresh token is not valid; sign in again";
const DISABLED: &str = "this account is disabled; ask the relay's administrator";

/// Failed passwords for one email before further attempts wait.
pub const FREE_FAILURES: i64 = 5;
/// The first wait after [`FREE_FAILURES`], doubled by each further failure, and the longest.
const FIRST_LOCK: Duration = Duration::from_secs(5);
const LONGEST_LOCK: Duration = Duration::from_secs(15 * 60);
/// Failures older than this (with none since) are forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

/// What a sign-in hands out: an access token from `tokens`, and a refresh token good for `refresh_ttl`;
/// and where ended sessions are announced (`live`).
#[derive(Debug, Clone)]
pub struct Sessions {
    pub tokens: Arc<TokenService>,
    pub refresh_ttl: Duration,
    pub live: LiveSessions,
}

impl Sessions {
    /// Ends `user`'s `families` on this relay now (their commit is done), and on the other instances over
    /// NATS when there are some; other processes (and instances that missed the notice) learn it from the
    /// table.
    fn ended(&self, user: UserId, families: &[String], reason: EndReason) {
        self.live.end_everywhere(user, families, reason.as_str());
    }
}

/// Who may sign up, and how invitations are checked.
#[derive(Debug, Clone, Copy)]
pub struct SignUpPolicy<'a> {
    pub registration: Registration,
    pub events: &'a Events,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    #[sqlx(try_from = "String")]
    id: UserId,
    email: String,
    display_name: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User { id: row.id, email: row.email, display_name: row.display_name }
    }
}

/// Creates an account and signs it in. The relay's first account may always sign up and becomes its
/// administrator; after that, on a relay registering by invitation, only with a valid invitation (else
/// `registration_closed`). With an invitation, the account joins its team in the same transaction.
pub async fn register(
    db: &Db,
    passwords: &PasswordHasher,
    sessions: &Sessions,
    policy: SignUpPolicy<'_>,
    request: RegisterRequest,
) -> Result<AuthResponse, ApiError> {
    let mut v = Validator::new();
    let email = v.email("email", &request.email);
    let display_name = v.text("display_name", &request.display_name, 1, 80, Lines::Single);
    v.password("password", &request.password);
    let invitation = request.invitation.as_deref().map(invitations::token_from);
    v.check("invitation", invitation.is_none_or(|t| !t.is_empty() && t.len() <= 200), "must be an invitation token");
    v.finish()?;
    // Before the costly hash: a closed relay refuses at once (checked again in the transaction).
    if policy.registration == Registration::Invite && invitation.is_none() {
        let any: Option<i64> = sqlx::query_scalar("SELECT 1 FROM users LIMIT 1").fetch_optional(db.pool()).await?;
        if any.is_some() {
            return Err(ApiError::RegistrationClosed);
        }
    }

    let password_hash = passwords.hash(request.password).await?;
    let user = User { id: UserId::new(), email, display_name };
    let mut tx = begin_write(db).await?;
    let mut accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
    if accounts == 0 {
        // Two first sign-ups on two instances of one PostgreSQL would both see no account: the lock makes
        // the second wait for the first to commit, and count again.
        db.serialise(&mut tx, Serial::FirstAccount).await?;
        accounts = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&mut *tx).await?;
    }
    let first = accounts == 0;
    if !first && policy.registration == Registration::Invite && invitation.is_none() {
        return Err(ApiError::RegistrationClosed);
    }
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, created_at, is_admin) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(user.id.to_string())
    .bind(&user.email)
    .bind(&user.display_name)
    .bind(&password_hash)
    .bind(now_ms())
    .bind(i64::from(first))
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            ApiError::Conflict("an account with this email already exists")
        } else {
            e.into()
        }
    })?;
    let joined = match invitation {
        Some(token) => match invitations::redeem(&mut tx, token, user.id, &user.email).await {
            Ok((_, event)) => Some(event),
            // Without a valid invitation, a closed relay's answer is the same as without one.
            Err(ApiError::NotFound(_)) if !first && policy.registration == Registration::Invite => {
                return Err(ApiError::RegistrationClosed);
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let family = insert_session(&mut tx, sessions, user.id).await?;
    tx.commit().await?;
    tracing::info!(user = %user.id, administrator = first, invited = joined.is_some(), "account registered");
    if let Some(event) = joined {
        policy.events.publish(event).await;
    }
    respond(&sessions.tokens, user, family)
}

pub async fn login(
    db: &Db,
    passwords: &PasswordHasher,
    sessions: &Sessions,
    request: LoginRequest,
) -> Result<AuthResponse, ApiError> {
    let mut v = Validator::new();
    let email = v.email("email", &request.email);
    v.check("password", !request.password.is_empty() && request.password.len() <= 512, "must be 1 to 128 characters");
    v.finish()?;

    // The back-off is per email, whatever address the attempts come from; a waiting account is answered
    // exactly as a wrong password is, without spending a hash on it.
    let locked_until: Option<i64> = sqlx::query_scalar("SELECT locked_until FROM login_failures WHERE email = $1")
        .bind(&email)
        .fetch_optional(db.pool())
        .await?;
    if locked_until.is_some_and(|until| until > now_ms()) {
        return Err(ApiError::Unauthorized(BAD_CREDENTIALS));
    }
    let row: Option<(String, String, String, String, Option<i64>)> = sqlx::query_as(
        "SELECT id, email, display_name, password_hash, disabled_at FROM users WHERE email = $1 AND deleted_at IS NULL",
    )
    .bind(&email)
    .fetch_optional(db.pool())
    .await?;
    let (user, stored, disabled) = match row {
        Some((id, email, display_name, hash, disabled)) => {
            let id = id.parse().map_err(|e| ApiError::Internal(format!("user id in database: {e}")))?;
            (Some(User { id, email, display_name }), Some(hash), disabled.is_some())
        }
        None => (None, None, false),
    };
    let ok = passwords.verify(request.password, stored).await?;
    match user {
        Some(user) if ok => {
            sqlx::query("DELETE FROM login_failures WHERE email = $1").bind(&email).execute(db.pool()).await?;
            if disabled {
                return Err(ApiError::Unauthorized(DISABLED));
            }
            start_session(db, sessions, user).await
        }
        _ => {
            record_failure(db, &email).await?;
            Err(ApiError::Unauthorized(BAD_CREDENTIALS))
        }
    }
}

/// Counts a failed password for `email`; from the fifth on, further attempts wait (doubling, capped). A
/// count with no new failure for [`FORGET_AFTER`] starts again.
async fn record_failure(db: &Db, email: &str) -> Result<(), ApiError> {
    let now = now_ms();
    let forget_before = now.saturating_sub(i64::try_from(FORGET_AFTER.as_millis()).unwrap_or(i64::MAX));
    let mut tx = begin_write(db).await?;
    let failures: i64 = sqlx::query_scalar(
        "INSERT INTO login_failures (email, failures, locked_until, last_failed_at) VALUES ($1, 1, 0, $2)
         ON CONFLICT (email) DO UPDATE SET
             failures = CASE WHEN login_failures.last_failed_at < $3 THEN 1 ELSE login_failures.failures + 1 END,
             last_failed_at = excluded.last_failed_at
         RETURNING failures",
    )
    .bind(email)
    .bind(now)
    .bind(forget_before)
    .fetch_one(&mut *tx)
    .await?;
    if let Some(wait) = lock_after(failures) {
        let until = now_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        sqlx::query("UPDATE login_failures SET locked_until = $1 WHERE email = $2")
            .bind(until)
            .bind(email)
            .execute(&mut *tx)
            .await?;
        tracing::info!(failures, wait_secs = wait.as_secs(), "sign-in attempts for one account are waiting");
    }
    tx.commit().await?;
    Ok(())
}

/// How long attempts wait after `failures` failed passwords in a row.
pub fn lock_after(failures: i64) -> Option<Duration> {
    if failures < FREE_FAILURES {
        return None;
    }
    let doublings = u32::try_from(failures - FREE_FAILURES).unwrap_or(u32::MAX).min(16);
    Some((FIRST_LOCK * 2u32.pow(doublings)).min(LONGEST_LOCK))
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    family_id: String,
    used_at: Option<i64>,
    #[sqlx(try_from = "String")]
    user_id: UserId,
    expires_at: i64,
    revoked_at: Option<i64>,
    /// 1 when the account is neither disabled nor deleted (`Any` reads flags as integers).
    active: i64,
}

/// Trades a refresh token for a new pair. Each token works once: presenting a spent one means it was
/// copied, so the whole family (every token from that sign-in) is revoked, and its connections close.
pub async fn refresh(db: &Db, sessions: &Sessions, refresh_token: &str) -> Result<AuthResponse, ApiError> {
    let hash = token_hash(refresh_token);
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT t.family_id, t.used_at, f.user_id, f.expires_at, f.revoked_at,
                CASE WHEN u.disabled_at IS NULL AND u.deleted_at IS NULL THEN 1 ELSE 0 END AS active
         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id JOIN users u ON u.id = f.user_id
         WHERE t.token_hash = $1",
    )
    .bind(&hash[..])
    .fetch_optional(&mut *tx)
    .await?;
    let Some(RefreshRow { family_id: family, used_at, user_id, expires_at, revoked_at, active }) = row else {
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    };
    if revoked_at.is_some() || expires_at <= now || active == 0 {
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    }
    if let Some(used_at) = used_at
        && !is_retry(&mut tx, &family, used_at, now).await?
    {
        let ended = end_sessions(&mut tx, user_id, Scope::One(&family), EndReason::RefreshTokenReused).await?;
        tx.commit().await?;
        sessions.ended(user_id, &ended, EndReason::RefreshTokenReused);
        tracing::warn!(user = %user_id, family = %family, "refresh token reused; revoked its family");
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    }
    // A retry keeps the first use's time: the grace runs from it, not from the latest retry.
    sqlx::query("UPDATE refresh_tokens SET used_at = COALESCE(used_at, $1) WHERE token_hash = $2")
        .bind(now)
        .bind(&hash[..])
        .execute(&mut *tx)
        .await?;
    let next = new_secret();
    sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES ($1, $2, $3)")
        .bind(&token_hash(&next)[..])
        .bind(&family)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let user: UserRow = sqlx::query_as("SELECT id, email, display_name FROM users WHERE id = $1")
        .bind(user_id.to_string())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    respond(&sessions.tokens, user.into(), (family, next))
}

/// How long after a refresh token's use presenting it again counts as the same client retrying (its answer
/// lost, or two refreshes racing) rather than as a copy being replayed.
pub const REFRESH_RETRY_GRACE_MS: i64 = 10_000;

/// A used token presented again is a retry if it was used moments ago and nothing it led to has been used
/// since: the family is a chain, so the tokens created from its use on are its successors. A retry gets
/// another successor; anything later is reuse.
async fn is_retry(tx: &mut sqlx::AnyConnection, family: &str, used_at: i64, now: i64) -> Result<bool, ApiError> {
    if now.saturating_sub(used_at) > REFRESH_RETRY_GRACE_MS {
        return Ok(false);
    }
    let successors_used: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = $1 AND created_at >= $2 AND used_at IS NOT NULL",
    )
    .bind(family)
    .bind(used_at)
    .fetch_one(&mut *tx)
    .await?;
    Ok(successors_used == 0)
}

/// Revokes the sign-in the token belongs to, closing its live connections. Unknown tokens are ignored:
/// signing out twice is fine.
pub async fn logout(db: &Db, sessions: &Sessions, refresh_token: &str) -> Result<(), ApiError> {
    let mut tx = begin_write(db).await?;
    let family: Option<(String, String)> = sqlx::query_as(
        "SELECT f.id, f.user_id FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
         WHERE t.token_hash = $1",
    )
    .bind(&token_hash(refresh_token)[..])
    .fetch_optional(&mut *tx)
    .await?;
    let Some((family, user)) = family else { return Ok(()) };
    let user: UserId = user.parse().map_err(|e| ApiError::Internal(format!("user id in database: {e}")))?;
    let ended = end_sessions(&mut tx, user, Scope::One(&family), EndReason::SignedOut).await?;
    tx.commit().await?;
    sessions.ended(user, &ended, EndReason::SignedOut);
    Ok(())
}

/// Ends every sign-in of the user, this one included, with their live connections.
pub async fn logout_all(db: &Db, sessions: &Sessions, user: UserId) -> Result<(), ApiError> {
    let mut tx = begin_write(db).await?;
    let ended = end_sessions(&mut tx, user, Scope::All, EndReason::SignedOutEverywhere).await?;
    tx.commit().await?;
    sessions.ended(user, &ended, EndReason::SignedOutEverywhere);
    tracing::info!(%user, sessions = ended.len(), "signed out everywhere");
    Ok(())
}

/// Checks the account's current password; a wrong one is a validation failure of `field` (not a 401,
/// which would tell the client its token is bad).
async fn check_password(
    db: &Db,
    passwords: &PasswordHasher,
    user: UserId,
    field: &str,
    password: &str,
) -> Result<(), ApiError> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1 AND deleted_at IS NULL")
            .bind(user.to_string())
            .fetch_optional(db.pool())
            .await?;
    let stored = stored.ok_or(ApiError::Unauthorized("the account no longer exists"))?;
    if password.len() > 512 || !passwords.verify(password.to_owned(), Some(stored)).await? {
        return Err(ApiError::field(field, "is not correct"));
    }
    Ok(())
}

/// Changes the password and ends every other sign-in of the account (the caller's stays).
pub async fn change_password(
    db: &Db,
    passwords: &PasswordHasher,
    sessions: &Sessions,
    caller: &AccessToken,
    request: PasswordChange,
) -> Result<(), ApiError> {
    let mut v = Validator::new();
    v.password("new_password", &request.new_password);
    v.finish()?;
    check_password(db, passwords, caller.user, "current_password", &request.current_password).await?;
    let hash = passwords.hash(request.new_password).await?;
    let mut tx = begin_write(db).await?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(caller.user.to_string())
        .execute(&mut *tx)
        .await?;
    let ended = end_sessions(&mut tx, caller.user, Scope::AllBut(&caller.session), EndReason::PasswordChanged).await?;
    tx.commit().await?;
    sessions.ended(caller.user, &ended, EndReason::PasswordChanged);
    tracing::info!(user = %caller.user, ended = ended.len(), "password changed");
    Ok(())
}

/// Sets a new password with a reset token (`teamflow-relay admin reset-password`): single use, one hour.
/// Ends every sign-in of the account, and lifts the sign-in back-off.
pub async fn reset_password(
    db: &Db,
    passwords: &PasswordHasher,
    sessions: &Sessions,
    token: &str,
    new_password: String,
) -> Result<(), ApiError> {
    let mut v = Validator::new();
    v.password("new_password", &new_password);
    v.finish()?;
    let hash = passwords.hash(new_password).await?;
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    let user: Option<(String, String)> = sqlx::query_as(
        "SELECT r.user_id, u.email FROM password_resets r JOIN users u ON u.id = r.user_id
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > $2 AND u.deleted_at IS NULL",
    )
    .bind(&token_hash(token)[..])
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let (user, email) = user.ok_or(ApiError::NotFound("no such reset link: it is unknown, used or expired"))?;
    let user: UserId = user.parse().map_err(|e| ApiError::Internal(format!("user id in database: {e}")))?;
    // Taken only if still unused at this statement: of two resets with one link (on PostgreSQL both may
    // have read it as unused), the second finds it used.
    let taken = sqlx::query("UPDATE password_resets SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&token_hash(token)[..])
        .execute(&mut *tx)
        .await?;
    if taken.rows_affected() != 1 {
        return Err(ApiError::NotFound("no such reset link: it is unknown, used or expired"));
    }
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(&hash)
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM login_failures WHERE email = $1").bind(&email).execute(&mut *tx).await?;
    let ended = end_sessions(&mut tx, user, Scope::All, EndReason::PasswordChanged).await?;
    tx.commit().await?;
    sessions.ended(user, &ended, EndReason::PasswordChanged);
    tracing::info!(%user, "password reset");
    Ok(())
}

/// Makes a reset token for the account with `email` (the admin command): valid one hour, single use.
pub async fn create_reset(db: &Db, email: &str) -> Result<String, ApiError> {
    let email = teamflow_protocol::email::normalize(email);
    let user: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1 AND deleted_at IS NULL")
        .bind(&email)
        .fetch_optional(db.pool())
        .await?;
    let user = user.ok_or(ApiError::NotFound("no account uses this email"))?;
    let token = new_secret();
    let now = now_ms();
    sqlx::query("INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(&token_hash(&token)[..])
        .bind(&user)
        .bind(now)
        .bind(now + 3_600_000)
        .execute(db.pool())
        .await?;
    Ok(token)
}

/// Disables or enables the account with `email` (the admin command). Disabling ends every sign-in.
pub async fn set_disabled(db: &Db, email: &str, disabled: bool) -> Result<usize, ApiError> {
    let email = teamflow_protocol::email::normalize(email);
    let mut tx = begin_write(db).await?;
    let user: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE email = $1 AND deleted_at IS NULL")
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
    let user: UserId = user
        .ok_or(ApiError::NotFound("no account uses this email"))?
        .parse()
        .map_err(|e| ApiError::Internal(format!("user id in database: {e}")))?;
    sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
        .bind(disabled.then(now_ms))
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
    let ended = if disabled {
        // Its devices' certificates are voided too: teammates' devices learn it from the revocation feed.
        for team in memberships(db, &mut tx, user).await? {
            crate::devices::revoke(&mut tx, user, team.id).await?;
        }
        end_sessions(&mut tx, user, Scope::All, EndReason::AccountDisabled).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    Ok(ended.len())
}

/// `PATCH /api/me`.
pub async fn update_profile(db: &Db, user: UserId, request: ProfileUpdate) -> Result<User, ApiError> {
    let mut v = Validator::new();
    let display_name = v.text("display_name", &request.display_name, 1, 80, Lines::Single);
    v.finish()?;
    let row: Option<UserRow> = sqlx::query_as(
        "UPDATE users SET display_name = $1 WHERE id = $2 AND deleted_at IS NULL RETURNING id, email, display_name",
    )
    .bind(&display_name)
    .bind(user.to_string())
    .fetch_optional(db.pool())
    .await?;
    Ok(row.ok_or(ApiError::Unauthorized("the account no longer exists"))?.into())
}

/// `DELETE /api/me`: with the password again. Refused (409) while the account is the last owner of a team.
/// The row stays, emptied (its messages stay, attributed to "Deleted user"); its memberships, devices and
/// sign-ins go, and its live connections close.
pub async fn delete_account(
    db: &Db,
    passwords: &PasswordHasher,
    sessions: &Sessions,
    events: &Events,
    user: UserId,
    request: AccountDeletion,
) -> Result<(), ApiError> {
    check_password(db, passwords, user, "password", &request.password).await?;
    let mut tx = db.begin_erasing().await?;
    // The account first (a device certificate or a team joined at this moment waits, then finds it gone),
    if !db.lock_user(&mut tx, &user.to_string()).await? {
        return Err(ApiError::Unauthorized("the account no longer exists"));
    }
    // then the teams it owns (in team order, as chat posts lock theirs), so a co-owner leaving
    // or being demoted at the same moment is counted: the team keeps an owner.
    let mut owned: Vec<String> =
        sqlx::query_scalar("SELECT team_id FROM team_members WHERE user_id = $1 AND role = 'owner'")
            .bind(user.to_string())
            .fetch_all(&mut **tx)
            .await?;
    owned.sort();
    for team in &owned {
        db.lock_team(&mut tx, team).await?;
    }
    let last_owner: Option<String> = sqlx::query_scalar(
        "SELECT m.team_id FROM team_members m WHERE m.user_id = $1 AND m.role = 'owner'
           AND (SELECT COUNT(*) FROM team_members o WHERE o.team_id = m.team_id AND o.role = 'owner') = 1 LIMIT 1",
    )
    .bind(user.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    if last_owner.is_some() {
        return Err(ApiError::Conflict(
            "you are the last owner of a team; make someone else owner or delete the team first",
        ));
    }
    let memberships = memberships(db, &mut tx, user).await?;
    // Teammates' devices learn from the revocation feed that the account's certificates are void.
    for team in &memberships {
        crate::devices::revoke(&mut tx, user, team.id).await?;
        crate::invitations::revoke_beyond(&mut tx, team.id, user, None).await?;
    }
    sqlx::query("DELETE FROM team_members WHERE user_id = $1").bind(user.to_string()).execute(&mut **tx).await?;
    sqlx::query("DELETE FROM device_certificates WHERE user_id = $1").bind(user.to_string()).execute(&mut **tx).await?;
    let ended = end_sessions(&mut tx, user, Scope::All, EndReason::AccountDeleted).await?;
    // The address goes wherever the account put it: its sign-in back-off and the invitations it used
    // (ones still waiting for the address are the team's, until they expire or are revoked).
    sqlx::query("DELETE FROM login_failures WHERE email = (SELECT email FROM users WHERE id = $1)")
        .bind(user.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE invitations SET email = NULL WHERE used_by = $1")
        .bind(user.to_string())
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "UPDATE users SET email = 'deleted:' || id, display_name = 'Deleted user', password_hash = '',
             deleted_at = $1 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(user.to_string())
    .execute(&mut **tx)
    .await?;
    tx.commit().await?;
    sessions.ended(user, &ended, EndReason::AccountDeleted);
    tracing::info!(%user, "account deleted");
    for team in memberships {
        events.publish(Event::MembershipChanged { team: team.id, user, before: Some(team.role), after: None }).await;
    }
    Ok(())
}

async fn memberships(db: &Db, conn: &mut AnyConnection, user: UserId) -> Result<Vec<TeamMembership>, ApiError> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT t.id, t.name, m.role FROM team_members m JOIN teams t ON t.id = m.team_id
         WHERE m.user_id = $1 ORDER BY {}, t.id",
        db.nocase("t.name")
    )))
    .bind(user.to_string())
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(id, name, role)| {
            Ok(TeamMembership {
                id: id.parse().map_err(|e| ApiError::Internal(format!("team id in database: {e}")))?,
                name,
                role: Role::parse(&role).ok_or_else(|| ApiError::Internal(format!("unknown role {role}")))?,
            })
        })
        .collect()
}

/// The account and its teams (the invitations waiting for it are `me_with_invitations`').
pub async fn me(db: &Db, user: UserId) -> Result<MeResponse, ApiError> {
    let mut conn = db.pool().acquire().await?;
    let row: Option<UserRow> =
        sqlx::query_as("SELECT id, email, display_name FROM users WHERE id = $1 AND deleted_at IS NULL")
            .bind(user.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    // A valid token for a user that no longer exists is as good as no token.
    let user: User = row.ok_or(ApiError::Unauthorized("the account no longer exists"))?.into();
    let teams = memberships(db, &mut conn, user.id).await?;
    Ok(MeResponse { user, teams, invitations: Vec::new() })
}

/// `GET /api/me`: the account, its teams, and the invitations waiting for its answer.
pub async fn me_with_invitations(db: &Db, secret: &invitations::Secret, user: UserId) -> Result<MeResponse, ApiError> {
    let mut me = me(db, user).await?;
    me.invitations = invitations::pending_for(db.pool(), secret, &me.user.email).await?;
    Ok(me)
}

/// Inserts a new sign-in (refresh family and its first token) for `user`; answers `(family, token)`.
async fn insert_session(
    tx: &mut AnyConnection,
    sessions: &Sessions,
    user: UserId,
) -> Result<(String, String), ApiError> {
    let now = now_ms();
    let ttl_ms = i64::try_from(sessions.refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    let family = uuid::Uuid::new_v4().to_string();
    let token = new_secret();
    sqlx::query("INSERT INTO refresh_families (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(&family)
        .bind(user.to_string())
        .bind(now)
        .bind(now.saturating_add(ttl_ms))
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES ($1, $2, $3)")
        .bind(&token_hash(&token)[..])
        .bind(&family)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok((family, token))
}

async fn start_session(db: &Db, sessions: &Sessions, user: User) -> Result<AuthResponse, ApiError> {
    let mut tx = db.pool().begin().await?;
    let session = insert_session(&mut tx, sessions, user.id).await?;
    tx.commit().await?;
    respond(&sessions.tokens, user, session)
}

fn respond(
    tokens: &TokenService,
    user: User,
    (family, refresh_token): (String, String),
) -> Result<AuthResponse, ApiError> {
    let access_token = tokens.issue(user.id, &family).map_err(|e| ApiError::Internal(format!("sign token: {e}")))?;
    Ok(AuthResponse { user, access_token, refresh_token, expires_in: tokens.ttl().as_secs() })
}

/// 256 random bits, URL-safe: unguessable, and only its hash is stored.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_are_free_then_waits_double_up_to_a_cap() {
        for free in [0, 1, 4] {
            assert_eq!(lock_after(free), None, "{free}");
        }
        assert_eq!(lock_after(5), Some(FIRST_LOCK));
        assert_eq!(lock_after(6), Some(FIRST_LOCK * 2));
        assert_eq!(lock_after(50), Some(LONGEST_LOCK));
        assert_eq!(lock_after(i64::MAX), Some(LONGEST_LOCK));
    }
}
