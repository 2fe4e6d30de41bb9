//! Peer-to-peer sync from the node's side: starting the swarm with this device's certificate and the
//! relay's key, pointing it at teammates' devices the relay knows of, and presenting renewed certificates.

use std::time::Duration;

use libp2p::{Multiaddr, PeerId};
use reqwest::Method;
use teamflow_protocol::api::devices::{DeviceCertificate, RelayIdentity, Revocations, TeamDevices};
use teamflow_sync::Backoff;

use crate::p2p::{self, P2p, P2pConfig, RelayPeer};
use crate::{Node, NodeError};

impl Node {
    /// Starts peer-to-peer sync (once; later calls answer the running swarm). Needs a certificate: from the
    /// relay, or the kept one while the relay is unreachable and it is still valid.
    pub async fn start_p2p(&self, config: P2pConfig) -> Result<P2p, NodeError> {
        let mut running = self.p2p.lock().await;
        if let Some(p2p) = running.as_ref() {
            return Ok(p2p.clone());
        }
        let certificate = self.device_certificate().await?;
        let identity = self.relay_identity().await?;
        let relay_key = crate::device::certificate_key(&identity)?;
        let relay = identity.libp2p.as_ref().and_then(|node| {
            let peer_id = node.peer_id.parse::<PeerId>().ok()?;
            let addresses = node.addresses.iter().filter_map(|a| a.parse::<Multiaddr>().ok()).collect();
            Some(RelayPeer { peer_id, addresses })
        });
        let repo = self.with_repo().await?;
        let p2p = P2p::start(p2p::Start {
            keypair: self.device_keypair(),
            repo,
            certificate,
            relay_key,
            relay,
            admitted: self.admitted.clone(),
            config,
        })
        .await?;
        *running = Some(p2p.clone());
        drop(running);
        self.find_teammates().await?;
        Ok(p2p)
    }

    /// The running swarm, if started.
    pub async fn p2p(&self) -> Option<P2p> {
        self.p2p.lock().await.clone()
    }

    /// Stops peer-to-peer sync; documents keep syncing through the relay while it is reachable.
    pub async fn stop_p2p(&self) {
        if let Some(p2p) = self.p2p.lock().await.take() {
            p2p.stop().await;
        }
    }

    /// Dials, through the relay's circuit, the devices of this user's teams that the relay has certified
    /// (the last known list while offline). Nothing to do before `start_p2p`.
    pub async fn find_teammates(&self) -> Result<(), NodeError> {
        let Some(p2p) = self.p2p().await else { return Ok(()) };
        let mut devices = Vec::new();
        for team in self.teams().await? {
            match self.read_through::<TeamDevices>(&format!("/api/teams/{}/devices", team.id)).await {
                Ok(list) => devices.extend(list.devices.iter().filter_map(|d| d.peer_id.parse::<PeerId>().ok())),
                Err(NodeError::NotCached(e)) => tracing::debug!(error = %e, "teammates' devices not known yet"),
                Err(e) => return Err(e),
            }
        }
        devices.sort();
        devices.dedup();
        Ok(p2p.dial_devices(devices).await?)
    }

    /// Runs peer-to-peer sync for as long as the node is signed in; run it as a background task. Starts
    /// the swarm as soon as there is a certificate (retrying while there is none: a first start needs the
    /// relay), then every `config.peering_check`: follows the relay's revocation feed (teammates' devices
    /// with revoked certificates are dropped; a revocation of this user renews this device's certificate
    /// at once), renews the certificate at half-life, presents a new one to connected peers, and dials
    /// teammates' devices the relay has newly certified.
    pub async fn keep_peering(&self, config: P2pConfig) {
        let check = config.peering_check;
        let mut backoff = Backoff::new(Duration::from_millis(500), check);
        loop {
            match self.start_p2p(config.clone()).await {
                Ok(_) => break,
                Err(NodeError::SignedOut) => return,
                Err(e) => tracing::info!(error = %e, "peer-to-peer sync not started yet; will retry"),
            }
            backoff.wait().await;
        }
        let mut presented = self.device_certificate().await.ok();
        let mut since = 0;
        let mut every = tokio::time::interval(check);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        every.tick().await;
        loop {
            every.tick().await;
            let revoked_me = match self.follow_revocations(&mut since, presented.as_ref()).await {
                Ok(revoked_me) => revoked_me,
                Err(e) => {
                    tracing::debug!(error = %e, "could not read the relay's revocation feed");
                    false
                }
            };
            if let Err(e) = self.find_teammates().await {
                tracing::debug!(error = %e, "could not look for teammates' devices");
            }
            let renewed =
                if revoked_me { self.renew_device_certificate().await } else { self.device_certificate().await };
            let certificate = match renewed {
                Ok(certificate) => certificate,
                Err(NodeError::SignedOut) => return,
                Err(e) => {
                    tracing::info!(error = %e, "could not renew the device certificate; keeping the current one");
                    continue;
                }
            };
            if presented.as_ref() == Some(&certificate) {
                continue;
            }
            if let Some(p2p) = self.p2p().await
                && let Err(e) = p2p.present(certificate.clone()).await
            {
                tracing::debug!(error = %e, "peer-to-peer node stopped; nothing to present to");
            }
            presented = Some(certificate);
        }
    }

    /// Reads the relay's revocation feed after `since` (moving it on) and hands what it says to the swarm.
    /// Answers whether it revokes `mine`, this device's own certificate.
    async fn follow_revocations(&self, since: &mut i64, mine: Option<&DeviceCertificate>) -> Result<bool, NodeError> {
        let Some(p2p) = self.p2p().await else { return Ok(false) };
        let mut revoked_me = false;
        loop {
            let page: Revocations =
                self.authed(Method::GET, &format!("/api/devices/revocations?since={since}"), None::<&()>).await?;
            if page.revocations.is_empty() {
                return Ok(revoked_me);
            }
            revoked_me |= mine.is_some_and(|mine| {
                page.revocations.iter().any(|r| r.user_id == mine.body.user_id && r.epoch > mine.body.epoch)
            });
            *since = page.next;
            p2p.revoke(page.revocations).await?;
        }
    }

    /// Waits until an admitted teammate device `peer` syncs documents with this one (samod's handshake on
    /// the document stream is done); it may have to be admitted first.
    pub async fn syncing_with(&self, peer: PeerId) -> Result<(), NodeError> {
        let mut admitted = self.admitted.subscribe();
        let user = admitted
            .wait_for(|a| a.contains_key(&peer))
            .await
            .map_err(|_| p2p::P2pError::Stopped)?
            .get(&peer)
            .map(|body| body.user_id)
            .ok_or(p2p::P2pError::Stopped)?;
        let repo = self.with_repo().await?;
        repo.when_connected(samod::PeerId::from(format!("{user}:{peer}")))
            .await
            .map_err(|_| NodeError::Sync("the sync repo has stopped".into()))?;
        Ok(())
    }

    /// What the relay publishes for peer-to-peer sync (the last known answer while offline).
    pub(crate) async fn relay_identity(&self) -> Result<RelayIdentity, NodeError> {
        self.read_through("/api/devices/relay").await
    }
}
