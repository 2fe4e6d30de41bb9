//! Signing in and out: the session with the relay (user, refresh token, access token), kept across restarts
//! through the credential store, and the access token refreshed before it expires.

use std::time::{Duration, Instant};

use reqwest::Method;
use teamflow_protocol::api::auth::{AuthResponse, LoginRequest, RefreshRequest, RegisterRequest, User};
use teamflow_sync::Backoff;
use tokio_util::sync::CancellationToken;

use crate::{ApiFailure, CredentialStore, Node, NodeError};

/// Refresh the access token when it has less than this left (or a third of its lifetime, if shorter).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// When to refresh a token that lasts `lifetime` from now.
fn refresh_at(lifetime: Duration) -> Instant {
    Instant::now() + lifetime - REFRESH_MARGIN.min(lifetime / 3)
}

/// Retrying a refresh that failed for a reason other than a revoked sign-in (the relay unreachable).
const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(30);

/// The current sign-in.
pub(crate) struct SignIn {
    user: User,
    refresh_token: String,
    /// The access token and when to refresh it; `None` until the first refresh after a restart.
    access: Option<(String, Instant)>,
}

impl Node {
    /// Restores the sign-in kept in this data directory, if it was made with this exact relay URL. One made
    /// with another relay (or the same host over another scheme) is set aside: its refresh token is never
    /// sent here, and the person signs in again (which replaces it).
    pub(crate) async fn restore(&self) -> Result<(), NodeError> {
        let Some((refresh_token, store)) = self.credentials.load().await? else { return Ok(()) };
        let account: Option<(String, String)> =
            sqlx::query_as("SELECT user_json, relay_url FROM account").fetch_optional(&self.db).await?;
        let Some((user, relay_url)) = account else { return Ok(()) };
        if relay_url != self.api.base() {
            tracing::warn!(
                kept = relay_url,
                now = self.api.base(),
                "this data directory's sign-in belongs to another relay; sign in again"
            );
            return Ok(());
        }
        let user: User = serde_json::from_str(&user).map_err(NodeError::corrupt)?;
        *self.sign_in.lock().await = Some(SignIn { user, refresh_token, access: None });
        self.set_credential_store(Some(store));
        Ok(())
    }

    pub async fn sign_up(&self, email: &str, password: &str, display_name: &str) -> Result<User, NodeError> {
        self.register_account(email, password, display_name, None).await
    }

    /// Creates the account (with an invitation's token when given) and keeps its sign-in.
    pub(crate) async fn register_account(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
        invitation: Option<String>,
    ) -> Result<User, NodeError> {
        let body = RegisterRequest {
            email: email.into(),
            password: password.into(),
            display_name: display_name.into(),
            invitation,
        };
        let auth: AuthResponse = self.api.call(Method::POST, "/api/auth/register", None, Some(&body)).await?;
        self.remember_sign_in(auth).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<User, NodeError> {
        let body = LoginRequest { email: email.into(), password: password.into() };
        let auth: AuthResponse = self.api.call(Method::POST, "/api/auth/login", None, Some(&body)).await?;
        self.remember_sign_in(auth).await
    }

    pub(crate) async fn remember_sign_in(&self, auth: AuthResponse) -> Result<User, NodeError> {
        // What the store holds belongs to the account kept with it. Another account, or the same one on another
        // relay, starts from an empty store: whatever the last one left (its cache, its index, its undelivered
        // changes) is not theirs, whether that one signed out, was signed out by the relay, or never did.
        let kept: Option<(String, String)> =
            sqlx::query_as("SELECT user_json, relay_url FROM account").fetch_optional(&self.db).await?;
        // No account kept: the store is empty already (sign-out empties it in one transaction with the account).
        let someone_else = kept.is_some_and(|(user, relay_url)| {
            relay_url != self.api.base() || serde_json::from_str::<User>(&user).map_or(true, |u| u.id != auth.user.id)
        });
        if someone_else {
            // The last account's peers and document sync end first (as on sign-out): neither may go on
            // with its documents in memory under the new account.
            self.stop_p2p().await;
            if let Some(sync) = self.sync.lock().await.take() {
                sync.stop().await;
            }
            let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&self.db).await?;
            if pending > 0 {
                tracing::warn!(pending, "dropping another account's local data, including changes it never delivered");
            }
            crate::store::clear_user_data(&self.db, &self.forgets).await?;
        }
        let user_json = serde_json::to_string(&auth.user).map_err(NodeError::corrupt)?;
        sqlx::query("INSERT INTO account (singleton, relay_url, user_json) VALUES (1, ?, ?) ON CONFLICT (singleton) DO UPDATE SET relay_url = excluded.relay_url, user_json = excluded.user_json")
            .bind(self.api.base())
            .bind(user_json)
            .execute(&self.db)
            .await?;
        let store = self.credentials.store(&auth.refresh_token).await?;
        self.set_credential_store(Some(store));
        let refresh = refresh_at(Duration::from_secs(auth.expires_in));
        self.token.send_replace(auth.access_token.clone());
        *self.sign_in.lock().await = Some(SignIn {
            user: auth.user.clone(),
            refresh_token: auth.refresh_token,
            access: Some((auth.access_token, refresh)),
        });
        Ok(auth.user)
    }

