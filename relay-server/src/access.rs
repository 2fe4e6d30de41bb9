//! Who may see what, answered fast: team roles and document owners from SQL behind an in-process cache,
//! plus a feed of access changes that live connections (rooms, document sync) re-check against.
//!
//! A request or a realtime frame about a team checks the caller's membership once, with [`Access::member`],
//! and hands the [`Membership`] it gets to the domain functions it calls, which check roles against it.
//!
//! Every membership change goes through [`Access::apply`] after its commit, which invalidates the cache
//! before telling subscribers, so a subscriber that re-checks always sees the new state.
//!
//! A lookup racing a change could otherwise cache what it read before the change. So `apply` bumps a
//! generation before invalidating, and a loader that inserts re-checks the generation afterwards,
//! dropping its entry if anything changed meanwhile: either the invalidation runs after the insert, or
//! the loader sees the new generation and removes what it inserted.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moka::future::Cache;
use sqlx::any::AnyExecutor;
use teamflow_protocol::{Role, TeamId, UserId};
use tokio::sync::broadcast;

use crate::db::Db;
use crate::error::ApiError;

/// What a non-member is told about a team: the same as for a team that does not exist.
pub(crate) const TEAM_NOT_FOUND: &str = "no such team";

/// Proof that `user` belongs to `team` with `role`, from one membership check. Only this module makes one
/// (and the webhook worker, for an integration), so a domain function given one need not check again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    team: TeamId,
    user: UserId,
    role: Role,
}

impl Membership {
    pub fn team(&self) -> TeamId {
        self.team
    }

    pub fn user(&self) -> UserId {
        self.user
    }

    pub fn role(&self) -> Role {
        self.role
    }

    /// `forbidden` unless the role includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role.at_least(needed) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("your role in this team does not allow this"))
        }
    }
}

/// The user's role in the team as stored (`None`: not a member, or no such team). Callers go through
/// [`Access::member`]; this is its loader, and what a write transaction reads to see the state it changes.
pub(crate) async fn role_in<'e, E>(db: E, team: TeamId, user: UserId) -> Result<Option<Role>, ApiError>
where
    E: AnyExecutor<'e>,
{
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team.to_string())
        .bind(user.to_string())
        .fetch_optional(db)
        .await?;
    role.map(|role| Role::try_from(role).map_err(|e| ApiError::Internal(e.to_string()))).transpose()
}

/// Inside a write transaction: locks the member's team (on PostgreSQL, queueing behind any membership change
/// in flight) and checks their role there as it is now, not as the cached `Membership` said. For writes
/// that must not outlive a removal or demotion committed a moment before (an integration made or rotated
/// by an admin being removed would keep acting for them).
pub(crate) async fn recheck(
    db: &Db,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    member: &Membership,
    needed: Role,
) -> Result<(), ApiError> {
    if !db.lock_team(tx, &member.team().to_string()).await? {
        return Err(ApiError::NotFound(TEAM_NOT_FOUND));
    }
    match role_in(&mut **tx, member.team(), member.user()).await? {
        Some(role) if role.at_least(needed) => Ok(()),
        Some(_) => Err(ApiError::Forbidden("your role in this team does not allow this")),
        None => Err(ApiError::NotFound(TEAM_NOT_FOUND)),
    }
}

/// Something that may change what a user can reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessChange {
    /// One user's role in one team changed (or they joined or left).
    Member { team: TeamId, user: UserId },
    /// A document was registered, deleted or restored: who may share it changed.
    Document { url: String },
    /// Anything may have changed: changes made on other relay instances were missed while this one was cut
    /// off from them. Every cached answer is dropped, and every subscriber re-checks all it holds.
    Everything,
}

#[derive(Clone, Debug)]
pub struct Access {
    db: Db,
    roles: Cache<(TeamId, UserId), Option<Role>>,
    documents: Cache<String, Option<TeamId>>,
    changes: broadcast::Sender<AccessChange>,
    generation: Arc<AtomicU64>,
}

/// Entries also expire on their own, a safety net should the database be changed behind the relay's back.
const CACHE_TTL: Duration = Duration::from_secs(300);

impl Access {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            roles: Cache::builder().max_capacity(100_000).time_to_live(CACHE_TTL).build(),
            documents: Cache::builder().max_capacity(100_000).time_to_live(CACHE_TTL).build(),
            changes: broadcast::channel(1024).0,
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A cached value, or `load`'s answer, cached only if no change was applied while loading.
    async fn cached<K, V>(
        &self,
        cache: &Cache<K, V>,
        key: K,
        load: impl Future<Output = Result<V, ApiError>>,
    ) -> Result<V, ApiError>
    where
        K: Hash + Eq + Send + Sync + Clone + 'static,
        V: Clone + Send + Sync + 'static,
    {
        if let Some(value) = cache.get(&key).await {
            return Ok(value);
        }
        let before = self.generation.load(Ordering::SeqCst);
        let value = load.await?;
        cache.insert(key.clone(), value.clone()).await;
        if self.generation.load(Ordering::SeqCst) != before {
            cache.invalidate(&key).await;
        }
        Ok(value)
    }

    /// The user's role in the team, `None` when not a member (or no such team).
    pub async fn role(&self, team: TeamId, user: UserId) -> Result<Option<Role>, ApiError> {
        self.cached(&self.roles, (team, user), role_in(self.db.pool(), team, user)).await
    }

    /// The user's membership of the team, or `not_found` when they are not a member, exactly as when the
    /// team does not exist.
    pub async fn member(&self, team: TeamId, user: UserId) -> Result<Membership, ApiError> {
        match self.role(team, user).await? {
            Some(role) => Ok(Membership { team, user, role }),
            None => Err(ApiError::NotFound(TEAM_NOT_FOUND)),
        }
    }

    /// The team a document (an `automerge:` URL) is registered to, if any; none while it is deleted, so
    /// nobody syncs it.
    pub async fn document_team(&self, url: &str) -> Result<Option<TeamId>, ApiError> {
        self.cached(&self.documents, url.to_owned(), self.document_team_now(url)).await
    }

    /// `document_team` read from the database, not the cache: a change another instance committed and
    /// this one has not heard of yet is seen.
    pub(crate) async fn document_team_now(&self, url: &str) -> Result<Option<TeamId>, ApiError> {
        let team: Option<String> =
            sqlx::query_scalar("SELECT team_id FROM documents WHERE id = $1 AND deleted_at IS NULL")
                .bind(url)
                .fetch_optional(self.db.pool())
                .await?;
        team.map(|t| t.parse().map_err(|e| ApiError::Internal(format!("team id in database: {e}")))).transpose()
    }

    /// `role` read from the database, not the cache (see `document_team_now`).
    pub(crate) async fn role_now(&self, team: TeamId, user: UserId) -> Result<Option<Role>, ApiError> {
        role_in(self.db.pool(), team, user).await
    }

    /// Forgets what the change affects, then tells every subscriber.
    pub async fn apply(&self, change: AccessChange) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        match &change {
            AccessChange::Member { team, user } => self.roles.invalidate(&(*team, *user)).await,
            AccessChange::Document { url } => self.documents.invalidate(url).await,
            AccessChange::Everything => {
                self.roles.invalidate_all();
                self.documents.invalidate_all();
            }
        }
        // No subscribers is fine: nobody is connected.
        self.changes.send(change).ok();
    }

    pub fn subscribe(&self) -> broadcast::Receiver<AccessChange> {
        self.changes.subscribe()
    }
}
