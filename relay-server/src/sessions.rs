//! Live sign-ins: which live connections (`/api/ws`, `/sync`) belong to which session, which sessions have
//! ended, and the feed that tells every relay process on the database when one ends.
//!
//! A session is one sign-in: a refresh family, named in each access token's `sid`. Whatever ends sessions
//! (sign-out, sign-out everywhere, a password change or reset, refresh-token reuse, an account disabled or
//! deleted) calls [`end_sessions`] inside its write transaction: that revokes the families and appends one
//! `account_changes` row per family. After the commit, the process that did it ends them here at once
//! ([`LiveSessions::end`]); every other process on the same database (the `teamflow-relay admin` command
//! runs beside the relay) is caught by [`spawn_watch`], which reads new rows every [`POLL`]. An ended
//! session's connections close (code [`CLOSE_SESSION_ENDED`]) and its access tokens are refused until they
//! would have expired anyway. With other relay instances (`--nats-url`), the process that ended them also
//! announces it over NATS ([`LiveSessions::end_everywhere`]), so theirs close within one hop rather than one
//! poll; the table stays the record that catches anything a NATS outage lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sqlx::AnyConnection;
use teamflow_protocol::UserId;
use tokio_util::sync::CancellationToken;

use crate::auth::{AccessToken, TokenError};
use crate::cluster::{Cluster, SessionsNotice};
use crate::db::backend::Backend;
use crate::db::{Db, now_ms};

/// How often a relay reads `account_changes` for sessions ended by another process.
pub const POLL: Duration = Duration::from_millis(250);

pub use teamflow_protocol::realtime::{CLOSE_SESSION_ENDED, CLOSE_TOKEN_EXPIRED};

/// How long a ticket (`POST /api/auth/ticket`) stays usable.
pub const TICKET_TTL: Duration = Duration::from_secs(30);

/// Why sessions end; written to `account_changes.reason` and sent as the close reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    SignedOut,
    SignedOutEverywhere,
    PasswordChanged,
    RefreshTokenReused,
    AccountDisabled,
    AccountDeleted,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::SignedOut => "signed_out",
            EndReason::SignedOutEverywhere => "signed_out_everywhere",
            EndReason::PasswordChanged => "password_changed",
            EndReason::RefreshTokenReused => "refresh_token_reused",
            EndReason::AccountDisabled => "account_disabled",
            EndReason::AccountDeleted => "account_deleted",
        }
    }
}

