//! Peer-to-peer sync, measured: how long two devices on one network take from starting to their first
//! synced edit (mDNS discovery, certificates, samod handshake), then edit latency and throughput between
//! two devices over each path in one run: direct, through the relay's circuit, and through the relay's
//! WebSocket. The relay runs in its own process (release build); the two nodes run in this one.
//!
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/p2p` (see
//! docs/benchmarks.md).

use std::time::{Duration, Instant};

use anyhow::{Context as _, ensure};
use clap::Parser;
use futures::StreamExt;
use serde::Serialize;
use teamflow_bench::servers::start_relay;
use teamflow_bench::{Machine, median};
use teamflow_node::{Node, P2p, P2pConfig};
use teamflow_protocol::{Role, TeamId};
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{Splice, read_text, splice_text};

#[derive(Debug, Parser)]
struct Args {
    /// Rounds; each round measures discovery once and every path once, in turn.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Single-character edits timed one at a time, per path.
    #[arg(long, default_value_t = 200)]
    edits: usize,
    /// Edits sent back to back for the throughput figure, per path.
    #[arg(long, default_value_t = 2000)]
    burst: usize,
}

#[derive(Debug, Serialize)]
struct Discovery {
    round: usize,
    /// From both swarms starting to the first edit arriving.
    first_synced_edit_ms: f64,
}

#[derive(Debug, Serialize)]
struct PathRun {
    round: usize,
    path: &'static str,
    /// From starting the path (swarms, or the WebSocket) to syncing over it.
    connect_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Edits per second arriving at the other device, for a burst sent back to back (each its own change).
    throughput: f64,
}

/// Two signed-up devices in one team, with a document both hold.
struct Pair {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    alice: Node,
    bob: Node,
    a_doc: DocHandle,
    b_doc: DocHandle,
}

impl Pair {
    async fn new(base: &str, n: usize) -> anyhow::Result<Pair> {
        let dirs = (tempfile::tempdir()?, tempfile::tempdir()?);
        let alice = Node::open(dirs.0.path(), base).await?;
        let bob = Node::open(dirs.1.path(), base).await?;
        alice.sign_up(&format!("a{n}@example.test"), "bench password", "Alice").await?;
        bob.sign_up(&format!("b{n}@example.test"), "bench password", "Bob").await?;
        let team: TeamId = alice.create_team("Bench").await?.id;
        let invitation = alice.add_member(team, &format!("b{n}@example.test"), Role::Member).await?;
        bob.accept_invitation(invitation.token.as_deref().context("invitation token")?).await?;
        // Both devices get the document through the relay first, then go offline from it.
        alice.go_online().await?;
        bob.go_online().await?;
        let (url, a_doc) = alice.create_document(team, "Bench", "").await?;
        ensure!(alice.synced_with_relay(&a_doc).await?, "document not on the relay");
        bob.documents(team).await?;
        let b_doc = bob.open_document(&url).await?.context("document not found")?;
        alice.go_offline().await;
        bob.go_offline().await;
        Ok(Pair { _dirs: dirs, alice, bob, a_doc, b_doc })
    }

    async fn close(self) {
        self.alice.close().await;
        self.bob.close().await;
    }
}

/// Waits until `doc` holds `chars` characters.
async fn reaches(doc: &DocHandle, chars: usize) -> anyhow::Result<()> {
    let mut changes = Box::pin(doc.changes());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while read_text(doc).chars().count() < chars {
        tokio::time::timeout_at(deadline, changes.next()).await.context("edit never arrived")?;
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn address(text: &str) -> anyhow::Result<libp2p::Multiaddr> {
    Ok(text.parse()?)
}

fn lan() -> anyhow::Result<P2pConfig> {
    Ok(P2pConfig { listen: vec![address("/ip4/0.0.0.0/tcp/0")?], ..P2pConfig::default() })
}

fn direct() -> anyhow::Result<P2pConfig> {
    Ok(P2pConfig { listen: vec![address("/ip4/127.0.0.1/tcp/0")?], mdns: false, ..P2pConfig::default() })
}

fn circuit_only() -> P2pConfig {
    P2pConfig { listen: Vec::new(), mdns: false, ..P2pConfig::default() }
}

async fn discovery(base: &str, round: usize, n: usize) -> anyhow::Result<Discovery> {
    let pair = Pair::new(base, n).await?;
    let start = Instant::now();
    let (a, b) = tokio::try_join!(pair.alice.start_p2p(lan()?), pair.bob.start_p2p(lan()?))?;
    splice_text(&pair.a_doc, 0, 0, "x")?;
    reaches(&pair.b_doc, 1).await?;
    let first_synced_edit_ms = ms(start.elapsed());
    drop((a, b));
    pair.close().await;
    Ok(Discovery { round, first_synced_edit_ms })
}

/// Connects the pair over `path`; answers the swarms (kept alive while measuring).
async fn connect(pair: &Pair, path: &str) -> anyhow::Result<Vec<P2p>> {
    match path {
        "websocket" => {
            pair.alice.go_online().await?;
            pair.bob.go_online().await?;
            Ok(Vec::new())
        }
        "direct" => {
            let (a, b) = tokio::try_join!(pair.alice.start_p2p(direct()?), pair.bob.start_p2p(direct()?))?;
            let mut status = b.status();
            let listening = status.wait_for(|s| !s.listening.is_empty()).await?.listening[0].clone();
            a.dial(vec![listening.with(libp2p::multiaddr::Protocol::P2p(b.local_peer_id()))]).await?;
            pair.alice.syncing_with(b.local_peer_id()).await?;
            Ok(vec![a, b])
        }
        "circuit" => {
            let a = pair.alice.start_p2p(circuit_only()).await?;
            a.status().wait_for(|s| s.reachable_via_relay).await?;
            let b = pair.bob.start_p2p(circuit_only()).await?;
            pair.bob.syncing_with(a.local_peer_id()).await?;
            Ok(vec![a, b])
        }
        other => anyhow::bail!("unknown path {other}"),
    }
}

async fn measure(base: &str, args: &Args, round: usize, path: &'static str, n: usize) -> anyhow::Result<PathRun> {
    let pair = Pair::new(base, n).await?;
    let start = Instant::now();
    let swarms = connect(&pair, path).await?;
    let connect_ms = ms(start.elapsed());
    let mut latencies = Vec::with_capacity(args.edits);
    for i in 0..args.edits {
        let sent = Instant::now();
        splice_text(&pair.a_doc, i, 0, "a")?;
        reaches(&pair.b_doc, i + 1).await?;
        latencies.push(ms(sent.elapsed()));
    }
    // The burst goes through the node's writer, as a paste does: each edit its own change, applied in
    // shared passes, so the figure is the path's and not one storage write per keystroke.
    let writer = pair.alice.text_writer(&pair.a_doc).await?;
    let sent = Instant::now();
    for i in 0..args.burst {
        writer.splice(Splice { position: args.edits + i, delete: 0, insert: "b".into() }).await?;
    }
    writer.flush().await?;
    reaches(&pair.b_doc, args.edits + args.burst).await?;
    let throughput = args.burst as f64 / sent.elapsed().as_secs_f64();
    drop(swarms);
    pair.close().await;
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Ok(PathRun {
        round,
        path,
        connect_ms,
        p50_ms: at(0.5),
        p99_ms: at(0.99),
        max_ms: latencies.last().copied().unwrap_or_default(),
        throughput,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (relay, base, _dir) = start_relay().await?;
    let mut discoveries = Vec::new();
    let mut runs = Vec::new();
    let mut n = 0;
    for round in 0..args.runs {
        n += 1;
        let found = discovery(&base, round, n).await?;
        println!("{}", serde_json::to_string(&found)?);
        discoveries.push(found.first_synced_edit_ms);
        for path in ["direct", "circuit", "websocket"] {
            n += 1;
            let run = measure(&base, &args, round, path, n).await?;
            println!("{}", serde_json::to_string(&run)?);
            runs.push(run);
        }
    }
    relay.stop().await?;

    println!("\n{}", Machine::describe());
    println!("two devices on one network, start to first synced edit: median {:.0} ms", median(discoveries));
    println!("\n| path | connect (ms) | p50 (ms) | p99 (ms) | max (ms) | edits/s |");
    println!("|---|---|---|---|---|---|");
    for path in ["direct", "circuit", "websocket"] {
        let of = |f: fn(&PathRun) -> f64| median(runs.iter().filter(|r| r.path == path).map(f).collect());
        println!(
            "| {path} | {:.0} | {:.2} | {:.2} | {:.2} | {:.0} |",
            of(|r| r.connect_ms),
            of(|r| r.p50_ms),
            of(|r| r.p99_ms),
            of(|r| r.max_ms),
            of(|r| r.throughput)
        );
    }
    Ok(())
}
