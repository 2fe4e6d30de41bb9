//! The desktop's headless node: everything the app does except drawing the window, so it runs and is
//! tested without one (and backs the command-line client).
//!
//! This first slice holds the local store (SQLite, WAL, `synchronous=FULL`), sign-in with persisted
//! credentials and access-token refresh, a cache for reading while offline, and the outbox: chat messages
//! written offline are committed locally with a client id and delivered exactly once, in order, when the
//! relay is reachable; a change the relay refuses is marked failed with its reason, never retried forever.

mod api;
pub mod cli;
mod credentials;
mod device;
mod documents;
mod outbox;
pub mod p2p;
mod rooms;
mod status;
mod teammates;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::Method;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use teamflow_protocol::api::auth::{
    AuthResponse, LoginRequest, MeResponse, RefreshRequest, RegisterRequest, TeamMembership, User,
};
use teamflow_protocol::api::integrations::{ActivityItem, ActivityPage};
use teamflow_protocol::api::messages::{Message, MessagePage};
use teamflow_protocol::api::teams::{AddMember, DocumentEntry, Member, Project, Team, TeamInput, TeamSettings};
use teamflow_protocol::{Role, TeamId};
use tokio::sync::Mutex;

pub use api::{ApiFailure, RelayApi};
pub use credentials::CredentialStore;
pub use outbox::{FlushReport, OutboxEntry, OutboxKind, OutboxState};
pub use p2p::{P2p, P2pConfig, P2pStatus, PeerLink};
pub use rooms::Room;
pub use status::Status;
pub use teamflow_sync::{DocSync, Link};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Refresh the access token when it has less than this left.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("not signed in")]
    SignedOut,
    #[error(transparent)]
    Api(#[from] ApiFailure),
    #[error("local store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("local store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("credentials at {path}: {source}")]
    Credentials { path: PathBuf, source: std::io::Error },
    #[error("local data is unreadable: {0}")]
    Corrupt(String),
    #[error("document sync: {0}")]
    Sync(String),
    #[error("not available offline yet (never fetched): {0}")]
    NotCached(ApiFailure),
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error(transparent)]
    P2p(#[from] p2p::P2pError),
}

struct Session {
    user: User,
    refresh_token: String,
    /// `None` until the first refresh after a restart.
    access: Option<(String, Instant)>,
}

