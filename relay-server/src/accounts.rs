//! Accounts and sessions: sign-up, sign-in, refresh-token rotation with reuse detection, sign-out.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;
use teamflow_protocol::api::auth::{AuthResponse, LoginRequest, MeResponse, RegisterRequest, TeamMembership, User};
use teamflow_protocol::{Role, UserId};

use crate::auth::{PasswordHasher, TokenService};
use crate::db::{self, begin_write, now_ms};
use crate::error::ApiError;
use crate::validate::{Lines, Validator};

const BAD_CREDENTIALS: &str = "the email or password is not correct";
const BAD_REFRESH: &str = "the refresh token is not valid; sign in again";

/// What a sign-in hands out: an access token from `tokens`, and a refresh token good for `refresh_ttl`.
#[derive(Debug, Clone)]
pub struct Sessions {
    pub tokens: Arc<TokenService>,
    pub refresh_ttl: Duration,
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

pub async fn register(
    db: &SqlitePool,
    passwords: &PasswordHasher,
    sessions: &Sessions,
    request: RegisterRequest,
) -> Result<AuthResponse, ApiError> {
    let mut v = Validator::new();
    let email = v.email("email", &request.email);
    let display_name = v.text("display_name", &request.display_name, 1, 80, Lines::Single);
    v.password("password", &request.password);
    v.finish()?;

    let password_hash = passwords.hash(request.password).await?;
    let user = User { id: UserId::new(), email, display_name };
    sqlx::query("INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(user.id.to_string())
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(&password_hash)
        .bind(now_ms())
        .execute(db)
        .await
        .map_err(|e| {
            if db::is_unique_violation(&e) {
                ApiError::Conflict("an account with this email already exists")
            } else {
                e.into()
            }
        })?;
    tracing::info!(user = %user.id, "account registered");
    start_session(db, sessions, user).await
}

pub async fn login(
    db: &SqlitePool,
    passwords: &PasswordHasher,
    sessions: &Sessions,
    request: LoginRequest,
) -> Result<AuthResponse, ApiError> {
    let mut v = Validator::new();
    let email = v.email("email", &request.email);
    v.check("password", !request.password.is_empty() && request.password.len() <= 512, "must be 1 to 128 characters");
    v.finish()?;

    let row: Option<(String, String, String, String)> =
        sqlx::query_as("SELECT id, email, display_name, password_hash FROM users WHERE email = ?")
            .bind(&email)
            .fetch_optional(db)
            .await?;
    let (user, stored) = match row {
        Some((id, email, display_name, hash)) => {
            let id = id.parse().map_err(|e| ApiError::Internal(format!("user id in database: {e}")))?;
            (Some(User { id, email, display_name }), Some(hash))
        }
        None => (None, None),
    };
    let ok = passwords.verify(request.password, stored).await?;
    match user {
        Some(user) if ok => start_session(db, sessions, user).await,
        _ => Err(ApiError::Unauthorized(BAD_CREDENTIALS)),
    }
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    family_id: String,
    used_at: Option<i64>,
    user_id: String,
    expires_at: i64,
    revoked_at: Option<i64>,
}

/// Trades a refresh token for a new pair. Each token works once: presenting a spent one means it was
/// copied, so the whole family (every token from that sign-in) is revoked.
pub async fn refresh(db: &SqlitePool, sessions: &Sessions, refresh_token: &str) -> Result<AuthResponse, ApiError> {
    let hash = token_hash(refresh_token);
    let now = now_ms();
    let mut tx = begin_write(db).await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "SELECT t.family_id, t.used_at, f.user_id, f.expires_at, f.revoked_at
         FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
         WHERE t.token_hash = ?",
    )
    .bind(&hash[..])
    .fetch_optional(&mut *tx)
    .await?;
    let Some(RefreshRow { family_id: family, used_at, user_id, expires_at, revoked_at }) = row else {
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    };
    if revoked_at.is_some() || expires_at <= now {
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    }
    if let Some(used_at) = used_at
        && !is_retry(&mut tx, &family, used_at, now).await?
    {
        sqlx::query("UPDATE refresh_families SET revoked_at = ? WHERE id = ?")
            .bind(now)
            .bind(&family)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::warn!(user = %user_id, family = %family, "refresh token reused; revoked its family");
        return Err(ApiError::Unauthorized(BAD_REFRESH));
    }
    // A retry keeps the first use's time: the grace runs from it, not from the latest retry.
    sqlx::query("UPDATE refresh_tokens SET used_at = COALESCE(used_at, ?) WHERE token_hash = ?")
        .bind(now)
        .bind(&hash[..])
        .execute(&mut *tx)
        .await?;
    let next = new_refresh_token();
    sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES (?, ?, ?)")
        .bind(&token_hash(&next)[..])
        .bind(&family)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let user: UserRow = sqlx::query_as("SELECT id, email, display_name FROM users WHERE id = ?")
        .bind(&user_id)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    respond(&sessions.tokens, user.into(), next)
}

/// How long after a refresh token's use presenting it again counts as the same client retrying (its answer
/// lost, or two refreshes racing) rather than as a copy being replayed.
pub const REFRESH_RETRY_GRACE_MS: i64 = 10_000;

/// A used token presented again is a retry if it was used moments ago and nothing it led to has been used
/// since: the family is a chain, so the tokens created from its use on are its successors. A retry gets
/// another successor; anything later is reuse.
async fn is_retry(tx: &mut sqlx::SqliteConnection, family: &str, used_at: i64, now: i64) -> Result<bool, ApiError> {
    if now.saturating_sub(used_at) > REFRESH_RETRY_GRACE_MS {
        return Ok(false);
    }
    let successors_used: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND created_at >= ? AND used_at IS NOT NULL",
    )
    .bind(family)
    .bind(used_at)
    .fetch_one(&mut *tx)
    .await?;
    Ok(successors_used == 0)
}

