//! Peer-to-peer sync: a libp2p swarm, owned by one task behind the cloneable `P2p` handle, that finds
//! teammates' devices (mDNS on the local network, the relay's device list through its circuit relay),
//! admits them by their device certificates, and syncs documents with them over libp2p streams through the
//! same samod repo that syncs with the relay.
//!
//! Order on every new peer: connect (direct, or through the relay's circuit), both sides push their
//! certificate (`/teamflow/certificate/1`), each admits the other or closes the connection, and only then
//! does the peer with the smaller id open the document stream (`/teamflow/sync/1`), which the other side
//! accepts only from an admitted peer, with samod's peer id pinned to the certified user and device.

mod certificates;
mod framing;
mod policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, connection_limits, dcutr, identify, mdns, memory_connection_limits,
    noise, ping, relay,
};
use libp2p::{tcp, yamux};
use samod::{AcceptorHandle, BackoffConfig, DialError, DialerHandle, Repo, Transport};
use teamflow_protocol::UserId;
use teamflow_protocol::api::devices::{CertificateBody, DeviceCertificate};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use certificates::Refusal;
pub(crate) use policy::{Admitted, PeerSharePolicy};

const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/teamflow/sync/1");

/// New connections are refused while the process uses more memory than this.
const MAX_PROCESS_MEMORY: usize = 1 << 30;

/// The relay's libp2p node is dialed again this long after an attempt, while not connected.
const RELAY_REDIAL: Duration = Duration::from_secs(5);

/// A refused peer is not dialed again (on mDNS news, say) for this long.
const REFUSED_BACKOFF: Duration = Duration::from_secs(60);

/// Inbound document streams one admitted peer may hold open at once (one, plus one while reconnecting).
const SYNC_STREAMS_PER_PEER: usize = 2;

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

enum Command {
    Dial(Vec<Multiaddr>, oneshot::Sender<Result<(), P2pError>>),
    DialDevices(Vec<PeerId>),
    Present(Box<DeviceCertificate>),
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

#[derive(NetworkBehaviour)]
struct Behaviour {
    limits: connection_limits::Behaviour,
    memory: memory_connection_limits::Behaviour,
    relay: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    streams: libp2p_stream::Behaviour,
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
        let task = SwarmTask {
            swarm,
            context,
            repo,
            acceptor,
            mine: certificate,
            relay_key,
            relay,
            admitted,
            status: status.clone(),
            pending: HashMap::new(),
            dialers: HashMap::new(),
            connections: HashMap::new(),
            refused_at: HashMap::new(),
            relay_address: None,
            relay_dialed_at: None,
            circuit_listener: None,
            waiting_for_relay: Vec::new(),
        };
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

    /// Presents a renewed certificate to every connected peer (and to every later one).
    pub(crate) async fn present(&self, certificate: DeviceCertificate) -> Result<(), P2pError> {
        self.commands.send(Command::Present(Box::new(certificate))).await.map_err(|_| P2pError::Stopped)
    }

