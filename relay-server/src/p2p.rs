//! The relay's libp2p node: a circuit relay (v2) server for teammates' devices that cannot reach each other
//! directly, with identify and autonat so devices learn their public addresses and can hole-punch.
//!
//! Only devices holding a current, unrevoked certificate from this relay may hold a reservation or open a
//! circuit, a circuit joins only two devices whose certificates share a team, and circuits are sized for
//! syncing documents (the libp2p default of 128 KiB per circuit is not), yet bounded in number, duration
//! and bytes.
//!
//! libp2p's relay asks its rate limiters about a circuit's source only, so the destination is checked when
//! the relay reports the circuit accepted: a source asking for a device outside its teams is disconnected
//! at once (ending every circuit it holds) and refused circuits for a while. A device whose certificate is
//! revoked or expires is disconnected by a sweep every second, which ends its reservation and circuits.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, Swarm, autonat, connection_limits, identify, memory_connection_limits, noise, ping, relay, tcp,
    yamux,
};
use teamflow_protocol::api::devices::RelayNode;
use tokio_util::sync::CancellationToken;

use crate::access::{Access, AccessChange};
use crate::auth::SigningKeys;
use crate::config::P2pOptions;
use crate::devices::{CertificateIssuer, Certified};

/// A device that asked for a circuit to a device outside its teams gets no circuit for this long.
const STRAY_BAN: Duration = Duration::from_secs(60);

/// Devices refused circuits until the instant given, for asking for a stranger.
type Banned = Arc<Mutex<HashMap<PeerId, Instant>>>;

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    memory: memory_connection_limits::Behaviour,
    relay: relay::Behaviour,
    identify: identify::Behaviour,
    autonat: autonat::Behaviour,
    ping: ping::Behaviour,
}

/// Why the libp2p node did not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

/// The running node. The task ends at `shutdown`.
#[derive(Debug)]
pub struct P2pNode {
    task: tokio::task::JoinHandle<()>,
}

impl P2pNode {
    /// Waits for the node to stop (after the shutdown token is cancelled).
    pub async fn stopped(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "libp2p node ended abnormally");
        }
    }
}