/// Revokes the sign-in the token belongs to. Unknown tokens are ignored: signing out twice is fine.
pub async fn logout(db: &SqlitePool, refresh_token: &str) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE refresh_families SET revoked_at = ?
         WHERE revoked_at IS NULL AND id = (SELECT family_id FROM refresh_tokens WHERE token_hash = ?)",
    )
    .bind(now_ms())
    .bind(&token_hash(refresh_token)[..])
    .execute(db)
    .await?;
    Ok(())
}

pub async fn me(db: &SqlitePool, user: UserId) -> Result<MeResponse, ApiError> {
    let row: Option<UserRow> = sqlx::query_as("SELECT id, email, display_name FROM users WHERE id = ?")
        .bind(user.to_string())
        .fetch_optional(db)
        .await?;
    // A valid token for a user that no longer exists is as good as no token.
    let user: User = row.ok_or(ApiError::Unauthorized("the account no longer exists"))?.into();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.id, t.name, m.role FROM team_members m JOIN teams t ON t.id = m.team_id
         WHERE m.user_id = ? ORDER BY t.name COLLATE NOCASE, t.id",
    )
    .bind(user.id.to_string())
    .fetch_all(db)
    .await?;
    let teams = rows
        .into_iter()
        .map(|(id, name, role)| {
            Ok(TeamMembership {
                id: id.parse().map_err(|e| ApiError::Internal(format!("team id in database: {e}")))?,
                name,
                role: Role::parse(&role).ok_or_else(|| ApiError::Internal(format!("unknown role {role}")))?,
            })
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(MeResponse { user, teams, invitations: Vec::new() })
}

async fn start_session(db: &SqlitePool, sessions: &Sessions, user: User) -> Result<AuthResponse, ApiError> {
    let now = now_ms();
    let ttl_ms = i64::try_from(sessions.refresh_ttl.as_millis()).unwrap_or(i64::MAX);
    let family = uuid::Uuid::new_v4().to_string();
    let token = new_refresh_token();
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO refresh_families (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)")
        .bind(&family)
        .bind(user.id.to_string())
        .bind(now)
        .bind(now.saturating_add(ttl_ms))
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, created_at) VALUES (?, ?, ?)")
        .bind(&token_hash(&token)[..])
        .bind(&family)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    respond(&sessions.tokens, user, token)
}

fn respond(tokens: &TokenService, user: User, refresh_token: String) -> Result<AuthResponse, ApiError> {
    let access_token = tokens.issue(user.id).map_err(|e| ApiError::Internal(format!("sign token: {e}")))?;
    Ok(AuthResponse { user, access_token, refresh_token, expires_in: tokens.ttl().as_secs() })
}

/// 256 random bits, URL-safe: unguessable, and only its hash is stored.
fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
