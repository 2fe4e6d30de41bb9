//! What this device shares with whom: with the relay (which applies the team's rules itself) and its own
//! window (`crate::window`) all but the documents of teams this user no longer reads, and with
//! a teammate's device only the documents of teams its certificate names (read only for viewers), kept
//! current as peers are admitted, documents learn their team and teams are forgotten, and decided again when
//! a denied peer asks (the stream's update may not have arrived yet).

use std::collections::HashMap;
use std::sync::Arc;

use futures::Stream;
use libp2p::PeerId;
use samod::{DocumentId, ShareConfig};
use sqlx::SqlitePool;
use teamflow_protocol::Role;
use teamflow_protocol::api::devices::CertificateBody;
use tokio::sync::watch;

/// The devices admitted by the certificate exchange, by libp2p peer id, with what their certificate says.
pub(crate) type Admitted = Arc<HashMap<PeerId, CertificateBody>>;

#[derive(Clone)]
pub(crate) struct PeerSharePolicy {
    db: SqlitePool,
    admitted: watch::Receiver<Admitted>,
    /// Bumped whenever a document learns its team.
    documents: watch::Receiver<u64>,
}

impl std::fmt::Debug for PeerSharePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerSharePolicy").field("admitted", &self.admitted.borrow().len()).finish_non_exhaustive()
    }
}

impl PeerSharePolicy {
    pub(crate) fn new(db: SqlitePool, admitted: watch::Receiver<Admitted>, documents: watch::Receiver<u64>) -> Self {
        Self { db, admitted, documents }
    }

    /// The decision now. A failed lookup denies: access is never granted by accident.
    async fn decide(&self, document: &DocumentId, peer: &samod::PeerId) -> ShareConfig {
        let url = format!("{}{document}", teamflow_protocol::DocumentUrl::PREFIX);
        let own = match peer.as_str() {
            // This device's own window (pinned to this id on its in-process connection): it edits every
            // document, and is sent only those it asks for.
            crate::WINDOW_PEER_ID => Some(ShareConfig::read_write().with_announce(false)),
            // The relay enforces the team's rules on its side.
            teamflow_sync::RELAY_PEER_ID => Some(ShareConfig::read_write()),
            _ => None,
        };
        if let Some(own) = own {
            // Except a document of a team this user no longer reads: the window no longer gets it, and the
            // relay (which takes none of its changes any more) no longer keeps it in memory here.
            return match crate::forgotten::is_forgotten(&self.db, &url).await {
                Ok(false) => own,
                Ok(true) => ShareConfig::none(),
                Err(e) => {
                    // Shared: the relay applies the team's rules itself, and the window opens nothing the
                    // node refuses; denying would stall the document's sync until the next decision.
                    tracing::error!(error = %e, "share decision failed; sharing with this device's own peers");
                    own
                }
            };
        }
        let Some(body) = certified(&self.admitted.borrow(), peer.as_str()) else { return ShareConfig::none() };
        let team: Result<Option<String>, sqlx::Error> =
            sqlx::query_scalar("SELECT team_id FROM document_teams WHERE document_id = ?")
                .bind(&url)
                .fetch_optional(&self.db)
                .await;
        match team {
            Ok(Some(team)) => config_for(body.teams.iter().find(|g| g.team_id.to_string() == team).map(|g| g.role)),
            Ok(None) => ShareConfig::none(),
            Err(e) => {
                tracing::error!(error = %e, "p2p share decision failed; denying");
                ShareConfig::none()
            }
        }
    }
}

/// The certificate of the admitted device behind a sync peer id (`<user id>:<libp2p peer id>`), if the
/// user matches too.
fn certified(admitted: &Admitted, peer: &str) -> Option<CertificateBody> {
    let (user, device) = peer.split_once(':')?;
    let body = admitted.get(&device.parse::<PeerId>().ok()?)?;
    (body.user_id.to_string() == user).then(|| body.clone())
}

/// What a teammate's device may do with a document, by its role in the document's team.
fn config_for(role: Option<Role>) -> ShareConfig {
    match role {
        None => ShareConfig::none(),
        Some(Role::Viewer) => ShareConfig::read_only(),
        Some(_) => ShareConfig::read_write(),
    }
}

impl samod::SharePolicy for PeerSharePolicy {
    fn share(&self, doc_id: DocumentId, peer_id: samod::PeerId) -> impl Stream<Item = ShareConfig> + Send + 'static {
        let policy = self.clone();
        futures::stream::unfold((policy, None::<ShareConfig>), move |(mut policy, last)| {
            let (doc_id, peer_id) = (doc_id.clone(), peer_id.clone());
            async move {
                if last.is_none() {
                    // What the receivers hold now is what this decision reads: only later changes call for another.
                    policy.admitted.borrow_and_update();
                    policy.documents.borrow_and_update();
                    let decision = policy.decide(&doc_id, &peer_id).await;
                    return Some((decision, (policy, Some(decision))));
                }
                loop {
                    tokio::select! {
                        changed = policy.admitted.changed() => changed.ok()?,
                        changed = policy.documents.changed() => changed.ok()?,
                    }
                    let decision = policy.decide(&doc_id, &peer_id).await;
                    if Some(decision) != last {
                        return Some((decision, (policy, Some(decision))));
                    }
                }
            }
        })
    }

    /// A peer this stream denies asked for the document: decide again now, since a grant made a moment ago
    /// (a device just admitted, a rejoined team's documents listed again) may not have reached the stream.
    fn recheck(
        &self,
        doc_id: DocumentId,
        peer_id: samod::PeerId,
    ) -> impl Future<Output = Option<ShareConfig>> + Send + 'static {
        let policy = self.clone();
        async move { Some(policy.decide(&doc_id, &peer_id).await) }
    }
}

#[cfg(test)]
mod tests {
    use teamflow_protocol::api::devices::TeamGrant;
    use teamflow_protocol::{TeamId, UserId};

    use super::*;

    #[test]
    fn a_sync_peer_id_must_name_the_certified_user_and_device() {
        let (device, user) = (PeerId::random(), UserId::new());
        let body = CertificateBody {
            user_id: user,
            peer_id: device.to_base58(),
            teams: vec![TeamGrant { team_id: TeamId::new(), role: Role::Member }],
            issued_at: 0,
            expires_at: 1,
            epoch: 0,
        };
        let admitted: Admitted = Arc::new(HashMap::from([(device, body)]));
        assert!(certified(&admitted, &format!("{user}:{device}")).is_some());
        assert!(certified(&admitted, &format!("{}:{device}", UserId::new())).is_none(), "another user");
        assert!(certified(&admitted, &format!("{user}:{}", PeerId::random())).is_none(), "another device");
        assert!(certified(&admitted, &format!("{user}")).is_none());
        assert!(certified(&admitted, "teamflow-relay").is_none());
    }

    #[test]
    fn viewers_read_and_others_outside_the_team_get_nothing() {
        assert_eq!(config_for(None), ShareConfig::none());
        assert_eq!(config_for(Some(Role::Viewer)), ShareConfig::read_only());
        for role in [Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(config_for(Some(role)), ShareConfig::read_write());
        }
    }
}