/// One device's node. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Node {
    db: SqlitePool,
    data_dir: PathBuf,
    api: RelayApi,
    session: Mutex<Option<Session>>,
    credentials: credentials::Credentials,
    status: status::StatusBoard,
    /// Tasks the node spawned (the status forwarder); `close` waits for them.
    tasks: tokio_util::task::TaskTracker,
    /// One delivery run at a time, so the outbox drains strictly in order.
    flushing: Mutex<()>,
    /// The document sync client, created once someone is signed in.
    sync: Mutex<Option<teamflow_sync::SyncClient>>,
    /// The document store's count of writes not yet durable, once the sync client exists.
    storage_backlog: std::sync::Mutex<Option<tokio::sync::watch::Receiver<usize>>>,
    /// The current access token, which the sync dialer presents on every (re)connection.
    token: tokio::sync::watch::Sender<String>,
    /// This device's libp2p identity for peer-to-peer sync; its peer id names the device in sync peer ids.
    device_key: libp2p::identity::Keypair,
    /// Teammates' devices admitted by the peer-to-peer certificate exchange (the share policy reads it).
    admitted: tokio::sync::watch::Sender<p2p::Admitted>,
    /// Bumped whenever a document learns its team, so share decisions are taken again.
    document_teams: tokio::sync::watch::Sender<u64>,
    /// The peer-to-peer swarm, once started.
    p2p: Mutex<Option<P2p>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("data_dir", &self.data_dir)
            .field("relay", &self.api.base())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Opens (creating if needed) the node's store in `data_dir`, restoring a previous sign-in.
    pub async fn open(data_dir: &Path, relay_url: &str) -> Result<Node, NodeError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| NodeError::Credentials { path: data_dir.to_owned(), source })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("node.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let db = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        MIGRATOR.run(&db).await?;
        let node = Node {
            db,
            data_dir: data_dir.to_owned(),
            api: RelayApi::new(relay_url),
            session: Mutex::new(None),
            credentials: credentials::Credentials::new(data_dir),
            status: status::StatusBoard::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            flushing: Mutex::new(()),
            sync: Mutex::new(None),
            storage_backlog: std::sync::Mutex::new(None),
            token: tokio::sync::watch::Sender::new(String::new()),
            device_key: device::load_or_create_key(data_dir)?,
            admitted: tokio::sync::watch::Sender::new(p2p::Admitted::default()),
            document_teams: tokio::sync::watch::Sender::new(0),
            p2p: Mutex::new(None),
        };
        node.restore().await?;
        node.refresh_outbox_status().await?;
        Ok(node)
    }

    async fn restore(&self) -> Result<(), NodeError> {
        let Some((refresh_token, store)) = self.credentials.load().await? else { return Ok(()) };
        let user: Option<String> = sqlx::query_scalar("SELECT user_json FROM account").fetch_optional(&self.db).await?;
        let Some(user) = user else { return Ok(()) };
        let user: User = serde_json::from_str(&user).map_err(|e| NodeError::Corrupt(e.to_string()))?;
        *self.session.lock().await = Some(Session { user, refresh_token, access: None });
        self.set_credential_store(Some(store));
        Ok(())
    }

    pub async fn sign_up(&self, email: &str, password: &str, display_name: &str) -> Result<User, NodeError> {
        let body =
            RegisterRequest { email: email.into(), password: password.into(), display_name: display_name.into() };
        let auth: AuthResponse = self.api.call(Method::POST, "/api/auth/register", None, Some(&body)).await?;
        self.start_session(auth).await
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Result<User, NodeError> {
        let body = LoginRequest { email: email.into(), password: password.into() };
        let auth: AuthResponse = self.api.call(Method::POST, "/api/auth/login", None, Some(&body)).await?;
        self.start_session(auth).await
    }

    async fn start_session(&self, auth: AuthResponse) -> Result<User, NodeError> {
        let user_json = serde_json::to_string(&auth.user).map_err(|e| NodeError::Corrupt(e.to_string()))?;
        sqlx::query("INSERT INTO account (singleton, relay_url, user_json) VALUES (1, ?, ?) ON CONFLICT (singleton) DO UPDATE SET relay_url = excluded.relay_url, user_json = excluded.user_json")
            .bind(self.api.base())
            .bind(user_json)
            .execute(&self.db)
            .await?;
        let store = self.credentials.store(&auth.refresh_token).await?;
        self.set_credential_store(Some(store));
        let expires = Instant::now() + Duration::from_secs(auth.expires_in);
        self.token.send_replace(auth.access_token.clone());
        *self.session.lock().await = Some(Session {
            user: auth.user.clone(),
            refresh_token: auth.refresh_token,
            access: Some((auth.access_token, expires)),
        });
        Ok(auth.user)
    }

    /// Signs out: revokes the sign-in on the relay when reachable, and forgets tokens and cached data here.
    /// Unsent changes are dropped with them.
    pub async fn sign_out(&self) -> Result<(), NodeError> {
        self.stop_p2p().await;
        if let Some(sync) = self.sync.lock().await.take() {
            sync.stop().await;
        }
        self.token.send_replace(String::new());
        if let Some(session) = self.session.lock().await.take() {
            let body = RefreshRequest { refresh_token: session.refresh_token };
            if let Err(e) =
                self.api.call::<_, serde_json::Value>(Method::POST, "/api/auth/logout", None, Some(&body)).await
            {
                tracing::info!(error = %e, "could not revoke the sign-in on the relay; forgetting it locally");
            }
        }
        self.credentials.remove().await?;
        self.set_credential_store(None);
        let mut tx = self.db.begin().await?;
        for table in
            ["account", "cached_teams", "cached_messages", "cached_views", "outbox", "sync_chunks", "document_teams"]
        {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
        }
        tx.commit().await?;
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
        self.session.lock().await.as_ref().map(|s| s.user.clone())
    }

    /// A valid access token, refreshing it first when it is missing or about to expire.
    pub(crate) async fn access_token(&self) -> Result<String, NodeError> {
        let mut session = self.session.lock().await;
        let current = session.as_mut().ok_or(NodeError::SignedOut)?;
        if let Some((token, expires)) = &current.access
            && *expires > Instant::now() + REFRESH_MARGIN
        {
            return Ok(token.clone());
        }
        let body = RefreshRequest { refresh_token: current.refresh_token.clone() };
        let auth: AuthResponse = match self.api.call(Method::POST, "/api/auth/refresh", None, Some(&body)).await {
            Ok(auth) => auth,
            Err(ApiFailure::Refused { status: 401, .. }) => {
                // The sign-in was revoked (or its token reused elsewhere): the user must sign in again.
                *session = None;
                self.credentials.remove().await?;
                self.set_credential_store(None);
                return Err(NodeError::SignedOut);
            }
            Err(e) => return Err(e.into()),
        };
        // The old refresh token is spent: keep the new one before anything else can fail.
        let store = self.credentials.store(&auth.refresh_token).await?;
        self.set_credential_store(Some(store));
        current.refresh_token = auth.refresh_token;
        let expires = Instant::now() + Duration::from_secs(auth.expires_in);
        current.access = Some((auth.access_token.clone(), expires));
        self.token.send_replace(auth.access_token.clone());
        Ok(auth.access_token)
    }

    async fn authed<B: serde::Serialize + ?Sized, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, NodeError> {
        let token = self.access_token().await?;
        Ok(self.api.call(method, path, Some(&token), body).await?)
    }

    /// The user's teams: from the relay when reachable (refreshing the cache), else from the cache.
    pub async fn teams(&self) -> Result<Vec<TeamMembership>, NodeError> {
        match self.authed::<(), MeResponse>(Method::GET, "/api/me", None).await {
            Ok(me) => {
                let mut tx = self.db.begin().await?;
                sqlx::query("DELETE FROM cached_teams").execute(&mut *tx).await?;
                for team in &me.teams {
                    let json = serde_json::to_string(team).map_err(|e| NodeError::Corrupt(e.to_string()))?;
                    sqlx::query("INSERT INTO cached_teams (id, json) VALUES (?, ?)")
                        .bind(team.id.to_string())
                        .bind(json)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(me.teams)
            }
            Err(NodeError::Api(e)) if e.is_transient() => {
                let rows: Vec<String> =
                    sqlx::query_scalar("SELECT json FROM cached_teams ORDER BY id").fetch_all(&self.db).await?;
                rows.iter().map(|j| serde_json::from_str(j).map_err(|e| NodeError::Corrupt(e.to_string()))).collect()
            }
            Err(e) => Err(e),
        }
    }

    /// Reads `path` from the relay, keeping the answer; while the relay is unreachable, the last answer.
    /// `NodeError::NotCached` when there is none.
    async fn read_through<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, NodeError> {
        match self.authed::<(), T>(Method::GET, path, None).await {
            Ok(value) => {
                self.keep_view(path, &value).await?;
                Ok(value)
            }
            Err(NodeError::Api(e)) if e.is_transient() => self.kept_view(path).await?.ok_or(NodeError::NotCached(e)),
            Err(e) => Err(e),
        }
    }

    /// Keeps `value` under `key` in the offline cache.
    pub(crate) async fn keep_view<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<(), NodeError> {
        let json = serde_json::to_string(value).map_err(|e| NodeError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO cached_views (key, json) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET json = excluded.json",
        )
        .bind(key)
        .bind(json)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// What `keep_view` kept under `key`, if anything.
    pub(crate) async fn kept_view<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, NodeError> {
        let json: Option<String> = sqlx::query_scalar("SELECT json FROM cached_views WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.db)
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| NodeError::Corrupt(e.to_string()))).transpose()
    }

    /// A team's members with their roles (the last known list while offline).
    pub async fn members(&self, team: TeamId) -> Result<Vec<Member>, NodeError> {
        self.read_through(&format!("/api/teams/{team}/members")).await
    }

    /// A team's projects (the last known list while offline; queued creates are in `outbox`).
    pub async fn projects(&self, team: TeamId) -> Result<Vec<Project>, NodeError> {
        self.read_through(&format!("/api/teams/{team}/projects")).await
    }

    /// A team's settings (the last known ones while offline).
    pub async fn team_settings(&self, team: TeamId) -> Result<TeamSettings, NodeError> {
        self.read_through(&format!("/api/teams/{team}/settings")).await
    }

    /// Replaces a team's settings (owners and admins; needs the relay). The answer refreshes the cache.
    pub async fn update_team_settings(&self, team: TeamId, settings: &TeamSettings) -> Result<TeamSettings, NodeError> {
        let path = format!("/api/teams/{team}/settings");
        let saved: TeamSettings = self.authed(Method::PUT, &path, Some(settings)).await?;
        self.keep_view(&path, &saved).await?;
        Ok(saved)
    }

    /// A team's registered documents (the last known list while offline; queued registrations are in
    /// `outbox`).
    pub async fn documents(&self, team: TeamId) -> Result<Vec<DocumentEntry>, NodeError> {
        let documents: Vec<DocumentEntry> = self.read_through(&format!("/api/teams/{team}/documents")).await?;
        let urls: Vec<String> = documents.iter().map(|d| d.document_id.to_string()).collect();
        self.remember_document_teams(team, &urls).await?;
        Ok(documents)
    }

    /// A team's latest activity from its integrations, newest first (the last known page while offline).
    pub async fn activity(&self, team: TeamId) -> Result<Vec<ActivityItem>, NodeError> {
        let page: ActivityPage = self.read_through(&format!("/api/teams/{team}/activity")).await?;
        Ok(page.items)
    }

    /// Creates a team (needs the relay).
    pub async fn create_team(&self, name: &str) -> Result<Team, NodeError> {
        self.authed(Method::POST, "/api/teams", Some(&TeamInput { name: name.into() })).await
    }

    /// Adds someone with an account to a team (needs the relay).
    pub async fn add_member(&self, team: TeamId, email: &str, role: Role) -> Result<Member, NodeError> {
        let body = AddMember { email: email.into(), role };
        self.authed(Method::POST, &format!("/api/teams/{team}/members"), Some(&body)).await
    }

    /// Removes someone from a team, or leaves it when `user` is oneself (needs the relay).
    pub async fn remove_member(&self, team: TeamId, user: teamflow_protocol::UserId) -> Result<(), NodeError> {
        let _: serde_json::Value =
            self.authed::<(), _>(Method::DELETE, &format!("/api/teams/{team}/members/{user}"), None).await?;
        Ok(())
    }

    /// The team's recent messages, oldest first: fetched from the relay when reachable (and cached), else
    /// read from the cache.
    pub async fn messages(&self, team: TeamId) -> Result<Vec<Message>, NodeError> {
        self.cache_message_page(&format!("/api/teams/{team}/messages?limit=100")).await?;
        let rows: Vec<String> = sqlx::query_scalar("SELECT json FROM cached_messages WHERE team_id = ? ORDER BY seq")
            .bind(team.to_string())
            .fetch_all(&self.db)
            .await?;
        rows.iter().map(|j| serde_json::from_str(j).map_err(|e| NodeError::Corrupt(e.to_string()))).collect()
    }

    /// Up to `limit` messages older than `before` (a `seq`), oldest first, for paging back through history:
    /// from the relay when reachable (and cached), else whatever the cache holds.
    pub async fn messages_before(&self, team: TeamId, before: i64, limit: u32) -> Result<Vec<Message>, NodeError> {
        let limit = limit.clamp(1, 100);
        self.cache_message_page(&format!("/api/teams/{team}/messages?before={before}&limit={limit}")).await?;
        let mut rows: Vec<String> = sqlx::query_scalar(
            "SELECT json FROM cached_messages WHERE team_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
        )
        .bind(team.to_string())
        .bind(before)
        .bind(limit)
        .fetch_all(&self.db)
        .await?;
        rows.reverse();
        rows.iter().map(|j| serde_json::from_str(j).map_err(|e| NodeError::Corrupt(e.to_string()))).collect()
    }

    /// Fetches a page of messages from the relay into the cache; nothing to do while it is unreachable.
    async fn cache_message_page(&self, path: &str) -> Result<(), NodeError> {
        match self.authed::<(), MessagePage>(Method::GET, path, None).await {
            Ok(page) => {
                let mut tx = self.db.begin().await?;
                for message in &page.messages {
                    cache_message(&mut tx, message).await?;
                }
                tx.commit().await?;
                Ok(())
            }
            Err(NodeError::Api(e)) if e.is_transient() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Stops syncing and closes the store, waiting for writes to finish.
    pub async fn close(self) {
        self.stop_p2p().await;
        if let Some(sync) = self.sync.lock().await.take() {
            sync.stop().await;
        }
        // The forwarder ends once the sync client is gone.
        self.tasks.close();
        self.tasks.wait().await;
        self.db.close().await;
    }
}

pub(crate) async fn cache_message(tx: &mut sqlx::SqliteConnection, message: &Message) -> Result<(), NodeError> {
    let json = serde_json::to_string(message).map_err(|e| NodeError::Corrupt(e.to_string()))?;
    sqlx::query("INSERT INTO cached_messages (team_id, seq, json) VALUES (?, ?, ?) ON CONFLICT (team_id, seq) DO UPDATE SET json = excluded.json")
        .bind(message.team_id.to_string())
        .bind(message.seq)
        .bind(json)
        .execute(tx)
        .await?;
    Ok(())
}
