//! Acknowledgement latency with many documents: D documents, each open on N devices connected to the
//! server at once (by default 1,000 documents on 10 devices: 10,000 document-connection pairs). Each device
//! edits the documents in turn at a steady rate; an edit's latency runs from the change to the moment the
//! server has it (`synced_with_relay`: the server's sync message naming heads that include it). The other
//! devices receive each edit too, as they would in use.
//!
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/ack`; `--systems
//! relay,relay-baseline` with `TEAMFLOW_BENCH_BASELINE_RELAY` naming a relay built from another commit
//! compares the two in one run (see docs/benchmarks.md).

use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt as _;
use hdrhistogram::Histogram;
use serde::Serialize;
use teamflow_bench::servers::{cpu_seconds, steal_seconds};
use teamflow_bench::systems::{SyncSystem, open};
use teamflow_bench::{Machine, median};
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{SyncClient, splice_text};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_delimiter = ',', default_value = "relay")]
    systems: Vec<String>,
    #[arg(long, default_value_t = 1000)]
    documents: usize,
    /// Devices, each with every document open (each a different member of one team).
    #[arg(long, default_value_t = 10)]
    devices: usize,
    /// Edits per second per device; each waits for its acknowledgement before the next.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Rounds; each runs every system once, alternating.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

#[derive(Debug, Serialize)]
struct Run {
    system: String,
    round: usize,
    documents: usize,
    devices: usize,
    /// Seconds until every device had every document open.
    setup_s: f64,
    edits: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// The server's CPU seconds over the measured period, and per second of it.
    server_cpu_s: f64,
    server_cpu_share: f64,
    generator_cpu_share: f64,
    saturated: bool,
    /// The edits over 10 ms: when each was made (ms since the measured period began) and its latency (ms),
    /// so that a stall shows as a cluster and a steady cost as a spread.
    slow: Vec<(f64, f64)>,
    /// The machine's steal time over the measured period (CPU-seconds, summed over its cores), and the
    /// sample window that held the most of it: when it began and how long it was (ms into the period), and
    /// its steal (CPU-ms). A stall of every process at once shows here.
    steal_s: f64,
    steal_worst_window: (f64, f64, f64),
    /// When the measured period began (Unix ms), to line `slow` up with the relay's log
    /// (`TEAMFLOW_BENCH_RELAY_LOG`).
    period_start_unix_ms: u128,
}