    /// The relay this data directory's sign-in was made with, if one is kept (whichever relay this node was
    /// opened for).
    pub async fn kept_relay(&self) -> Result<Option<String>, NodeError> {
        Ok(sqlx::query_scalar("SELECT relay_url FROM account").fetch_optional(&self.db).await?)
    }

    /// The relay this node talks to, as it was made canonical when the node opened.
    pub fn relay_url(&self) -> &str {
        self.api.base()
    }

    /// Keeps `user` (the signed-in account, as the relay now answers it) in memory and in the store.
    pub(crate) async fn remember_user(&self, user: &User) -> Result<(), NodeError> {
        let mut sign_in = self.sign_in.lock().await;
        let Some(current) = sign_in.as_mut().filter(|s| s.user.id == user.id) else { return Ok(()) };
        let user_json = serde_json::to_string(user).map_err(NodeError::corrupt)?;
        sqlx::query("UPDATE account SET user_json = ?").bind(user_json).execute(&self.db).await?;
        current.user = user.clone();
        Ok(())
    }

    /// Signs out: revokes the sign-in on the relay when reachable, and forgets tokens and cached data here.
    /// Unsent changes are dropped with them.
    pub async fn sign_out(&self) -> Result<(), NodeError> {
        self.stop_p2p().await;
        if let Some(sync) = self.sync.lock().await.take() {
            sync.stop().await;
        }
        self.token.send_replace(String::new());
        if let Some(session) = self.sign_in.lock().await.take() {
            let body = RefreshRequest { refresh_token: session.refresh_token };
            if let Err(e) =
                self.api.call::<_, serde_json::Value>(Method::POST, "/api/auth/logout", None, Some(&body)).await
            {
                tracing::info!(error = %e, "could not revoke the sign-in on the relay; forgetting it locally");
            }
        }
        self.credentials.remove().await?;
        self.set_credential_store(None);
        crate::store::clear_user_data(&self.db, &self.forgets).await?;
        self.status.reset();
        Ok(())
    }

    fn set_credential_store(&self, store: Option<CredentialStore>) {
        self.status.set_credentials(store);
    }

    /// Where the refresh token is kept (`None` while signed out).
    pub fn credential_store(&self) -> Option<CredentialStore> {
        self.status.current().credentials
    }

    pub async fn user(&self) -> Option<User> {
        self.sign_in.lock().await.as_ref().map(|s| s.user.clone())
    }

    /// Refuses while nobody is signed in: what the store holds is readable by the account it was kept for
    /// alone, and not at all once the relay ended that sign-in. Reads where the sign-in keeps its refresh
    /// token, set and cleared with the sign-in, so a refresh waiting on the relay never holds up a local read.
    pub(crate) fn require_sign_in(&self) -> Result<(), NodeError> {
        if self.credential_store().is_some() { Ok(()) } else { Err(NodeError::SignedOut) }
    }