/// Which of a user's sessions end.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One sign-in (by family id).
    One(&'a str),
    /// Every sign-in of the user.
    All,
    /// Every sign-in but this one (a password change keeps the caller's).
    AllBut(&'a str),
}

/// Revokes the user's matching, still-live refresh families and records each in `account_changes`, inside
/// the caller's write transaction. Answers the families ended, for [`LiveSessions::end`] after the commit.
pub async fn end_sessions(
    tx: &mut AnyConnection,
    user: UserId,
    scope: Scope<'_>,
    reason: EndReason,
) -> Result<Vec<String>, sqlx::Error> {
    let now = now_ms();
    let (filter, family) = match scope {
        Scope::One(family) => ("AND id = $2", Some(family)),
        Scope::All => ("", None),
        Scope::AllBut(family) => ("AND id != $2", Some(family)),
    };
    let select = format!("SELECT id FROM refresh_families WHERE user_id = $1 AND revoked_at IS NULL {filter}");
    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(select)).bind(user.to_string());
    if let Some(family) = family {
        query = query.bind(family);
    }
    let listed = query.fetch_all(&mut *tx).await?;
    let mut families = Vec::with_capacity(listed.len());
    for family in listed {
        // Another instance may end the same sign-in at the same moment: whichever revokes it records it.
        let revoked = sqlx::query("UPDATE refresh_families SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(&family)
            .execute(&mut *tx)
            .await?;
        if revoked.rows_affected() == 0 {
            continue;
        }
        sqlx::query("INSERT INTO account_changes (user_id, family_id, reason, created_at) VALUES ($1, $2, $3, $4)")
            .bind(user.to_string())
            .bind(&family)
            .bind(reason.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        families.push(family);
    }
    Ok(families)
}

/// The relay's registry of live connections by session, and of the sessions that ended. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LiveSessions {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// How long an ended session is remembered: as long as one of its access tokens could still verify.
    remember: Duration,
    /// The other relay instances, once the relay has joined them.
    cluster: OnceLock<Cluster>,
}

#[derive(Debug, Default)]
struct State {
    /// Live connections by session.
    live: HashMap<String, HashMap<u64, Arc<Ending>>>,
    /// Ended sessions, with when they were recorded here (pruned after `remember`).
    ended: HashMap<String, (Instant, &'static str)>,
    next: u64,
    /// Unused tickets: hash of the ticket -> the access token it stands for, and when it expires.
    tickets: HashMap<[u8; 32], (AccessToken, Instant)>,
}

/// How one live connection learns that its session ended.
#[derive(Debug)]
struct Ending {
    token: CancellationToken,
    reason: std::sync::OnceLock<&'static str>,
}

/// A live connection's membership in the registry; dropping it unregisters the connection.
#[derive(Debug)]
pub struct LiveGuard {
    sessions: LiveSessions,
    session: String,
    id: u64,
    ending: Arc<Ending>,
}

impl LiveGuard {
    /// Resolves with the reason once the connection's session ends.
    pub async fn ended(&self) -> &'static str {
        self.ending.token.cancelled().await;
        self.ending.reason.get().copied().unwrap_or("session_ended")
    }

    pub fn session(&self) -> &str {
        &self.session
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut state = self.sessions.lock();
        if let Some(conns) = state.live.get_mut(&self.session) {
            conns.remove(&self.id);
            if conns.is_empty() {
                state.live.remove(&self.session);
            }
        }
    }
}

impl LiveSessions {
    /// A registry remembering ended sessions for `token_ttl` plus the verifier's leeway.
    pub fn new(token_ttl: Duration) -> Self {
        let remember = token_ttl + Duration::from_secs(60);
        Self { inner: Arc::new(Inner { state: Mutex::new(State::default()), remember, cluster: OnceLock::new() }) }
    }

    /// Sessions ended here are announced to the other instances through `cluster` from now on.
    pub fn announce_through(&self, cluster: Cluster) {
        if self.inner.cluster.set(cluster).is_err() {
            tracing::debug!("live sessions already announce through a cluster");
        }
    }

    /// Ends `sessions` of `user` here ([`LiveSessions::end`]) and on every other instance.
    pub fn end_everywhere(&self, user: UserId, sessions: &[String], reason: &'static str) {
        self.end(sessions, reason);
        if let Some(cluster) = self.inner.cluster.get()
            && !sessions.is_empty()
        {
            cluster.announce_sessions(&SessionsNotice { user, sessions: sessions.to_vec(), reason: reason.to_owned() });
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses a verified token whose session has ended.
    pub fn check(&self, token: AccessToken) -> Result<AccessToken, TokenError> {
        if self.lock().ended.contains_key(&token.session) { Err(TokenError::Ended) } else { Ok(token) }
    }

    /// Registers a live connection of `session`; `None` if the session has already ended.
    pub fn register(&self, session: &str) -> Option<LiveGuard> {
        let mut state = self.lock();
        if state.ended.contains_key(session) {
            return None;
        }
        state.next += 1;
        let id = state.next;
        let ending = Arc::new(Ending { token: CancellationToken::new(), reason: std::sync::OnceLock::new() });
        state.live.entry(session.to_owned()).or_default().insert(id, ending.clone());
        Some(LiveGuard { sessions: self.clone(), session: session.to_owned(), id, ending })
    }

    /// Ends `sessions`: their live connections are told, and their tokens refused from now on. Idempotent.
    pub fn end(&self, sessions: &[String], reason: &'static str) {
        let mut state = self.lock();
        let now = Instant::now();
        for session in sessions {
            state.ended.entry(session.clone()).or_insert((now, reason));
            for ending in state.live.remove(session).into_iter().flat_map(HashMap::into_values) {
                // The first reason wins; a later one for the same session says nothing new.
                if ending.reason.set(reason).is_err() {
                    tracing::trace!("session already ending");
                }
                ending.token.cancel();
            }
        }
        state.tickets.retain(|_, (token, _)| !sessions.contains(&token.session));
    }

    /// Forgets ended sessions whose tokens have all expired, and expired tickets.
    fn prune(&self) {
        let remember = self.inner.remember;
        let mut state = self.lock();
        state.ended.retain(|_, (at, _)| at.elapsed() < remember);
        let now = Instant::now();
        state.tickets.retain(|_, (_, expires)| *expires > now);
    }

    /// A one-time ticket standing for `token` for [`TICKET_TTL`], for clients that cannot set headers.
    pub fn issue_ticket(&self, token: AccessToken) -> String {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let ticket = URL_SAFE_NO_PAD.encode(bytes);
        let mut state = self.lock();
        let now = Instant::now();
        state.tickets.retain(|_, (_, expires)| *expires > now);
        state.tickets.insert(hash(&ticket), (token, now + TICKET_TTL));
        ticket
    }

    /// Takes a ticket (it works once): the token it stands for, if it is known, unexpired and its session
    /// has not ended.
    pub fn redeem_ticket(&self, ticket: &str) -> Result<AccessToken, TokenError> {
        let taken = self.lock().tickets.remove(&hash(ticket));
        match taken {
            Some((token, expires)) if expires > Instant::now() => self.check(token),
            _ => Err(TokenError::Invalid),
        }
    }
}

fn hash(ticket: &str) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(ticket.as_bytes()).into()
}

/// Follows `account_changes` until `stop`: first the sessions ended recently enough that their tokens could
/// still verify, then every new row, every [`POLL`]. This is how a relay learns of sessions ended by
/// another process on the same database (the admin command); its own are ended at once by whoever ends
/// them, and met here again harmlessly.
pub async fn spawn_watch(
    db: Db,
    live: LiveSessions,
    stop: CancellationToken,
) -> Result<tokio::task::JoinHandle<()>, sqlx::Error> {
    let since = now_ms().saturating_sub(i64::try_from(live.inner.remember.as_millis()).unwrap_or(i64::MAX));
    let recent: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, family_id, reason FROM account_changes WHERE created_at >= $1 ORDER BY seq")
            .bind(since)
            .fetch_all(db.pool())
            .await?;
    let mut last: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM account_changes").fetch_one(db.pool()).await?;
    for (_, family, reason) in recent {
        live.end(&[family], static_reason(&reason));
    }
    Ok(tokio::spawn(async move {
        let mut every = tokio::time::interval(POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut prune = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = prune.tick() => {
                    live.prune();
                    // Rows older than any token they could still refuse are history: keep a day more.
                    let keep = live.inner.remember + Duration::from_secs(86_400);
                    let before = now_ms().saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX));
                    if let Err(e) = sqlx::query("DELETE FROM account_changes WHERE created_at < $1").bind(before).execute(db.pool()).await {
                        tracing::warn!(error = %e, "pruning account changes failed");
                    }
                }
                _ = every.tick() => {}
            }
            match changes_since(&db, last).await {
                Ok(rows) => {
                    for (seq, family, reason) in rows {
                        last = last.max(seq);
                        live.end(&[family], static_reason(&reason));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "reading account changes failed; retrying"),
            }
        }
    }))
}

