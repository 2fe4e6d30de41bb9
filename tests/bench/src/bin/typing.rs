//! Live typing: M clients on one document, each making one Automerge change per keystroke at 6 chars/s
//! on an open-loop schedule, through our relay and through the Node automerge-repo sync server
//! (`tests/js/sync-server.mjs`), alternating. Latency runs from each keystroke's intended time to its
//! arrival in every other client's document. For each system: the largest M whose p99 stays within 100 ms.
//!
//! Both systems are driven through the automerge-repo sync protocol by the same clients (samod, through
//! `teamflow-sync`): full replicas that keep their documents in memory only unless `--saving-typists`.
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/typing` (needs `./x setup`
//! for the Node packages; see docs/benchmarks.md).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde::Serialize;
use teamflow_bench::servers::cpu_seconds;
use teamflow_bench::systems::{SyncSystem, open};
use teamflow_bench::{Machine, median};
use teamflow_sync::automerge::transaction::Transactable as _;
use teamflow_sync::automerge::{ChangeHash, ROOT, ReadDoc as _};
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{SyncClient, TEXT_FIELD};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_delimiter = ',', default_value = "relay,node")]
    systems: Vec<String>,
    /// Client counts to try, in order; a system stops at the first whose p99 passes 100 ms.
    #[arg(long, value_delimiter = ',', default_value = "2,4,8,16,24,32,48,64")]
    clients: Vec<usize>,
    /// Keystrokes per second per client.
    #[arg(long, default_value_t = 6.0)]
    rate: f64,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Changes the document holds before the typing starts (one character each, typed by client 0 before
    /// it shares it): a long-lived document rather than a fresh one.
    #[arg(long, default_value_t = 0)]
    history: usize,
    /// Rounds; each runs every system once, alternating.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Hold each server process (each relay instance of `clusterN`) to this share of a core once the
    /// setup is done (a CPU cgroup's quota; needs root).
    #[arg(long)]
    cpu_share: Option<f64>,
    /// Writes every delivery of each step to `<prefix>-<system>-<M>`, one line each: sender, receiver,
    /// seconds into the step it was typed, latency in seconds (to see when a tail happened, and to whom).
    #[arg(long)]
    arrivals: Option<String>,
    /// Typists that write their documents to (in-memory) storage, as a device writes to its disk. Off by
    /// default: M devices would each do that on their own machine, but here all M share the generator's one
    /// core, and since their replicas are identical they all compact at the same change counts (256, 512,
    /// 1,024, ...) at once, a stall of the generator that is then in every latency it measures. The server
    /// sees the same traffic either way.
    #[arg(long)]
    saving_typists: bool,
}

#[derive(Debug, Clone, Serialize)]
struct Step {
    system: String,
    round: usize,
    clients: usize,
    /// Changes in the document before the typing.
    history: usize,
    /// Whether the typists wrote their documents to storage (`--saving-typists`).
    saving_typists: bool,
    keystrokes: u64,
    expected: u64,
    received: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    server_cpu_s: f64,
    /// The server's CPU per keystroke delivered to a client, in µs.
    server_cpu_us_per_delivery: f64,
    generator_cpu_share: f64,
    saturated: bool,
    /// Deliveries that never arrived, as `(sender, receiver, count, seconds into the run of the first)`.
    missing: Vec<(usize, usize, u64, f64)>,
}

/// What every client shares: when each change was meant to be typed, and by whom.
#[derive(Default)]
struct Ledger {
    sent: HashMap<ChangeHash, (usize, Instant)>,
    /// Every change as it arrived in a client's document, matched with `sent` only after the step: a
    /// typist records its change's hash just after making it, and a fast delivery could beat that.
    arrivals: Vec<(ChangeHash, usize, Instant)>,
}

/// Creates the step's document on client 0, shares it, and opens it on every client.
async fn document(system: &SyncSystem, clients: &mut [SyncClient], history: usize) -> anyhow::Result<Vec<DocHandle>> {
    let (url, first) = clients[0].create_text("").await?;
    first.with_document(|d| -> anyhow::Result<()> {
        let (_, text) = d.get(ROOT, TEXT_FIELD)?.context("the document's text")?;
        for i in 0..history {
            let mut tx = d.transaction();
            tx.splice_text(&text, i, 0, "h")?;
            tx.commit();
        }
        Ok(())
    })?;
    system.share(&mut clients[0], &first).await?;
    let mut handles = vec![first];
    for c in &clients[1..] {
        handles.push(open(c, &url).await?);
    }
    Ok(handles)
}

/// Types on `doc` as client `me`: keystroke k at `start + offset + k / rate`.
async fn type_on(
    doc: DocHandle,
    me: usize,
    start: Instant,
    offset: Duration,
    args: Arc<Args>,
    ledger: Arc<Mutex<Ledger>>,
) -> u64 {
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let end = start + Duration::from_secs(args.seconds);
    let mut k = 0u32;
    loop {
        let due = start + offset + interval * k;
        if due >= end {
            return u64::from(k);
        }
        tokio::time::sleep_until(due.into()).await;
        let Some(hash) = keystroke(&doc) else {
            return u64::from(k);
        };
        ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner).sent.insert(hash, (me, due));
        k += 1;
    }
}

/// Inserts one character at the start of the text as one change; that change's hash. The hash is taken
/// from the commit, not by building the change again (`get_last_local_change`): the generator's own CPU
/// caps how many typists this benchmark can drive.
fn keystroke(doc: &DocHandle) -> Option<ChangeHash> {
    doc.with_document(|d| {
        let (_, text) = d.get(ROOT, TEXT_FIELD).ok()??;
        let mut tx = d.transaction();
        tx.splice_text(&text, 0, 0, "k").ok()?;
        tx.commit().0
    })
}

/// Records, for every change arriving in `doc`, the latency from its intended typing time.
async fn watch_arrivals(doc: DocHandle, me: usize, ledger: Arc<Mutex<Ledger>>, until: Instant) {
    let mut changes = Box::pin(doc.changes());
    let mut seen = doc.with_document(|d| d.get_heads());
    while let Ok(Some(_)) = tokio::time::timeout_at(until.into(), changes.next()).await {
        let now = Instant::now();
        let arrived: Vec<ChangeHash> = doc.with_document(|d| {
            // The changes' metadata only: building the changes themselves would cost the generator more.
            let fresh = d.get_changes_meta(&seen).iter().map(|c| c.hash).collect();
            seen = d.get_heads();
            fresh
        });
        let mut ledger = ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ledger.arrivals.extend(arrived.into_iter().map(|hash| (hash, me, now)));
    }
}

async fn step(system: &SyncSystem, round: usize, m: usize, args: &Arc<Args>) -> anyhow::Result<Step> {
    let mut clients = Vec::new();
    let mut keep = Vec::new();
    for i in 0..m {
        let (c, k) = system.client_saving(i, &format!("typist{i}"), args.saving_typists).await?;
        clients.push(c);
        keep.push(k);
    }
    let docs = document(system, &mut clients, args.history).await?;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let me = std::process::id().to_string();
    let (cpu_before, server_before) = (cpu_seconds(&me), system.cpu_seconds());
    let start = Instant::now() + Duration::from_millis(200);
    let until = start + Duration::from_secs(args.seconds) + Duration::from_secs(3);
    let watchers: Vec<_> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| tokio::spawn(watch_arrivals(d.clone(), i, ledger.clone(), until)))
        .collect();
    let typists: Vec<_> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let offset = Duration::from_secs_f64(i as f64 / m as f64 / args.rate);
            tokio::spawn(type_on(d.clone(), i, start, offset, args.clone(), ledger.clone()))
        })
        .collect();
    let mut keystrokes = 0;
    for t in typists {
        keystrokes += t.await?;
    }
    for w in watchers {
        w.await?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let generator_cpu_share = (cpu_seconds(&me) - cpu_before) / elapsed;
    let server_cpu_s = system.cpu_seconds() - server_before;
    for c in clients {
        c.stop().await;
    }
    let ledger = ledger.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut latencies = Vec::new();
    let mut arrived = HashSet::new();
    let mut arrivals = match &args.arrivals {
        Some(prefix) => Some(std::io::BufWriter::new(std::fs::File::create(format!("{prefix}-{}-{m}", system.name))?)),
        None => None,
    };
    for &(hash, receiver, at) in &ledger.arrivals {
        if let Some(&(sender, due)) = ledger.sent.get(&hash)
            && sender != receiver
            && arrived.insert((hash, receiver))
        {
            if let Some(out) = arrivals.as_mut() {
                use std::io::Write as _;
                let typed = due.saturating_duration_since(start).as_secs_f64();
                writeln!(out, "{sender} {receiver} {typed:.4} {:.4}", at.saturating_duration_since(due).as_secs_f64())?;
            }
            latencies.push(u64::try_from(at.saturating_duration_since(due).as_micros()).unwrap_or(u64::MAX));
        }
    }
    if let Some(mut out) = arrivals {
        use std::io::Write as _;
        out.flush()?;
    }
    let mut missing: HashMap<(usize, usize), (u64, f64)> = HashMap::new();
    for (hash, &(sender, due)) in &ledger.sent {
        for receiver in (0..m).filter(|&r| r != sender && !arrived.contains(&(*hash, r))) {
            let at = due.saturating_duration_since(start).as_secs_f64();
            let entry = missing.entry((sender, receiver)).or_insert((0, at));
            *entry = (entry.0 + 1, entry.1.min(at));
        }
    }
    let mut missing: Vec<(usize, usize, u64, f64)> =
        missing.into_iter().map(|((s, r), (count, first))| (s, r, count, first)).collect();
    missing.sort_by_key(|m| (m.0, m.1));
    let mut histogram = Histogram::<u64>::new(3)?;
    for &l in &latencies {
        histogram.record(l.max(1))?;
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    Ok(Step {
        history: args.history,
        saving_typists: args.saving_typists,
        system: system.name.clone(),
        round,
        clients: m,
        keystrokes,
        expected: keystrokes * (m as u64 - 1),
        received: latencies.len() as u64,
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        max_ms: histogram.max() as f64 / 1000.0,
        server_cpu_s,
        server_cpu_us_per_delivery: server_cpu_s * 1e6 / latencies.len().max(1) as f64,
        generator_cpu_share,
        saturated: generator_cpu_share > 0.9,
        missing,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    let max_clients = args.clients.iter().copied().max().unwrap_or(2);
    let mut best: HashMap<String, Vec<f64>> = HashMap::new();
    for round in 0..args.repeats {
        for name in &args.systems {
            let mut system = SyncSystem::start(name, max_clients).await?;
            if let Some(share) = args.cpu_share {
                system.limit_cpu(share)?;
            }
            let mut largest = 0;
            for &m in &args.clients {
                let result = step(&system, round, m, &args).await?;
                println!("{}", serde_json::to_string(&result)?);
                let ok = result.p99_ms <= 100.0 && result.received == result.expected && !result.saturated;
                if !ok {
                    break;
                }
                largest = m;
            }
            best.entry(name.clone()).or_default().push(largest as f64);
            system.stop().await?;
        }
    }
    println!("\n{}", Machine::describe());
    println!("live typing at {} chars/s per client: the largest M with p99 <= 100 ms and nothing lost\n", args.rate);
    println!("| system | largest M (median of {}) | runs |", args.repeats);
    println!("|---|---|---|");
    for name in &args.systems {
        let runs = best.remove(name).unwrap_or_default();
        println!("| {name} | {:.0} | {:?} |", median(runs.clone()), runs);
    }
    Ok(())
}