    /// A valid access token, refreshing it first when it is missing or about to expire.
    pub(crate) async fn access_token(&self) -> Result<String, NodeError> {
        let mut session = self.sign_in.lock().await;
        let current = session.as_mut().ok_or(NodeError::SignedOut)?;
        if let Some((token, refresh)) = &current.access
            && *refresh > Instant::now()
        {
            return Ok(token.clone());
        }
        let body = RefreshRequest { refresh_token: current.refresh_token.clone() };
        let auth: AuthResponse = match self.api.call(Method::POST, "/api/auth/refresh", None, Some(&body)).await {
            Ok(auth) => auth,
            Err(ApiFailure::Refused { status: 401, .. }) => {
                // The sign-in was revoked (or its token reused elsewhere): the user must sign in again.
                *session = None;
                // The refused token is not presented again: rooms wait for a new one (a new sign-in).
                self.token.send_replace(String::new());
                self.credentials.remove().await?;
                self.set_credential_store(None);
                // Teammates' devices stop syncing with this one now, not when its certificate expires. Told,
                // not awaited: the swarm's own tasks may be waiting on this sign-in's lock.
                if let Ok(mut p2p) = self.p2p.try_lock()
                    && let Some(swarm) = p2p.take()
                {
                    swarm.end();
                }
                return Err(NodeError::SignedOut);
            }
            Err(e) => return Err(e.into()),
        };
        // The old refresh token is spent: keep the new one before anything else can fail.
        let store = self.credentials.store(&auth.refresh_token).await?;
        self.set_credential_store(Some(store));
        current.refresh_token = auth.refresh_token;
        current.access = Some((auth.access_token.clone(), refresh_at(Duration::from_secs(auth.expires_in))));
        self.token.send_replace(auth.access_token.clone());
        Ok(auth.access_token)
    }

    /// Keeps the access token fresh until `stop` or sign-out: refreshes it when due, so the token channel
    /// (which the sync dialer presents, and joined rooms renew their sockets with) always holds a valid one.
    pub async fn keep_access_fresh(&self, stop: CancellationToken) {
        let mut backoff = Backoff::new(FIRST_RETRY, LONGEST_RETRY);
        loop {
            let due = match self.sign_in.lock().await.as_ref() {
                None => return,
                Some(SignIn { access: Some((_, refresh)), .. }) => *refresh,
                Some(_) => Instant::now(),
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep_until(due.into()) => {}
            }
            match self.access_token().await {
                Ok(_) => backoff.reset(),
                Err(NodeError::SignedOut) => return,
                Err(e) => {
                    tracing::info!(error = %e, "could not refresh the access token; will retry");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = backoff.wait() => {}
                    }
                }
            }
        }
    }

    pub(crate) async fn authed<B: serde::Serialize + ?Sized, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, NodeError> {
        let token = self.access_token().await?;
        match self.api.call(method.clone(), path, Some(&token), body).await {
            // The relay no longer takes this access token: its sign-in ended (signed out everywhere, a password
            // change) or the token lapsed early. A refresh tells which, and signs this device out at once if the
            // sign-in is over, rather than at the token's next scheduled refresh. A refused token reached no
            // handler, so asking again repeats nothing.
            Err(ApiFailure::Refused { status: 401, .. }) => {
                self.drop_access(&token).await;
                let token = self.access_token().await?;
                Ok(self.api.call(method, path, Some(&token), body).await?)
            }
            answer => Ok(answer?),
        }
    }

    /// Forgets the access token `token` if it is still the current one, so the next use refreshes it.
    async fn drop_access(&self, token: &str) {
        if let Some(current) = self.sign_in.lock().await.as_mut()
            && current.access.as_ref().is_some_and(|(t, _)| t == token)
        {
            current.access = None;
        }
    }
}
