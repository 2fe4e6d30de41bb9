//! The swarm task: the one owner of the swarm, driven by the `P2p` handle's commands, the certificates
//! peers present and the swarm's events. It dials the relay and teammates, admits or refuses peers, opens
//! document streams to the admitted ones and publishes `P2pStatus`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, mdns, relay};
use samod::{AcceptorHandle, BackoffConfig, DialerHandle, Repo};
use teamflow_protocol::UserId;
use teamflow_protocol::api::devices::{CertificateBody, CertificateError, DeviceCertificate, Revocation};
use tokio::sync::{mpsc, oneshot, watch};

use super::streams::{Context, PeerDialer, sync_peer_id};
use super::swarm::{Behaviour, BehaviourEvent};
use super::{Admitted, P2pError, P2pStatus, PeerLink, Refusal, RelayPeer, certificates};

/// The relay's libp2p node is dialed again this long after an attempt, while not connected.
const RELAY_REDIAL: Duration = Duration::from_secs(5);

/// A refused peer is not dialed again (on mDNS news, say) for this long.
const REFUSED_BACKOFF: Duration = Duration::from_secs(60);

pub(super) enum Command {
    Dial(Vec<Multiaddr>, oneshot::Sender<Result<(), P2pError>>),
    DialDevices(Vec<PeerId>),
    Present(Box<DeviceCertificate>),
    Revoke(Vec<Revocation>),
}

/// What the swarm task starts from.
pub(super) struct Parts {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) context: Context,
    pub(super) repo: Repo,
    pub(super) acceptor: AcceptorHandle,
    pub(super) mine: DeviceCertificate,
    pub(super) relay_key: [u8; 32],
    pub(super) relay: Option<RelayPeer>,
    pub(super) admitted: watch::Sender<Admitted>,
    pub(super) status: watch::Sender<P2pStatus>,
}

/// The one owner of the swarm.
pub(super) struct SwarmTask {
    swarm: Swarm<Behaviour>,
    context: Context,
    repo: Repo,
    acceptor: AcceptorHandle,
    mine: DeviceCertificate,
    relay_key: [u8; 32],
    relay: Option<RelayPeer>,
    admitted: watch::Sender<Admitted>,
    status: watch::Sender<P2pStatus>,
    /// Connected peers that have not been admitted yet, with their deadline.
    pending: HashMap<PeerId, Instant>,
    /// samod dialers for the admitted peers this side opens document streams to.
    dialers: HashMap<PeerId, DialerHandle<std::io::Error>>,
    /// Open connections per peer, and whether each goes through the relay's circuit.
    connections: HashMap<PeerId, HashMap<ConnectionId, bool>>,
    refused_at: HashMap<PeerId, Instant>,
    /// The relay address that worked (the relay publishes several; not all reach it from every network).
    relay_address: Option<Multiaddr>,
    relay_dialed_at: Option<Instant>,
    /// Our listener on the relay's circuit, while we hold (or are asking for) a reservation.
    circuit_listener: Option<libp2p::core::transport::ListenerId>,
    /// Devices to dial through the circuit once the relay is reached.
    waiting_for_relay: Vec<PeerId>,
    /// The newest certificate epoch known per user (from the relay's revocation feed, or from a certificate
    /// seen): certificates below it are refused, so the newest certificate of a user wins.
    epochs: HashMap<UserId, i64>,
}

impl SwarmTask {
    /// A swarm task with nothing connected, pending or refused yet.
    pub(super) fn new(parts: Parts) -> Self {
        let Parts { swarm, context, repo, acceptor, mine, relay_key, relay, admitted, status } = parts;
        Self {
            swarm,
            context,
            repo,
            acceptor,
            mine,
            relay_key,
            relay,
            admitted,
            status,
            pending: HashMap::new(),
            dialers: HashMap::new(),
            connections: HashMap::new(),
            refused_at: HashMap::new(),
            relay_address: None,
            relay_dialed_at: None,
            circuit_listener: None,
            waiting_for_relay: Vec::new(),
            epochs: HashMap::new(),
        }
    }