/// Starts the node on `options.listen`, waiting until every listener has an address, and publishes where
/// it listens through `issuer` (kept current as interfaces come and go).
pub async fn start(
    keys: &SigningKeys,
    options: &P2pOptions,
    issuer: Arc<CertificateIssuer>,
    revocations: (crate::db::Db, Access),
    shutdown: CancellationToken,
) -> Result<P2pNode, StartError> {
    let failed = |e: &dyn std::fmt::Display| StartError(e.to_string());
    let address = |a: &String| a.parse::<Multiaddr>().map_err(|e| StartError(format!("{a} is not a multiaddr: {e}")));
    let listen: Vec<Multiaddr> = options.listen.iter().map(address).collect::<Result<_, _>>()?;
    let external: Vec<Multiaddr> = options.external.iter().map(address).collect::<Result<_, _>>()?;
    let mut secret = keys.secret_bytes();
    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(&mut secret).map_err(|e| failed(&e))?;
    let peer_id = keypair.public().to_peer_id();
    let banned = Banned::default();
    let relay_config = relay_config(options, issuer.certified(), banned.clone());
    let max_connections = options.max_connections;
    let mut swarm: Swarm<Behaviour> = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| failed(&e))?
        .with_quic()
        .with_behaviour(|key| {
            let local = key.public().to_peer_id();
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established(Some(max_connections))
                .with_max_established_per_peer(Some(8))
                .with_max_pending_incoming(Some(128));
            Behaviour {
                limits: connection_limits::Behaviour::new(limits),
                // New connections are refused while the relay uses most of the machine's memory.
                memory: memory_connection_limits::Behaviour::with_max_percentage(0.8),
                relay: relay::Behaviour::new(local, relay_config),
                identify: identify::Behaviour::new(identify::Config::new("/teamflow/1".into(), key.public())),
                autonat: autonat::Behaviour::new(local, autonat::Config::default()),
                ping: ping::Behaviour::new(ping::Config::new()),
            }
        })
        .map_err(|e| failed(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    for address in &listen {
        swarm.listen_on(address.clone()).map_err(|e| failed(&e))?;
    }
    // Wait for each listener's first address: published addresses must be dialable.
    let mut addresses = Vec::new();
    let ready = async {
        while addresses.len() < listen.len() {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => addresses.push(address),
                SwarmEvent::ListenerError { error, .. } => return Err(failed(&error)),
                SwarmEvent::ListenerClosed { reason: Err(error), .. } => return Err(failed(&error)),
                _ => {}
            }
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(10), ready)
        .await
        .map_err(|_| StartError("the listeners did not start in time".into()))??;
    let certified = issuer.certified();
    let (db, access) = revocations;
    // Subscribed before the node serves anyone, so no membership change after this point is missed.
    let changes = access.subscribe();
    tokio::spawn(follow_revocations(issuer.clone(), db, changes, shutdown.clone()));
    let mut published = Published { peer_id, issuer, fixed: !external.is_empty(), addresses: Vec::new() };
    for address in if external.is_empty() { addresses } else { external } {
        published.add(&mut swarm, address);
    }
    tracing::info!(%peer_id, addresses = ?published.addresses, "libp2p circuit relay listening");
    let guard = Guard { certified, banned, served: HashSet::new() };
    let task = tokio::spawn(drive(swarm, published, guard, shutdown));
    Ok(P2pNode { task })
}

/// The addresses the REST API publishes for the node.
struct Published {
    peer_id: PeerId,
    issuer: Arc<CertificateIssuer>,
    /// Configured external addresses only, whatever the node listens on.
    fixed: bool,
    addresses: Vec<Multiaddr>,
}

impl Published {
    fn add(&mut self, swarm: &mut Swarm<Behaviour>, address: Multiaddr) {
        if self.addresses.contains(&address) {
            return;
        }
        // The relay server takes reservations only once it has a confirmed external address; without one
        // configured, the listening addresses are what it publishes and so what devices dial.
        swarm.add_external_address(address.clone());
        self.addresses.push(address);
        self.publish();
    }

    fn remove(&mut self, swarm: &mut Swarm<Behaviour>, address: &Multiaddr) {
        swarm.remove_external_address(address);
        self.addresses.retain(|a| a != address);
        self.publish();
    }

    fn publish(&self) {
        let addresses = self.addresses.iter().map(Multiaddr::to_string).collect();
        self.issuer.set_node(RelayNode { peer_id: self.peer_id.to_base58(), addresses });
    }
}

/// How often an instance on a shared database reads the certified devices again.
const SHARED_RECORD_RELOAD: Duration = Duration::from_secs(1);

/// Keeps the circuit's record of certified devices up with membership changes: each committed change may
/// have raised a user's epoch, voiding their certificates.
async fn follow_revocations(
    issuer: Arc<CertificateIssuer>,
    db: crate::db::Db,
    mut changes: tokio::sync::broadcast::Receiver<AccessChange>,
    shutdown: CancellationToken,
) {
    // Instances sharing a PostgreSQL also certify devices and raise epochs: the record is read again
    // every second there. (SQLite has one relay, whose own changes arrive on the feed.)
    let shared = db.backend() == crate::db::backend::Backend::Postgres;
    let mut reload = tokio::time::interval(SHARED_RECORD_RELOAD);
    loop {
        let change = tokio::select! {
            () = shutdown.cancelled() => return,
            _ = reload.tick(), if shared => {
                if let Err(e) = issuer.reload(&db).await {
                    tracing::error!(error = %e, "could not reload the certified devices");
                }
                continue;
            }
            change = changes.recv() => change,
        };
        let user = match change {
            Ok(AccessChange::Member { user, .. }) => user,
            Ok(AccessChange::Document { .. }) => continue,
            Ok(AccessChange::Everything) => {
                if let Err(e) = issuer.refresh_all(&db).await {
                    tracing::error!(error = %e, "could not reload device epochs");
                }
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                // The sweep cannot tell whom the missed changes were about: the record is reloaded whole.
                tracing::warn!(missed, "revocation follower lagged; reloading every epoch");
                if let Err(e) = issuer.refresh_all(&db).await {
                    tracing::error!(error = %e, "could not reload device epochs");
                }
                continue;
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        if let Err(e) = issuer.refresh(&db, user).await {
            tracing::error!(error = %e, %user, "could not read a user's certificate epoch");
        }
    }
}

/// What the swarm task checks devices against.
struct Guard {
    certified: Certified,
    banned: Banned,
    /// Devices holding a reservation or a circuit, which the sweep disconnects once their certificate is
    /// revoked or expired.
    served: HashSet<PeerId>,
}

impl Guard {
    /// A circuit the relay accepted: kept only between two devices sharing a team.
    fn circuit(&mut self, swarm: &mut Swarm<Behaviour>, src: PeerId, dst: PeerId) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if self.certified.share_a_team(&src.to_base58(), &dst.to_base58(), now) {
            self.served.extend([src, dst]);
            return;
        }
        tracing::info!(%src, %dst, "circuit between devices that share no team; disconnecting its source");
        self.banned.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(src, Instant::now() + STRAY_BAN);
        if swarm.disconnect_peer_id(src).is_err() {
            tracing::debug!(%src, "the circuit's source was already gone");
        }
    }

    /// Disconnects served devices whose certificate was revoked or expired.
    fn sweep(&mut self, swarm: &mut Swarm<Behaviour>) {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let lapsed: Vec<PeerId> =
            self.served.iter().filter(|peer| !self.certified.holds(&peer.to_base58(), now)).copied().collect();
        for peer in lapsed {
            self.served.remove(&peer);
            tracing::info!(%peer, "device certificate revoked or expired; disconnecting it from the relay");
            if swarm.disconnect_peer_id(peer).is_err() {
                tracing::debug!(%peer, "already gone");
            }
        }
        self.banned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|_, until| *until > Instant::now());
    }
}

/// Circuit relay limits for syncing documents, admitting only certified devices.
fn relay_config(options: &P2pOptions, certified: Certified, banned: Banned) -> relay::Config {
    let mut config = relay::Config {
        max_reservations: options.max_reservations,
        max_reservations_per_peer: 4,
        reservation_duration: Duration::from_secs(60 * 60),
        max_circuits: options.max_circuits,
        max_circuits_per_peer: 32,
        max_circuit_duration: Duration::from_secs(options.circuit_secs),
        max_circuit_bytes: options.circuit_bytes,
        ..relay::Config::default()
    };
    let only_certified = move |peer: PeerId, _: &Multiaddr, _| {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        certified.holds(&peer.to_base58(), now)
    };
    let not_banned = move |peer: PeerId, _: &Multiaddr, _| {
        let banned = banned.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        banned.get(&peer).is_none_or(|until| *until <= Instant::now())
    };
    // Both lists keep libp2p's default per-peer and per-address rate limits, and add the certificate check.
    config.reservation_rate_limiters.push(Box::new(only_certified.clone()));
    config.circuit_src_rate_limiters.push(Box::new(only_certified));
    config.circuit_src_rate_limiters.push(Box::new(not_banned));
    // A team's devices reconnect often (laptops sleep); the defaults' one reservation per two minutes per
    // peer would lock a device out after a quick restart.
    config.reservation_rate_per_peer(NonZeroU32::MIN.saturating_add(59), Duration::from_secs(60))
}

async fn drive(mut swarm: Swarm<Behaviour>, mut published: Published, mut guard: Guard, shutdown: CancellationToken) {
    let mut sweep = tokio::time::interval(Duration::from_secs(1));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            _ = sweep.tick() => {
                guard.sweep(&mut swarm);
                continue;
            }
            event = swarm.select_next_some() => event,
        };
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => match event {
                relay::Event::ReservationReqDenied { src_peer_id, .. } => {
                    tracing::info!(peer = %src_peer_id, "relay reservation denied (no current certificate, or limits)");
                }
                relay::Event::CircuitReqDenied { src_peer_id, dst_peer_id, .. } => {
                    tracing::info!(src = %src_peer_id, dst = %dst_peer_id, "relay circuit denied");
                }
                relay::Event::ReservationReqAccepted { src_peer_id, .. } => {
                    tracing::debug!(peer = %src_peer_id, "relay reservation accepted");
                    guard.served.insert(src_peer_id);
                }
                relay::Event::CircuitReqAccepted { src_peer_id, dst_peer_id } => {
                    tracing::debug!(src = %src_peer_id, dst = %dst_peer_id, "relay circuit opened");
                    guard.circuit(&mut swarm, src_peer_id, dst_peer_id);
                }
                other => tracing::trace!(?other, "relay event"),
            },
            SwarmEvent::NewListenAddr { address, .. } if !published.fixed => {
                if address.iter().any(|p| matches!(p, Protocol::P2pCircuit)) {
                    continue;
                }
                tracing::debug!(%address, "libp2p listening");
                published.add(&mut swarm, address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } if !published.fixed => {
                published.remove(&mut swarm, &address);
            }
            _ => {}
        }
    }
    tracing::debug!("libp2p node stopped");
}