    /// Stops the swarm and waits for its tasks; documents stay with the repo.
    pub async fn stop(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

fn build_swarm(keypair: libp2p::identity::Keypair, config: &P2pConfig) -> Result<Swarm<Behaviour>, P2pError> {
    let transport = |e: &dyn std::fmt::Display| P2pError::Transport(e.to_string());
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established(Some(config.max_connections))
        .with_max_established_per_peer(Some(4))
        .with_max_pending_incoming(Some(32))
        .with_max_pending_outgoing(Some(64));
    let mdns = config.mdns;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| transport(&e))?
        .with_quic()
        .with_relay_client(noise::Config::new, yamux::Config::default)
        .map_err(|e| transport(&e))?
        .with_behaviour(|key, relay_client| {
            let local = key.public().to_peer_id();
            let mdns = if mdns { Some(mdns::tokio::Behaviour::new(mdns::Config::default(), local)?) } else { None };
            Ok(Behaviour {
                limits: connection_limits::Behaviour::new(limits),
                memory: memory_connection_limits::Behaviour::with_max_bytes(MAX_PROCESS_MEMORY),
                relay: relay_client,
                dcutr: dcutr::Behaviour::new(local),
                identify: identify::Behaviour::new(identify::Config::new("/teamflow/1".into(), key.public())),
                ping: ping::Behaviour::new(ping::Config::new()),
                mdns: Toggle::from(mdns),
                streams: libp2p_stream::Behaviour::new(),
            })
        })
        .map_err(|e| transport(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(config.idle_timeout))
        .build();
    Ok(swarm)
}

/// What the helper tasks share: a stream control, the task tracker and the stop signal.
#[derive(Clone)]
struct Context {
    control: libp2p_stream::Control,
    tasks: TaskTracker,
    stop: CancellationToken,
    admission_deadline: Duration,
}

/// Reads each certificate a peer pushes and hands it to the swarm task, which decides.
async fn receive_certificates_from(
    mut incoming: libp2p_stream::IncomingStreams,
    received: mpsc::Sender<(PeerId, Result<DeviceCertificate, Refusal>)>,
    context: Context,
) {
    loop {
        let next = tokio::select! {
            next = incoming.next() => next,
            () = context.stop.cancelled() => None,
        };
        let Some((peer, stream)) = next else { break };
        let received = received.clone();
        let stop = context.stop.clone();
        context.tasks.spawn(async move {
            let certificate = tokio::select! {
                certificate = certificates::receive(stream) => certificate,
                () = stop.cancelled() => return,
            };
            // The swarm task has stopped when this fails; nothing is left to decide.
            if received.send((peer, certificate)).await.is_err() {
                tracing::debug!(%peer, "certificate arrived after the swarm stopped");
            }
        });
    }
}

/// Hands each document stream from an admitted peer to samod, bound to the peer's certified identity.
async fn accept_sync(
    mut incoming: libp2p_stream::IncomingStreams,
    acceptor: AcceptorHandle,
    admitted: watch::Receiver<Admitted>,
    context: Context,
) {
    let open: Arc<std::sync::Mutex<HashMap<PeerId, usize>>> = Arc::default();
    loop {
        let next = tokio::select! {
            next = incoming.next() => next,
            () = context.stop.cancelled() => None,
        };
        let Some((peer, stream)) = next else { break };
        let (acceptor, mut admitted, open, context_) =
            (acceptor.clone(), admitted.clone(), open.clone(), context.clone());
        context.tasks.spawn(async move {
            // The peer's certificate may still be on its way: both sides push theirs at once.
            let admission = async {
                let admitted = admitted.wait_for(|a| a.contains_key(&peer)).await.ok()?;
                admitted.get(&peer).cloned()
            };
            let body = tokio::time::timeout(context_.admission_deadline, admission).await.ok().flatten();
            let Some(body) = body else {
                tracing::info!(%peer, "document stream from a peer that was not admitted; dropped");
                return;
            };
            {
                let mut open = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let count = open.entry(peer).or_default();
                if *count >= SYNC_STREAMS_PER_PEER {
                    tracing::info!(%peer, "too many document streams from one peer; dropped");
                    return;
                }
                *count += 1;
            }
            let (transport, ended) = framing::sync_transport(stream, &context_.tasks, &context_.stop);
            match acceptor.accept(transport.with_expected_peer_id(sync_peer_id(&body, &peer))) {
                Ok(_) => {
                    ended.await;
                    tracing::debug!(%peer, "p2p document stream finished");
                }
                Err(_) => tracing::debug!(%peer, "document stream after the repo stopped"),
            }
            let mut open = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(count) = open.get_mut(&peer) {
                *count = count.saturating_sub(1);
            }
        });
    }
}

/// The samod peer id a certified device must use: `<user id>:<libp2p peer id>`.
fn sync_peer_id(body: &CertificateBody, peer: &PeerId) -> samod::PeerId {
    samod::PeerId::from(format!("{}:{peer}", body.user_id))
}

/// Opens document streams to one admitted peer for samod, again after each drop while the peer stays
/// connected (over whichever path libp2p has to it).
struct PeerDialer {
    peer: PeerId,
    url: url::Url,
    expected: samod::PeerId,
    context: Context,
}

impl samod::Dialer for PeerDialer {
    type Error = std::io::Error;

    fn url(&self) -> url::Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Self::Error>>> {
        let (peer, expected, context) = (self.peer, self.expected.clone(), self.context.clone());
        Box::pin(async move {
            let mut control = context.control.clone();
            let stream = control.open_stream(peer, SYNC_PROTOCOL).await.map_err(|e| {
                tracing::debug!(%peer, error = %e, "could not open a document stream; will retry");
                DialError::transient(std::io::Error::other(e.to_string()))
            })?;
            let (transport, _ended) = framing::sync_transport(stream, &context.tasks, &context.stop);
            Ok(transport.with_expected_peer_id(expected))
        })
    }
}

struct SwarmTask {
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
}

impl SwarmTask {
    async fn run(
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
            Command::Present(certificate) => {
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

    /// Admits a peer whose certificate checks out; refuses (and disconnects) any other.
    fn decide(&mut self, peer: PeerId, certificate: Result<DeviceCertificate, Refusal>) {
        if !self.swarm.is_connected(&peer) {
            return;
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let admission = certificate.and_then(|c| certificates::admit(&c, &self.relay_key, &peer, &self.mine.body, now));
        match admission {
            Ok(body) => {
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
            self.refuse(peer, Refusal::Certificate(teamflow_protocol::api::devices::CertificateError::Expired));
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
