//! Restart under load: clients edit 1,000 documents through the relay, recording each change the relay has
//! acknowledged; the relay is killed with SIGKILL mid-stream and started again on the same port and data.
//! Measured: time until it serves again, time until every client has re-converged on every document, and
//! acknowledged changes lost (must be zero), checked by a fresh device reading every document back.
//!
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/restart` (see
//! docs/benchmarks.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use serde::Serialize;
use serde_json::json;
use teamflow_bench::servers::{cpu_seconds, free_port, setup, sign_up, start_relay_in, wait_ready};
use teamflow_bench::{Machine, median};
use teamflow_protocol::{DocumentUrl, UserId};
use teamflow_sync::automerge::{ChangeHash, ReadDoc as _};
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{ClientConfig, Link, SyncClient, heads, splice_text};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Parser)]
struct Args {
    /// Documents on the relay, spread over the clients.
    #[arg(long, default_value_t = 1000)]
    documents: usize,
    /// Editing clients (each a device of its own user).
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Seconds of editing before the kill (editing goes on until the relay serves again).
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

#[derive(Debug, Serialize)]
struct Run {
    run: usize,
    documents: usize,
    /// Changes the relay acknowledged (to the client that made them) before and after the kill.
    acknowledged: usize,
    /// From SIGKILL to `/readyz` answering.
    serving_again_ms: f64,
    /// From SIGKILL to every client having synced every document both ways.
    reconverged_ms: f64,
    /// Acknowledged changes missing from the relay afterwards.
    lost: usize,
    /// The restarted relay's CPU seconds until re-convergence.
    relay_cpu_s: f64,
}

/// One editing device with its documents.
struct Device {
    sync: SyncClient,
    documents: Vec<(DocumentUrl, DocHandle)>,
    /// Per document: every change the relay has acknowledged.
    acknowledged: Mutex<HashMap<DocumentUrl, Vec<ChangeHash>>>,
    _token: watch::Sender<String>,
}

async fn me(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<UserId> {
    let me = setup(|| http.get(format!("{base}/api/me")).bearer_auth(token)).await?;
    me["user"]["id"].as_str().context("no user id")?.parse().context("user id")
}

/// Signs up the clients into one team and has each create and register its share of the documents.
async fn devices(base: &str, args: &Args) -> anyhow::Result<(Vec<Arc<Device>>, String)> {
    let http = reqwest::Client::new();
    let tokens = sign_up(&http, base, args.clients).await?;
    let team = setup(|| http.post(format!("{base}/api/teams")).bearer_auth(&tokens[0]).json(&json!({"name": "Bench"})))
        .await?;
    let team = team["id"].as_str().context("no team id")?.to_owned();
    for (i, token) in tokens.iter().enumerate().skip(1) {
        teamflow_bench::servers::join_team(&http, base, &tokens[0], &team, i, token).await?;
    }
    let mut devices = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let user = me(&http, base, token).await?;
        let (keep, rx) = watch::channel(token.clone());
        let mut sync = SyncClient::in_memory(ClientConfig::new(base, user, format!("bench{i}")), rx).await;
        let mut documents = Vec::new();
        for d in (0..args.documents).filter(|d| d % args.clients == i) {
            let (url, handle) = sync.create_text("").await?;
            let body = json!({ "document_id": url.to_string(), "title": format!("doc {d}") });
            setup(|| http.post(format!("{base}/api/teams/{team}/documents")).bearer_auth(token).json(&body)).await?;
            documents.push((url, handle));
        }
        // Online after registering, so the handshake offers every document.
        sync.go_online().await?;
        devices.push(Arc::new(Device { sync, documents, acknowledged: Mutex::default(), _token: keep }));
    }
    Ok((devices, tokens[0].clone()))
}

/// Edits the device's documents round-robin, one change each, recording each change once the relay has
/// acknowledged it; while the link is down, waits for it to come back.
async fn edit(device: Arc<Device>, stop: CancellationToken) {
    let mut link = device.sync.status();
    loop {
        for (url, doc) in &device.documents {
            if stop.is_cancelled() {
                return;
            }
            if let Err(e) = splice_text(doc, 0, 0, "x") {
                eprintln!("edit failed: {e}");
                return;
            }
            let made = heads(doc);
            let acknowledged = tokio::select! {
                () = stop.cancelled() => return,
                acknowledged = device.sync.synced_with_relay(doc) => acknowledged,
            };
            if acknowledged {
                let mut acked = device.acknowledged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                acked.entry(url.clone()).or_default().extend(made);
            } else {
                // The relay is down: wait for the link rather than spin.
                tokio::select! {
                    () = stop.cancelled() => return,
                    online = link.wait_for(|s| s.link == Link::Online) => if online.is_err() { return },
                }
            }
        }
    }
}

/// Waits until the relay has all of the device's changes to `doc` and the device has the relay's, over
/// the device's current connection (it may still be redialing, or only just noticing the old one died).
async fn reconverge(device: &Device, doc: &DocHandle) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut link = device.sync.status();
    while Instant::now() < deadline {
        link.wait_for(|s| s.link == Link::Online).await?;
        let both = async { device.sync.synced_with_relay(doc).await && device.sync.caught_up_with_relay(doc).await };
        // A short try: a wait on a connection that has just died never ends, so ask again on the new one.
        if tokio::time::timeout(Duration::from_secs(2), both).await.unwrap_or(false) {
            return Ok(());
        }
    }
    anyhow::bail!("a document never re-converged")
}

async fn run_once(args: &Args, run: usize) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let relay = start_relay_in(dir.path(), port).await?;
    let (devices, token) = devices(&base, args).await?;

    let stop = CancellationToken::new();
    let editors: Vec<_> = devices.iter().map(|d| tokio::spawn(edit(d.clone(), stop.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;

    // kill -9, then start again on the same port and data directory.
    let killed = Instant::now();
    relay.stop().await?;
    let relay = start_relay_in(dir.path(), port).await?;
    wait_ready(&reqwest::Client::new(), &format!("{base}/readyz")).await?;
    let serving_again_ms = killed.elapsed().as_secs_f64() * 1000.0;
    // Editing stops once the relay serves again; what was typed during the outage is still to sync.
    stop.cancel();
    for editor in editors {
        editor.await?;
    }

    // Every client re-converged: the relay has all of each device's changes, and each device the relay's.
    for device in &devices {
        for (_, doc) in &device.documents {
            reconverge(device, doc).await?;
        }
    }
    let reconverged_ms = killed.elapsed().as_secs_f64() * 1000.0;
    let relay_cpu_s = cpu_seconds(&relay.pid.to_string());

    // A fresh device reads every document back from the relay and looks for each acknowledged change.
    let http = reqwest::Client::new();
    let user = me(&http, &base, &token).await?;
    let (_keep, rx) = watch::channel(token);
    let mut reader = SyncClient::in_memory(ClientConfig::new(base.as_str(), user, "verifier"), rx).await;
    reader.go_online().await?;
    let (mut lost, mut acknowledged) = (0, 0);
    for device in &devices {
        let acked = device.acknowledged.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        for (url, changes) in acked {
            acknowledged += changes.len();
            let copy = reader.open(&url).await?.context("an acknowledged document is gone")?;
            lost += copy.with_document(|doc| changes.iter().filter(|c| doc.get_change_by_hash(c).is_none()).count());
        }
    }
    reader.stop().await;
    for device in devices {
        if let Ok(device) = Arc::try_unwrap(device) {
            device.sync.stop().await;
        }
    }
    relay.stop().await?;
    Ok(Run { run, documents: args.documents, acknowledged, serving_again_ms, reconverged_ms, lost, relay_cpu_s })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runs = Vec::new();
    for run in 0..args.runs {
        let result = run_once(&args, run).await?;
        println!("{}", serde_json::to_string(&result)?);
        runs.push(result);
    }
    println!("\n{}", Machine::describe());
    println!(
        "kill -9 under load: {} documents, {} clients, medians of {} runs\n",
        args.documents,
        args.clients,
        runs.len()
    );
    println!("| serving again | re-converged | acknowledged | lost | relay CPU after restart |");
    println!("|---|---|---|---|---|");
    let of = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    println!(
        "| {:.0} ms | {:.0} ms | {:.0} | {} (all runs) | {:.2} s |",
        of(|r| r.serving_again_ms),
        of(|r| r.reconverged_ms),
        of(|r| r.acknowledged as f64),
        runs.iter().map(|r| r.lost).sum::<usize>(),
        of(|r| r.relay_cpu_s)
    );
    Ok(())
}
