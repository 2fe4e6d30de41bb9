//! Peer-to-peer sync: a libp2p swarm, owned by one task behind the cloneable `P2p` handle, that finds
//! teammates' devices (mDNS on the local network, the relay's device list through its circuit relay),
//! admits them by their device certificates, and syncs documents with them over libp2p streams through the
//! same samod repo that syncs with the relay.
//!
//! Order on every new peer: connect (direct, or through the relay's circuit), both sides push their
//! certificate (`/teamflow/certificate/1`), each admits the other or closes the connection, and only then
//! does the peer with the smaller id open the document stream (`/teamflow/sync/1`), which the other side
//! accepts only from an admitted peer, with samod's peer id pinned to the certified user and device.
//!
//! This file is the public face: the configuration, the status, the errors, the `P2p` handle and `start`,
//! which wires the pieces below together.
//!
//! - `swarm`: the behaviours and how the swarm is built;
//! - `event_loop`: the swarm task, which owns the swarm and carries out the handle's commands;
//! - `streams`: receiving certificates, accepting document streams, the samod dialer over libp2p;
//! - `certificates`: the certificate exchange and the admission decision;
//! - `framing`: length-prefixed frames on libp2p streams and the samod transport built on them;
//! - `policy`: what this device shares with whom.

mod certificates;
mod event_loop;
mod framing;
mod policy;
mod streams;
mod swarm;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use libp2p::multiaddr::Protocol;
use libp2p::{Multiaddr, PeerId};
use samod::Repo;
use teamflow_protocol::UserId;
use teamflow_protocol::api::devices::{DeviceCertificate, Revocation};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use event_loop::{Command, SwarmTask};
use streams::{Context, SYNC_PROTOCOL, accept_sync, receive_certificates_from};
use swarm::build_swarm;

pub use certificates::Refusal;
pub(crate) use policy::{Admitted, PeerSharePolicy};

#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    #[error("peer-to-peer transport: {0}")]
    Transport(String),
    #[error("the peer-to-peer node has stopped")]
    Stopped,
    #[error("the sync repo has stopped")]
    RepoStopped,
}

/// How the swarm runs.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// Where to accept direct connections; empty leaves the relay's circuit (and dialing out) as the only
    /// ways in.
    pub listen: Vec<Multiaddr>,
    /// Find teammates' devices on the local network.
    pub mdns: bool,
    /// Established connections at most, all peers together.
    pub max_connections: u32,
    /// A connection with nothing going on is closed after this long.
    pub idle_timeout: Duration,
    /// A connected peer that has not presented an acceptable certificate by then is disconnected.
    pub admission_deadline: Duration,
    /// How often `keep_peering` reads the relay's revocation feed, renews the certificate when due and
    /// looks for teammates' devices: a removed or demoted teammate is dropped within about this long.
    pub peering_check: Duration,
}

impl Default for P2pConfig {
    fn default() -> Self {
        let any = Multiaddr::empty().with(Protocol::Ip4(std::net::Ipv4Addr::UNSPECIFIED));
        Self {
            listen: vec![any.clone().with(Protocol::Tcp(0)), any.with(Protocol::Udp(0)).with(Protocol::QuicV1)],
            mdns: true,
            max_connections: 128,
            idle_timeout: Duration::from_secs(60),
            admission_deadline: Duration::from_secs(10),
            peering_check: Duration::from_secs(20),
        }
    }
}

/// The relay's libp2p node, as its REST API publishes it.
#[derive(Debug, Clone)]
pub struct RelayPeer {
    pub peer_id: PeerId,
    pub addresses: Vec<Multiaddr>,
}

/// One admitted teammate device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLink {
    pub peer_id: PeerId,
    pub user_id: UserId,
    /// Every open connection to it goes through the relay's circuit (no direct path yet).
    pub relayed: bool,
}

/// What the swarm is doing, as it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct P2pStatus {
    pub listening: Vec<Multiaddr>,
    /// Admitted teammate devices.
    pub peers: BTreeMap<PeerId, PeerLink>,
    /// The relay holds a reservation for us: teammates can reach this device through its circuit.
    pub reachable_via_relay: bool,
    /// Peers refused since start, with why (the latest reason per peer).
    pub refused: BTreeMap<PeerId, Refusal>,
}
/// The handle to a running swarm. Cloning it is cheap; `stop` ends it for every clone.
#[derive(Clone)]
pub struct P2p {
    local: PeerId,
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<P2pStatus>,
    stop: CancellationToken,
    tasks: TaskTracker,
    /// Stops the swarm when the last handle goes, so a forgotten node leaves no swarm running.
    _stop_on_drop: Arc<tokio_util::sync::DropGuard>,
}