/// How far back a follower on PostgreSQL re-reads `account_changes` beyond the last seq it saw.
const FEED_OVERLAP_MS: i64 = 10_000;

/// The ended sessions recorded after `last`. On SQLite one writer at a time numbers the feed in commit
/// order, so "above the last seq" is complete. On PostgreSQL a transaction holding seq 7 may commit after one
/// holding seq 8 (another instance's), so the rows of the last [`FEED_OVERLAP_MS`] are read again too;
/// ending a session twice is harmless.
async fn changes_since(db: &Db, last: i64) -> Result<Vec<(i64, String, String)>, sqlx::Error> {
    match db.backend() {
        Backend::Sqlite => {
            sqlx::query_as("SELECT seq, family_id, reason FROM account_changes WHERE seq > $1 ORDER BY seq")
                .bind(last)
                .fetch_all(db.pool())
                .await
        }
        Backend::Postgres => {
            sqlx::query_as(
                "SELECT seq, family_id, reason FROM account_changes WHERE seq > $1 OR created_at >= $2 ORDER BY seq",
            )
            .bind(last)
            .bind(now_ms().saturating_sub(FEED_OVERLAP_MS))
            .fetch_all(db.pool())
            .await
        }
    }
}

/// The `&'static` form of a reason read back from the table.
pub(crate) fn static_reason(reason: &str) -> &'static str {
    [
        EndReason::SignedOut,
        EndReason::SignedOutEverywhere,
        EndReason::PasswordChanged,
        EndReason::RefreshTokenReused,
        EndReason::AccountDisabled,
        EndReason::AccountDeleted,
    ]
    .into_iter()
    .map(EndReason::as_str)
    .find(|r| *r == reason)
    .unwrap_or("session_ended")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(session: &str) -> AccessToken {
        AccessToken { user: UserId::new(), session: session.into(), expires_at: u64::MAX }
    }

    #[tokio::test]
    async fn ending_a_session_ends_its_connections_and_refuses_its_tokens() {
        let live = LiveSessions::new(Duration::from_secs(900));
        let a = live.register("a").expect("live");
        let b = live.register("b").expect("live");
        live.end(&["a".to_owned()], EndReason::SignedOut.as_str());
        assert_eq!(a.ended().await, "signed_out");
        assert!(!b.ending.token.is_cancelled());
        assert!(live.register("a").is_none());
        assert_eq!(live.check(token("a")), Err(TokenError::Ended));
        assert!(live.check(token("b")).is_ok());
    }

    #[test]
    fn tickets_work_once_and_die_with_their_session() {
        let live = LiveSessions::new(Duration::from_secs(900));
        let ticket = live.issue_ticket(token("a"));
        assert_eq!(live.redeem_ticket(&ticket).map(|t| t.session), Ok("a".to_owned()));
        assert_eq!(live.redeem_ticket(&ticket), Err(TokenError::Invalid));
        let ticket = live.issue_ticket(token("b"));
        live.end(&["b".to_owned()], "signed_out");
        assert_eq!(live.redeem_ticket(&ticket), Err(TokenError::Invalid));
    }
}
