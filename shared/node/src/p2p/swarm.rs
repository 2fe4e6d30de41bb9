//! The libp2p swarm itself: its behaviours (transports, limits, relay client, hole punching, identify, ping,
//! mDNS, our streams) and how it is built from the device key and `P2pConfig`.

use libp2p::swarm::NetworkBehaviour;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::{
    Swarm, connection_limits, dcutr, identify, mdns, memory_connection_limits, noise, ping, relay, tcp, yamux,
};

use super::{P2pConfig, P2pError};

/// New connections are refused while the process uses more memory than this.
const MAX_PROCESS_MEMORY: usize = 1 << 30;

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    limits: connection_limits::Behaviour,
    memory: memory_connection_limits::Behaviour,
    relay: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    pub(super) streams: libp2p_stream::Behaviour,
}

pub(super) fn build_swarm(
    keypair: libp2p::identity::Keypair,
    config: &P2pConfig,
) -> Result<Swarm<Behaviour>, P2pError> {
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