    pub(super) async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut certificates: mpsc::Receiver<(PeerId, Result<DeviceCertificate, Refusal>)>,
    ) {
        let mut sweep = tokio::time::interval(Duration::from_secs(1));
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.dial_relay();
        loop {
            tokio::select! {
                () = self.context.stop.cancelled() => break,
                Some(command) = commands.recv() => self.command(command),
                Some((peer, certificate)) = certificates.recv() => self.decide(peer, certificate),
                event = self.swarm.select_next_some() => self.event(event),
                _ = sweep.tick() => self.sweep(),
            }
        }
        for dialer in self.dialers.values() {
            dialer.close();
        }
        self.acceptor.close();
        self.admitted.send_replace(Admitted::default());
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Dial(addresses, reply) => {
                let mut outcome = Ok(());
                for address in addresses {
                    if let Err(e) = self.swarm.dial(address) {
                        outcome = Err(P2pError::Transport(e.to_string()));
                    }
                }
                // The caller may have given up waiting; the dial goes on regardless.
                if reply.send(outcome).is_err() {
                    tracing::debug!("dial requested and abandoned");
                }
            }
            Command::DialDevices(devices) => {
                let Some(relay) = self.relay.clone() else { return };
                let Some(relay_address) = self.relay_address.clone() else {
                    self.waiting_for_relay.extend(devices);
                    return;
                };
                for device in devices {
                    if device == *self.swarm.local_peer_id()
                        || self.swarm.is_connected(&device)
                        || self.recently_refused(&device)
                    {
                        continue;
                    }
                    let circuit = relay_address
                        .clone()
                        .with(Protocol::P2p(relay.peer_id))
                        .with(Protocol::P2pCircuit)
                        .with(Protocol::P2p(device));
                    let opts = DialOpts::peer_id(device)
                        .addresses(vec![circuit])
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build();
                    if let Err(e) = self.swarm.dial(opts) {
                        tracing::debug!(%device, error = %e, "could not dial a teammate's device through the relay");
                    }
                }
            }
            Command::Revoke(revocations) => {
                for revocation in revocations {
                    self.raise_epoch(revocation.user_id, revocation.epoch);
                }
            }
            Command::Present(certificate) => {
                self.raise_epoch(certificate.body.user_id, certificate.body.epoch);
                self.mine = *certificate;
                let peers: Vec<PeerId> = self.connections.keys().copied().collect();
                for peer in peers {
                    self.present_to(peer);
                }
            }
        }
    }

    /// Dials the relay's libp2p node at every address it publishes (the first that answers wins), unless
    /// connected or dialed within the last few seconds.
    fn dial_relay(&mut self) {
        let Some(relay) = self.relay.clone() else { return };
        if self.relay_dialed_at.is_some_and(|at| at.elapsed() < RELAY_REDIAL) {
            return;
        }
        if self.swarm.is_connected(&relay.peer_id) {
            // Connected, but the reservation was lost (the relay refused or expired it): ask again.
            if self.circuit_listener.is_none()
                && let Some(address) = self.relay_address.clone()
            {
                self.relay_dialed_at = Some(Instant::now());
                self.relay_reached(address);
            }
            return;
        }
        self.relay_dialed_at = Some(Instant::now());
        let opts = DialOpts::peer_id(relay.peer_id)
            .addresses(relay.addresses.clone())
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(error = %e, "could not dial the relay's libp2p node");
        }
    }

    /// Once connected to the relay: reserve a slot on its circuit and dial the devices that waited.
    fn relay_reached(&mut self, address: Multiaddr) {
        let Some(relay) = self.relay.clone() else { return };
        // The address without any `/p2p/...` suffix.
        let address: Multiaddr = address.iter().take_while(|p| !matches!(p, Protocol::P2p(_))).collect();
        self.relay_address = Some(address.clone());
        if self.circuit_listener.is_none() {
            let circuit = address.with(Protocol::P2p(relay.peer_id)).with(Protocol::P2pCircuit);
            match self.swarm.listen_on(circuit) {
                Ok(id) => self.circuit_listener = Some(id),
                Err(e) => tracing::info!(error = %e, "could not ask the relay for a reservation"),
            }
        }
        let waiting = std::mem::take(&mut self.waiting_for_relay);
        if !waiting.is_empty() {
            self.command(Command::DialDevices(waiting));
        }
    }

    fn is_relay(&self, peer: &PeerId) -> bool {
        self.relay.as_ref().is_some_and(|r| r.peer_id == *peer)
    }

    fn recently_refused(&self, peer: &PeerId) -> bool {
        self.refused_at.get(peer).is_some_and(|at| at.elapsed() < REFUSED_BACKOFF)
    }

    fn present_to(&self, peer: PeerId) {
        let (control, certificate) = (self.context.control.clone(), self.mine.clone());
        let stop = self.context.stop.clone();
        self.context.tasks.spawn(async move {
            tokio::select! {
                presented = certificates::present(control, peer, &certificate) => {
                    if let Err(e) = presented {
                        tracing::debug!(%peer, error = %e, "could not present our certificate");
                    }
                }
                () = stop.cancelled() => {}
            }
        });
    }

    /// Learns that certificates of `user` below `epoch` are void: admitted devices holding one are refused.
    fn raise_epoch(&mut self, user: UserId, epoch: i64) {
        let floor = self.epochs.entry(user).or_default();
        if *floor >= epoch {
            return;
        }
        *floor = epoch;
        let stale: Vec<PeerId> = self
            .admitted
            .borrow()
            .iter()
            .filter(|(_, body)| body.user_id == user && body.epoch < epoch)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in stale {
            self.refuse(peer, Refusal::Certificate(CertificateError::Revoked));
        }
    }

    /// Whether a newer certificate of the same user has been seen, or the relay revoked this one.
    fn revoked(&self, body: &CertificateBody) -> bool {
        self.epochs.get(&body.user_id).is_some_and(|floor| body.epoch < *floor)
    }

    /// Admits a peer whose certificate checks out; refuses (and disconnects) any other.
    fn decide(&mut self, peer: PeerId, certificate: Result<DeviceCertificate, Refusal>) {
        if !self.swarm.is_connected(&peer) {
            return;
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let admission = certificate
            .and_then(|c| certificates::admit(&c, &self.relay_key, &peer, &self.mine.body, now))
            .and_then(|body| {
                if self.revoked(&body) { Err(Refusal::Certificate(CertificateError::Revoked)) } else { Ok(body) }
            });
        match admission {
            Ok(body) => {
                // The newest certificate of a user wins: its other devices' older ones are refused.
                self.raise_epoch(body.user_id, body.epoch);
                self.pending.remove(&peer);
                let user_id = body.user_id;
                let expected = sync_peer_id(&body, &peer);
                self.admitted.send_modify(|admitted| {
                    Arc::make_mut(admitted).insert(peer, body);
                });
                tracing::info!(%peer, %user_id, "teammate's device admitted");
                // One side opens the document stream: the smaller peer id.
                if *self.swarm.local_peer_id() < peer
                    && !self.dialers.contains_key(&peer)
                    && let Ok(url) = url::Url::parse(&format!("teamflow-p2p://{peer}"))
                {
                    let dialer = PeerDialer { peer, url, expected, context: self.context.clone() };
                    let backoff = BackoffConfig {
                        initial_delay: Duration::from_millis(50),
                        max_delay: Duration::from_secs(2),
                        max_retries: None,
                    };
                    match self.repo.dial(backoff, Arc::new(dialer)) {
                        Ok(handle) => {
                            self.dialers.insert(peer, handle);
                        }
                        Err(_) => tracing::debug!("repo stopped; not syncing with the new peer"),
                    }
                }
                self.publish();
            }
            Err(refusal) => self.refuse(peer, refusal),
        }
    }

    fn refuse(&mut self, peer: PeerId, refusal: Refusal) {
        tracing::info!(%peer, %refusal, "peer refused; disconnecting");
        self.pending.remove(&peer);
        self.forget(&peer);
        self.refused_at.insert(peer, Instant::now());
        self.status.send_modify(|s| {
            s.refused.insert(peer, refusal);
        });
        if self.swarm.disconnect_peer_id(peer).is_err() {
            tracing::debug!(%peer, "refused peer was already gone");
        }
        self.publish();
    }

    /// Drops what we hold for a peer: its admission and its dialer.
    fn forget(&mut self, peer: &PeerId) {
        if let Some(dialer) = self.dialers.remove(peer) {
            dialer.close();
        }
        if self.admitted.borrow().contains_key(peer) {
            self.admitted.send_modify(|admitted| {
                Arc::make_mut(admitted).remove(peer);
            });
        }
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, connection_id, endpoint, num_established, .. } => {
                self.connections.entry(peer_id).or_default().insert(connection_id, endpoint.is_relayed());
                if self.is_relay(&peer_id) {
                    if endpoint.is_dialer() {
                        self.relay_reached(endpoint.get_remote_address().clone());
                    }
                } else if num_established.get() == 1 {
                    self.pending.insert(peer_id, Instant::now() + self.context.admission_deadline);
                    self.present_to(peer_id);
                }
                self.publish();
            }
            SwarmEvent::ConnectionClosed { peer_id, connection_id, num_established, .. } => {
                if let Some(open) = self.connections.get_mut(&peer_id) {
                    open.remove(&connection_id);
                }
                if num_established == 0 {
                    self.connections.remove(&peer_id);
                    self.pending.remove(&peer_id);
                    self.forget(&peer_id);
                }
                self.publish();
            }
            SwarmEvent::NewListenAddr { .. } | SwarmEvent::ExpiredListenAddr { .. } => self.publish(),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
                for (peer, address) in found {
                    by_peer.entry(peer).or_default().push(address);
                }
                for (peer, addresses) in by_peer {
                    if self.swarm.is_connected(&peer) || self.recently_refused(&peer) {
                        continue;
                    }
                    let opts = DialOpts::peer_id(peer)
                        .addresses(addresses)
                        .condition(PeerCondition::DisconnectedAndNotDialing)
                        .build();
                    if let Err(e) = self.swarm.dial(opts) {
                        tracing::debug!(%peer, error = %e, "could not dial a device found on the local network");
                    }
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Relay(relay::client::Event::ReservationReqAccepted { .. })) => {
                self.status.send_if_modified(|s| !std::mem::replace(&mut s.reachable_via_relay, true));
            }
            SwarmEvent::ListenerClosed { listener_id, reason, .. } => {
                if self.circuit_listener == Some(listener_id) {
                    self.circuit_listener = None;
                    tracing::info!(?reason, "relay circuit reservation ended");
                    self.status.send_if_modified(|s| std::mem::replace(&mut s.reachable_via_relay, false));
                }
                self.publish();
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(event)) => {
                tracing::debug!(?event, "hole punching");
            }
            _ => {}
        }
    }

    /// Disconnects peers past their admission deadline and admitted peers whose certificate expired.
    fn sweep(&mut self) {
        // The relay may have restarted, or the network changed: keep trying to reach it.
        self.dial_relay();
        let now = Instant::now();
        let late: Vec<PeerId> =
            self.pending.iter().filter(|(_, deadline)| **deadline <= now).map(|(p, _)| *p).collect();
        for peer in late {
            self.refuse(peer, Refusal::Missing);
        }
        let unix = time::OffsetDateTime::now_utc().unix_timestamp();
        let expired: Vec<PeerId> =
            self.admitted.borrow().iter().filter(|(_, body)| body.expires_at <= unix).map(|(p, _)| *p).collect();
        for peer in expired {
            self.refuse(peer, Refusal::Certificate(CertificateError::Expired));
        }
    }

    fn publish(&self) {
        let admitted = self.admitted.borrow().clone();
        let peers = admitted
            .iter()
            .map(|(peer, body)| {
                let relayed = self.connections.get(peer).is_some_and(|c| !c.is_empty() && c.values().all(|r| *r));
                (*peer, PeerLink { peer_id: *peer, user_id: body.user_id, relayed })
            })
            .collect();
        let listening: Vec<Multiaddr> = self.swarm.listeners().cloned().collect();
        self.status.send_if_modified(|s| {
            let changed = s.peers != peers || s.listening != listening;
            s.peers = peers;
            s.listening = listening;
            changed
        });
    }
}
