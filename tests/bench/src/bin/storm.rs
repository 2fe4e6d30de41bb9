//! Join storm: N clients open the finished automerge-paper document (its whole history, about 129 KB saved)
//! at the same instant, through our relay and through the Node automerge-repo sync server, alternating.
//! Measured: the time from the storm's start until every client has received the server's heads, each
//! client's own time, and the server's CPU seconds.
//!
//! The storm's clients speak the automerge-repo wire protocol by hand (join, then one `request` for the
//! document) and stop the clock when the sync message carrying the document arrives; applying 260,000
//! changes a hundred times would make the one generator core the thing measured. Every received message is
//! checked afterwards: its heads are the server's, and its changes, loaded, give those heads.
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/storm` (needs `./x setup`
//! for the Node packages; see docs/benchmarks.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use futures::{SinkExt as _, StreamExt as _};
use hdrhistogram::Histogram;
use serde::Serialize;
use teamflow_bench::servers::{connect_ws, cpu_seconds};
use teamflow_bench::systems::{SyncEndpoint, SyncSystem};
use teamflow_bench::{Machine, Trace, data_dir, median};
use teamflow_sync::automerge::{Automerge, ChangeHash, sync, sync::SyncDoc as _};
use teamflow_sync::samod::{DocumentId, PeerId};
use teamflow_sync::wire::{self, DocMessage, PeerMetadata};
use tokio::sync::{Barrier, watch};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_delimiter = ',', default_value = "relay,node")]
    systems: Vec<String>,
    /// Clients opening the document at once.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Rounds; each runs every system once, alternating.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// A sequential editing trace (gzipped JSON) whose finished document is opened.
    #[arg(long)]
    trace: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
struct Storm {
    system: String,
    round: usize,
    clients: usize,
    saved_bytes: usize,
    /// From the storm's start until the last client had the server's heads.
    all_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    first_ms: f64,
    server_cpu_s: f64,
    server_rss_mib: f64,
    generator_cpu_share: f64,
    saturated: bool,
}

/// What one storm client received: when, and the sync message that carried the document.
struct Arrival {
    after: Duration,
    message: Vec<u8>,
}

/// The `request` an empty automerge-repo client sends first: an empty document's first sync message
/// (which advertises the V2 messages that carry a whole document at once).
fn first_request() -> anyhow::Result<Vec<u8>> {
    let doc = Automerge::new();
    let mut state = sync::State::new();
    Ok(doc.generate_sync_message(&mut state).context("an empty document has a first message")?.encode())
}

/// One client: connects and completes the handshake, waits at `ready` with the others, then, once `go`
/// says when the storm started, requests `document` and waits for the sync message carrying it.
async fn storm_client(
    endpoint: SyncEndpoint,
    document: DocumentId,
    request: Vec<u8>,
    ready: Arc<Barrier>,
    mut go: watch::Receiver<Option<Instant>>,
) -> anyhow::Result<Arrival> {
    let mut socket = connect_ws(&endpoint.url, endpoint.token.as_deref(), None).await?;
    let peer = PeerId::from(endpoint.peer);
    let join = wire::Message::Join {
        sender_id: peer.clone(),
        supported_protocol_versions: vec![wire::PROTOCOL_VERSION.into()],
        metadata: Some(PeerMetadata { storage_id: None, is_ephemeral: true }),
    };
    socket.send(Message::binary(join.encode())).await?;
    let server = loop {
        let frame = socket.next().await.context("closed during the handshake")??;
        if let Message::Binary(bytes) = frame {
            match wire::Message::decode(&bytes)? {
                wire::Message::Peer { sender_id, .. } => break sender_id,
                other => bail!("expected `peer`, got {other:?}"),
            }
        }
    };
    ready.wait().await;
    let start = go.wait_for(Option::is_some).await?.context("no start")?;
    let request = wire::Message::Request(DocMessage {
        document_id: document.clone(),
        sender_id: peer,
        target_id: server,
        data: request,
    });
    socket.send(Message::binary(request.encode())).await?;
    loop {
        let frame = socket.next().await.context("closed before the document arrived")??;
        let Message::Binary(bytes) = frame else { continue };
        match wire::Message::decode(&bytes)? {
            wire::Message::Sync(m) | wire::Message::Request(m) if m.document_id == document => {
                let message = sync::Message::decode(&m.data)?;
                if !message.changes.is_empty() {
                    return Ok(Arrival { after: start.elapsed(), message: m.data });
                }
            }
            answer @ (wire::Message::DocUnavailable { .. } | wire::Message::Error { .. }) => {
                bail!("the server answered {answer:?}")
            }
            _ => {}
        }
    }
}

/// Checks, off the clock, that every client got the server's `heads`: each message names them, and its
/// changes, loaded into an empty document, reach them (one load per distinct payload).
fn verify(arrivals: &[Arrival], heads: &[ChangeHash]) -> anyhow::Result<()> {
    let mut checked: Vec<&[u8]> = Vec::new();
    for arrival in arrivals {
        let message = sync::Message::decode(&arrival.message)?;
        ensure!(message.heads == heads, "a client was sent other heads than the server's");
        if checked.contains(&arrival.message.as_slice()) {
            continue;
        }
        let mut doc = Automerge::new();
        let mut state = sync::State::new();
        doc.receive_sync_message(&mut state, message)?;
        ensure!(doc.get_heads() == heads, "a client's document did not reach the server's heads");
        checked.push(&arrival.message);
    }
    Ok(())
}

async fn storm(system: &SyncSystem, round: usize, args: &Args, saved: &[u8]) -> anyhow::Result<Storm> {
    let (mut owner, _keep) = system.client(0, "uploader").await?;
    let (url, handle) = owner.import(saved).await?;
    system.share(&mut owner, &handle).await?;
    let heads = handle.with_document(|d| d.get_heads());
    owner.stop().await;
    let document: DocumentId = url.document_id().parse().context("a document id")?;

    let request = first_request()?;
    let ready = Arc::new(Barrier::new(args.clients + 1));
    let (go, started) = watch::channel(None);
    let clients: Vec<_> = (0..args.clients)
        .map(|i| {
            let endpoint = system.sync_endpoint(i, &format!("storm{i}"));
            tokio::spawn(storm_client(endpoint, document.clone(), request.clone(), ready.clone(), started.clone()))
        })
        .collect();
    ready.wait().await;
    eprintln!("{} clients connected; the storm starts", args.clients);
    let me = std::process::id().to_string();
    let (cpu_before, server_before) = (cpu_seconds(&me), system.cpu_seconds());
    let start = Instant::now();
    go.send_replace(Some(start));
    let mut arrivals = Vec::with_capacity(args.clients);
    for client in clients {
        arrivals.push(tokio::time::timeout(Duration::from_secs(300), client).await.context("storm timed out")???);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let generator_cpu_share = (cpu_seconds(&me) - cpu_before) / elapsed;
    let server_cpu_s = system.cpu_seconds() - server_before;
    let server_rss_mib = system.rss_mib();
    verify(&arrivals, &heads)?;

    let mut histogram = Histogram::<u64>::new(3)?;
    for a in &arrivals {
        histogram.record(u64::try_from(a.after.as_micros()).unwrap_or(u64::MAX).max(1))?;
    }
    let ms = |v: u64| v as f64 / 1000.0;
    Ok(Storm {
        system: system.name.clone(),
        round,
        clients: args.clients,
        saved_bytes: saved.len(),
        all_ms: ms(histogram.max()),
        p50_ms: ms(histogram.value_at_quantile(0.5)),
        p99_ms: ms(histogram.value_at_quantile(0.99)),
        first_ms: ms(histogram.min()),
        server_cpu_s,
        server_rss_mib,
        generator_cpu_share,
        saturated: generator_cpu_share > 0.9,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let path = args.trace.clone().unwrap_or_else(|| data_dir().join("editing-traces/automerge-paper.json.gz"));
    eprintln!("replaying {} into the finished document...", path.display());
    let saved = Trace::load(&path)?.finished_document()?;
    let mut runs: Vec<Storm> = Vec::new();
    for round in 0..args.repeats {
        for name in &args.systems {
            eprintln!("round {} of {}: {name}", round + 1, args.repeats);
            let system = SyncSystem::start(name, args.clients).await?;
            let result = storm(&system, round, &args, &saved).await?;
            println!("{}", serde_json::to_string(&result)?);
            runs.push(result);
            system.stop().await?;
        }
    }
    println!("\n{}", Machine::describe());
    println!(
        "join storm: {} clients open a {} byte document at once; medians of the runs kept\n",
        args.clients,
        saved.len()
    );
    println!("| system | all have the heads | p50 | first | server CPU | runs kept |");
    println!("|---|---|---|---|---|---|");
    for name in &args.systems {
        let kept: Vec<&Storm> = runs.iter().filter(|r| &r.system == name && !r.saturated).collect();
        let med = |f: fn(&Storm) -> f64| median(kept.iter().map(|r| f(r)).collect());
        println!(
            "| {name} | {:.0} ms | {:.0} ms | {:.0} ms | {:.2} s | {} of {} |",
            med(|r| r.all_ms),
            med(|r| r.p50_ms),
            med(|r| r.first_ms),
            med(|r| r.server_cpu_s),
            kept.len(),
            args.repeats
        );
    }
    Ok(())
}
