//! Who may sync which document: the SharePolicy that turns the SQL registry and team roles into samod
//! share decisions, keeps them current on live connections, and decides again when a denied peer asks.
//!
//! Members (and admins, owners) read and write; viewers read only; anyone else, including peers whose id
//! names no user, is denied exactly as if the document did not exist. The relay never announces.

use futures::Stream;
use samod::{DocumentId, PeerId, ShareConfig};
use teamflow_protocol::{Role, UserId};
use tokio::sync::broadcast::error::RecvError;

use crate::access::{Access, AccessChange};

#[derive(Clone, Debug)]
pub struct TeamSharePolicy {
    access: Access,
}

impl TeamSharePolicy {
    pub fn new(access: Access) -> Self {
        Self { access }
    }
}

/// What a role may do with a document of its team.
pub(crate) fn config_for(role: Option<Role>) -> ShareConfig {
    match role {
        None => ShareConfig::none(),
        Some(Role::Viewer) => ShareConfig::read_only().with_announce(false),
        Some(_) => ShareConfig::read_write().with_announce(false),
    }
}

impl TeamSharePolicy {
    /// The decision now. Failures to look it up deny: access is never granted by accident.
    async fn decide(&self, url: &str, user: Option<UserId>) -> ShareConfig {
        let Some(user) = user else { return ShareConfig::none() };
        let role = async {
            let Some(team) = self.access.document_team(url).await? else { return Ok(None) };
            self.access.role(team, user).await
        };
        match role.await {
            Ok(role) => config_for(role),
            Err(e) => {
                tracing::error!(error = %e, url, %user, "share decision failed; denying");
                ShareConfig::none()
            }
        }
    }
}

impl TeamSharePolicy {
    /// `decide` from the database rather than the cache. Where the two disagree, the cache is behind (a
    /// change through another instance, not heard of yet): the part that is behind (the document's team,
    /// the user's role) is dropped from it and every stream told, as when the change is heard of, and the
    /// decision is taken again through the refreshed cache, so a revocation heard of while the database was
    /// read is not undone by what the read found. Failures deny, as in `decide`.
    async fn decide_now(&self, url: &str, user: Option<UserId>) -> ShareConfig {
        let Some(user) = user else { return ShareConfig::none() };
        let now = async {
            let Some(team) = self.access.document_team_now(url).await? else { return Ok((None, None)) };
            Ok::<_, crate::error::ApiError>((Some(team), self.access.role_now(team, user).await?))
        };
        let (team, role) = match now.await {
            Ok(now) => now,
            Err(e) => {
                tracing::error!(error = %e, url, %user, "share decision failed; denying");
                return ShareConfig::none();
            }
        };
        // A cache lookup that fails is not taken for a disagreement: nothing is refreshed on a hiccup.
        let mut refreshed = false;
        if self.access.document_team(url).await.is_ok_and(|cached| cached != team) {
            self.access.apply(AccessChange::Document { url: url.to_owned() }).await;
            refreshed = true;
        }
        if let Some(team) = team
            && self.access.role(team, user).await.is_ok_and(|cached| cached != role)
        {
            self.access.apply(AccessChange::Member { team, user }).await;
            refreshed = true;
        }
        if refreshed {
            tracing::info!(url, %user, "the access cache was behind the database; refreshed");
            return self.decide(url, Some(user)).await;
        }
        config_for(role)
    }

    /// Whether `user` may read the document now (viewers included), as the cache says.
    pub(crate) async fn may_read(&self, url: &str, user: UserId) -> bool {
        self.decide(url, Some(user)).await != ShareConfig::none()
    }

    /// `may_read` from the database (`decide_now`): for a request the cache refuses, which a grant through
    /// another instance not heard of yet may allow.
    pub(crate) async fn may_read_now(&self, url: &str, user: UserId) -> bool {
        self.decide_now(url, Some(user)).await != ShareConfig::none()
    }

    /// Whether `user` may read and write the document now.
    pub(crate) async fn may_write(&self, url: &str, user: UserId) -> bool {
        self.decide(url, Some(user)).await == config_for(Some(Role::Member))
    }
}

impl samod::SharePolicy for TeamSharePolicy {
    fn share(&self, doc_id: DocumentId, peer_id: PeerId) -> impl Stream<Item = ShareConfig> + Send + 'static {
        let policy = self.clone();
        let url = format!("automerge:{doc_id}");
        let user = super::peer_user(peer_id.as_str());
        // Subscribe before the first decision, so no change can slip between deciding and listening.
        let changes = self.access.subscribe();
        futures::stream::unfold((policy, url, user, changes, None::<ShareConfig>), |state| async move {
            let (policy, url, user, mut changes, last) = state;
            if last.is_none() {
                let decision = policy.decide(&url, user).await;
                return Some((decision, (policy, url, user, changes, Some(decision))));
            }
            loop {
                let relevant = match changes.recv().await {
                    Ok(AccessChange::Member { user: changed, .. }) => Some(changed) == user,
                    Ok(AccessChange::Document { url: changed }) => changed == url,
                    // Missed some, or anything may have changed: re-check rather than guess.
                    Ok(AccessChange::Everything) | Err(RecvError::Lagged(_)) => true,
                    // The relay is stopping; the last decision stands until the connection closes.
                    Err(RecvError::Closed) => return None,
                };
                if relevant {
                    let decision = policy.decide(&url, user).await;
                    if Some(decision) != last {
                        return Some((decision, (policy, url, user, changes, Some(decision))));
                    }
                }
            }
        })
    }

    /// A peer this stream denies asked for the document: decide again now, from the database. Its access may
    /// have been granted a moment ago (a removed member rejoined) and the stream not have caught up, or the
    /// grant was committed through another instance this one has not heard from yet (its cache still says
    /// "not a member"): the rejoined device's request would be refused as if the document did not exist.
    /// samod keeps the stream's decision if the stream yields meanwhile, and subscribes again when this
    /// answer changes it.
    fn recheck(
        &self,
        doc_id: DocumentId,
        peer_id: PeerId,
    ) -> impl Future<Output = Option<ShareConfig>> + Send + 'static {
        let policy = self.clone();
        let url = format!("automerge:{doc_id}");
        let user = super::peer_user(peer_id.as_str());
        async move { Some(policy.decide_now(&url, user).await) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_share_decisions() {
        assert_eq!(config_for(None), ShareConfig::none());
        assert_eq!(config_for(Some(Role::Viewer)), ShareConfig::read_only().with_announce(false));
        for role in [Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(config_for(Some(role)), ShareConfig::read_write().with_announce(false));
        }
    }
}