/// Samples the machine's steal time about every 100 ms from `start` until `end`: the total, and the window
/// that held the most (its start and length in ms after `start`, its steal in CPU-ms). Each window is
/// timed as it ran, so a sampler that was itself held up reports the longer window it really measured.
async fn watch_steal(start: Instant, end: Instant) -> (f64, (f64, f64, f64)) {
    tokio::time::sleep_until(start.into()).await;
    let first = steal_seconds();
    let (mut last, mut last_at, mut worst) = (first, Instant::now(), (0.0, 0.0, 0.0));
    let mut tick = tokio::time::interval_at((start + Duration::from_millis(100)).into(), Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while last_at < end {
        tick.tick().await;
        let (now, at) = (steal_seconds(), Instant::now());
        let ms = |i: Instant| i.saturating_duration_since(start).as_secs_f64() * 1000.0;
        if (now - last) * 1000.0 > worst.2 {
            worst = (ms(last_at), (at - last_at).as_secs_f64() * 1000.0, (now - last) * 1000.0);
        }
        (last, last_at) = (now, at);
    }
    (last - first, worst)
}

/// Edits `docs` in turn from `start` at `rate` a second until `end`; when each edit was made (µs after
/// `epoch`, the measured period's start) and its latency in µs.
async fn edit(
    client: &SyncClient,
    docs: &[DocHandle],
    offset: usize,
    rate: f64,
    (epoch, start, end): (Instant, Instant, Instant),
) -> Vec<(u64, u64)> {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut latencies = Vec::new();
    for k in 0.. {
        let due = start + interval * k;
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let doc = &docs[(offset + k as usize * 7) % docs.len()];
        let made = Instant::now();
        if splice_text(doc, 0, 0, "a").is_err() || !client.synced_with_relay(doc).await {
            break;
        }
        let micros = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        latencies.push((micros(made.saturating_duration_since(epoch)), micros(made.elapsed())));
    }
    latencies
}

async fn run(name: &str, round: usize, args: &Args) -> anyhow::Result<Run> {
    let system = SyncSystem::start(name, args.devices).await?;
    let setup = Instant::now();
    let mut clients = Vec::new();
    let mut keep = Vec::new();
    for i in 0..args.devices {
        let (c, k) = system.client(i, &format!("device{i}")).await?;
        clients.push(c);
        keep.push(k);
    }
    let mut created = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..args.documents {
        let (url, handle) = clients[0].create_text("").await?;
        urls.push(url);
        created.push(handle);
    }
    system.share_all(&mut clients[0], &created).await?;
    let mut docs = vec![created];
    for client in &clients[1..] {
        let opened: Vec<anyhow::Result<DocHandle>> =
            futures::stream::iter(&urls).map(|url| open(client, url)).buffered(32).collect().await;
        docs.push(opened.into_iter().collect::<anyhow::Result<_>>()?);
    }
    let setup_s = setup.elapsed().as_secs_f64();

    let me = std::process::id().to_string();
    let (cpu_before, server_before) = (cpu_seconds(&me), system.cpu_seconds());
    let start = Instant::now() + Duration::from_millis(200);
    let period_start_unix_ms = (std::time::SystemTime::now() + Duration::from_millis(200))
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let end = start + Duration::from_secs(args.seconds);
    let editors = clients.iter().zip(&docs).enumerate().map(|(i, (client, docs))| {
        // Phases spread over the interval; each device starts at its own place in the documents.
        let offset_in_time = Duration::from_secs_f64(i as f64 / args.devices as f64 / args.rate);
        edit(client, docs, i * args.documents / args.devices, args.rate, (start, start + offset_in_time, end))
    });
    let steal = tokio::spawn(watch_steal(start, end));
    let edits: Vec<(u64, u64)> = futures::future::join_all(editors).await.into_iter().flatten().collect();
    let elapsed = start.elapsed().as_secs_f64();
    let generator_cpu_share = (cpu_seconds(&me) - cpu_before) / elapsed;
    let server_cpu_s = system.cpu_seconds() - server_before;
    let (steal_s, steal_worst_window) = steal.await?;

    for client in clients {
        client.stop().await;
    }
    system.stop().await?;
    let mut histogram = Histogram::<u64>::new(3)?;
    for &(_, l) in &edits {
        histogram.record(l.max(1))?;
    }
    let mut slow: Vec<(f64, f64)> =
        edits.iter().filter(|(_, l)| *l > 10_000).map(|&(at, l)| (at as f64 / 1000.0, l as f64 / 1000.0)).collect();
    slow.sort_by(|a, b| a.0.total_cmp(&b.0));
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Ok(Run {
        system: name.to_owned(),
        round,
        documents: args.documents,
        devices: args.devices,
        setup_s,
        edits: edits.len() as u64,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: histogram.max() as f64 / 1000.0,
        server_cpu_s,
        server_cpu_share: server_cpu_s / elapsed,
        generator_cpu_share,
        saturated: generator_cpu_share > 0.9,
        slow,
        steal_s,
        steal_worst_window,
        period_start_unix_ms,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runs = Vec::new();
    for round in 0..args.repeats {
        for name in &args.systems {
            let result = run(name, round, &args).await?;
            println!("{}", serde_json::to_string(&result)?);
            runs.push(result);
        }
    }
    println!("\n{}", Machine::describe());
    println!(
        "acknowledgement of one edit: {} documents, each open on {} devices, {} edits/s per device; medians of {} rounds\n",
        args.documents, args.devices, args.rate, args.repeats
    );
    println!("| system | edits | p50 | p99 | max | server CPU share | runs p99 |");
    println!("|---|---|---|---|---|---|---|");
    for name in &args.systems {
        let mine: Vec<&Run> = runs.iter().filter(|r| &r.system == name).collect();
        let of = |f: fn(&Run) -> f64| median(mine.iter().map(|r| f(r)).collect());
        println!(
            "| {name} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.0}% | {:?} |",
            of(|r| r.edits as f64),
            of(|r| r.p50_ms),
            of(|r| r.p99_ms),
            of(|r| r.max_ms),
            of(|r| r.server_cpu_share) * 100.0,
            mine.iter().map(|r| r.p99_ms).collect::<Vec<_>>()
        );
    }
    Ok(())
}