impl std::fmt::Debug for P2p {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("P2p").field("local", &self.local).finish_non_exhaustive()
    }
}

/// Everything the swarm task needs from the node.
pub(crate) struct Start {
    pub keypair: libp2p::identity::Keypair,
    pub repo: Repo,
    pub certificate: DeviceCertificate,
    pub relay_key: [u8; 32],
    pub relay: Option<RelayPeer>,
    pub admitted: watch::Sender<Admitted>,
    pub config: P2pConfig,
}

impl P2p {
    /// Starts the swarm: listens, reserves a slot on the relay's circuit when the relay has one, and
    /// starts admitting peers.
    pub(crate) async fn start(start: Start) -> Result<P2p, P2pError> {
        let Start { keypair, repo, certificate, relay_key, relay, admitted, config } = start;
        let local = keypair.public().to_peer_id();
        let mut swarm = build_swarm(keypair, &config)?;
        for address in &config.listen {
            swarm.listen_on(address.clone()).map_err(|e| P2pError::Transport(e.to_string()))?;
        }
        let mut control = swarm.behaviour().streams.new_control();
        let certificates = control.accept(certificates::PROTOCOL).map_err(|e| P2pError::Transport(e.to_string()))?;
        let sync_streams = control.accept(SYNC_PROTOCOL).map_err(|e| P2pError::Transport(e.to_string()))?;
        let url = url::Url::parse("teamflow-p2p://inbound").map_err(|e| P2pError::Transport(e.to_string()))?;
        let acceptor = repo.make_acceptor(url).map_err(|_| P2pError::RepoStopped)?;

        let (commands, receive_commands) = mpsc::channel(32);
        let (received, receive_certificates) = mpsc::channel(64);
        let status = watch::Sender::new(P2pStatus::default());
        let (stop, tasks) = (CancellationToken::new(), TaskTracker::new());
        let context = Context {
            control,
            tasks: tasks.clone(),
            stop: stop.clone(),
            admission_deadline: config.admission_deadline,
        };
        tasks.spawn(receive_certificates_from(certificates, received, context.clone()));
        tasks.spawn(accept_sync(sync_streams, acceptor.clone(), admitted.subscribe(), context.clone()));
        let task = SwarmTask::new(event_loop::Parts {
            swarm,
            context,
            repo,
            acceptor,
            mine: certificate,
            relay_key,
            relay,
            admitted,
            status: status.clone(),
        });
        tasks.spawn(task.run(receive_commands, receive_certificates));
        let _stop_on_drop = Arc::new(stop.clone().drop_guard());
        Ok(P2p { local, commands, status: status.subscribe(), stop, tasks, _stop_on_drop })
    }

    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// What the swarm is doing, as it changes.
    pub fn status(&self) -> watch::Receiver<P2pStatus> {
        self.status.clone()
    }

    /// Dials a peer at `addresses` (which end in `/p2p/<peer id>`).
    pub async fn dial(&self, addresses: Vec<Multiaddr>) -> Result<(), P2pError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Dial(addresses, reply)).await.map_err(|_| P2pError::Stopped)?;
        answer.await.map_err(|_| P2pError::Stopped)?
    }

    /// Dials teammates' devices through the relay's circuit (libp2p upgrades to a direct path when it
    /// can). Devices already connected are left alone.
    pub(crate) async fn dial_devices(&self, devices: Vec<PeerId>) -> Result<(), P2pError> {
        self.commands.send(Command::DialDevices(devices)).await.map_err(|_| P2pError::Stopped)
    }

    /// Applies revocations from the relay's feed: certificates of each user older than the epoch are refused
    /// from now on, and admitted devices holding one are disconnected.
    pub(crate) async fn revoke(&self, revocations: Vec<Revocation>) -> Result<(), P2pError> {
        self.commands.send(Command::Revoke(revocations)).await.map_err(|_| P2pError::Stopped)
    }

    /// Presents a renewed certificate to every connected peer (and to every later one).
    pub(crate) async fn present(&self, certificate: DeviceCertificate) -> Result<(), P2pError> {
        self.commands.send(Command::Present(Box::new(certificate))).await.map_err(|_| P2pError::Stopped)
    }

    /// Tells the swarm to stop, without waiting for it (for a caller its tasks may be waiting on).
    pub(crate) fn end(&self) {
        self.stop.cancel();
    }

    /// Stops the swarm and waits for its tasks; documents stay with the repo.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}
