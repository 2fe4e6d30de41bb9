//! Replays a real editing trace one change per keystroke through the node's document API and through raw
//! automerge in the same invocation, then times a fresh device fetching the finished document through the
//! relay against reopening it from local storage. Each measured run is its own process, so peak memory is
//! that run's alone. Results: one JSON line per run, then a Markdown summary of medians.
//!
//! `cargo run --release -p teamflow-bench --bin trace-replay` (see docs/benchmarks.md).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context as _, bail, ensure};
use automerge::transaction::Transactable as _;
use automerge::{Automerge, ObjType, ROOT};
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use teamflow_bench::{Machine, Trace, data_dir, median, peak_rss_kib};
use teamflow_node::Node;
use teamflow_protocol::DocumentUrl;
use teamflow_sync::Splice;

#[derive(Debug, Parser)]
struct Args {
    /// The gzipped sequential trace to replay.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Rounds; each round runs every system once, alternating.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// What to run: raw, offline, per-call, fetch (upload the finished document, then fetch it on a fresh
    /// device), online (type while syncing live; see docs/benchmarks.md for why it is not a default).
    #[arg(long, value_delimiter = ',', default_value = "raw,offline,per-call,fetch")]
    systems: Vec<String>,
    #[command(subcommand)]
    child: Option<Child>,
}

/// One measured run, in a process of its own (started by the orchestrator, not by hand).
#[derive(Debug, Subcommand)]
enum Child {
    Raw,
    Node {
        #[arg(long)]
        relay: String,
        #[arg(long)]
        email: String,
        /// Sync with the relay while typing, as the app does.
        #[arg(long)]
        online: bool,
        /// Call samod once per keystroke (`splice_text`) instead of through the node's `TextWriter`.
        #[arg(long)]
        per_call: bool,
    },
    /// Puts the finished document (replayed with raw automerge, so with its whole history) on the relay.
    Upload {
        #[arg(long)]
        relay: String,
        #[arg(long)]
        email: String,
    },
    Fetch {
        #[arg(long)]
        relay: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        doc: DocumentUrl,
    },
}

const PASSWORD: &str = "benchmark password";

#[derive(Debug, Serialize, Deserialize)]
struct Run {
    system: String,
    changes: usize,
    replay_ms: f64,
    /// Online runs: from the last keystroke until the relay has every change.
    sync_wait_ms: Option<f64>,
    peak_rss_kib: Option<u64>,
    saved_bytes: usize,
    /// The node's SQLite store (database plus write-ahead log) after the run.
    store_bytes: Option<u64>,
    doc: Option<DocumentUrl>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Fetch {
    system: String,
    relay_fetch_ms: f64,
    local_open_ms: f64,
    saved_bytes: usize,
    peak_rss_kib: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let trace_path = args.trace.clone().unwrap_or_else(|| data_dir().join("editing-traces/automerge-paper.json.gz"));
    let runtime = tokio::runtime::Runtime::new()?;
    match args.child {
        None => runtime.block_on(orchestrate(&trace_path, args.runs, &args.systems)),
        Some(Child::Raw) => print(&raw(&Trace::load(&trace_path)?)?),
        Some(Child::Node { relay, email, online, per_call }) => {
            print(&runtime.block_on(node(&Trace::load(&trace_path)?, &relay, &email, online, per_call))?)
        }
        Some(Child::Upload { relay, email }) => {
            print(&runtime.block_on(upload(&Trace::load(&trace_path)?, &relay, &email))?)
        }
        Some(Child::Fetch { relay, email, doc }) => {
            let trace = Trace::load(&trace_path)?;
            print(&runtime.block_on(fetch(&trace.end_content, &relay, &email, &doc))?)
        }
    }
}

fn print(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn raw(trace: &Trace) -> anyhow::Result<Run> {
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    let text = tx.put_object(ROOT, teamflow_sync::TEXT_FIELD, ObjType::Text)?;
    tx.commit();
    let start = Instant::now();
    let mut changes = 0;
    for patch in trace.patches() {
        let mut tx = doc.transaction();
        tx.splice_text(&text, patch.0, isize::try_from(patch.1)?, &patch.2)?;
        tx.commit();
        changes += 1;
    }
    let replay_ms = ms(start);
    // Before saving and loading below, which allocate more than the replay did.
    let peak = peak_rss_kib();
    ensure!(automerge::ReadDoc::text(&doc, &text)? == trace.end_content, "raw replay did not reach the end text");
    let start = Instant::now();
    let saved = doc.save();
    let save_ms = ms(start);
    let peak_after_save = peak_rss_kib();
    let start = Instant::now();
    let loaded = Automerge::load(&saved)?;
    let load_ms = ms(start);
    ensure!(loaded.get_heads() == doc.get_heads(), "the saved document loads back the same");
    // What handing a compaction to another thread would cost the editing thread.
    let start = Instant::now();
    let copy = doc.clone();
    let clone_ms = ms(start);
    drop(copy);
    eprintln!(
        "raw automerge: save {save_ms:.0} ms, load {load_ms:.0} ms, clone {clone_ms:.0} ms for the finished document; \
         peak {:?} KiB after the replay, {peak_after_save:?} KiB after saving",
        peak
    );
    Ok(Run {
        system: "raw automerge".into(),
        changes,
        replay_ms,
        sync_wait_ms: None,
        peak_rss_kib: peak,
        saved_bytes: saved.len(),
        store_bytes: None,
        doc: None,
    })
}

async fn node(trace: &Trace, relay: &str, email: &str, online: bool, per_call: bool) -> anyhow::Result<Run> {
    let dir = tempfile::tempdir()?;
    let node = Node::open(dir.path(), relay).await?;
    node.sign_up(email, PASSWORD, "Bench").await?;
    let team = node.create_team("Bench").await?.id;
    if online {
        node.go_online().await?;
    }
    let (url, doc) = node.create_document(team, "automerge-paper", &trace.start_content).await?;
    let start = Instant::now();
    let mut changes = 0;
    if per_call {
        for patch in trace.patches() {
            teamflow_sync::splice_text(&doc, patch.0, isize::try_from(patch.1)?, &patch.2)?;
            changes += 1;
        }
    } else {
        let writer = node.text_writer(&doc).await?;
        for patch in trace.patches() {
            writer.splice(Splice { position: patch.0, delete: patch.1, insert: patch.2.clone() }).await?;
            changes += 1;
        }
        writer.flush().await?;
    }
    let replay_ms = ms(start);
    let sync_wait_ms = if online {
        let start = Instant::now();
        ensure!(node.synced_with_relay(&doc).await?, "not online");
        Some(ms(start))
    } else {
        None
    };
    ensure!(teamflow_sync::read_text(&doc) == trace.end_content, "node replay did not reach the end text");
    // Before the save below, which is the benchmark's, not the node's (as for raw automerge).
    let peak = peak_rss_kib();
    let saved_bytes = doc.with_document(|d| d.save().len());
    // Where the first version of this benchmark read it (so comparable with its figures).
    let peak_after_save = peak_rss_kib();
    drop(doc);
    let start = Instant::now();
    node.close().await;
    eprintln!(
        "node: peak {peak:?} KiB after the replay, {peak_after_save:?} KiB after the benchmark's save, {:?} KiB \
         after closing (in {:.0} ms)",
        peak_rss_kib(),
        ms(start)
    );
    let store_bytes = ["node.db", "node.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.path().join(f)).ok())
        .map(|m| m.len())
        .sum();
    Ok(Run {
        system: match (online, per_call) {
            (_, true) => "node, one samod call per keystroke",
            (true, false) => "node, syncing live",
            (false, false) => "node, offline",
        }
        .into(),
        changes,
        replay_ms,
        sync_wait_ms,
        peak_rss_kib: peak,
        saved_bytes,
        store_bytes: Some(store_bytes),
        doc: Some(url),
    })
}

#[derive(Debug, Serialize, Deserialize)]
struct Upload {
    doc: DocumentUrl,
    saved_bytes: usize,
    upload_ms: f64,
}

async fn upload(trace: &Trace, relay: &str, email: &str) -> anyhow::Result<Upload> {
    let saved = trace.finished_document()?;
    let dir = tempfile::tempdir()?;
    let node = Node::open(dir.path(), relay).await?;
    node.sign_up(email, PASSWORD, "Bench").await?;
    let team = node.create_team("Bench").await?.id;
    node.go_online().await?;
    let start = Instant::now();
    let (doc, handle) = node.import_document(team, "automerge-paper", &saved).await?;
    ensure!(node.synced_with_relay(&handle).await?, "went offline");
    let upload_ms = ms(start);
    node.close().await;
    Ok(Upload { doc, saved_bytes: saved.len(), upload_ms })
}

async fn fetch(end_text: &str, relay: &str, email: &str, url: &DocumentUrl) -> anyhow::Result<Fetch> {
    let dir = tempfile::tempdir()?;
    let node = Node::open(dir.path(), relay).await?;
    node.sign_in(email, PASSWORD).await?;
    node.go_online().await?;
    let start = Instant::now();
    let doc = node.open_document(url).await?.context("the relay did not share the document")?;
    ensure!(node.caught_up_with_relay(&doc).await?, "went offline");
    let relay_fetch_ms = ms(start);
    ensure!(teamflow_sync::read_text(&doc) == end_text, "fetched a different text");
    let saved_bytes = doc.with_document(|d| d.save().len());
    drop(doc);
    node.close().await;

    let start = Instant::now();
    let node = Node::open(dir.path(), relay).await?;
    let doc = node.open_document(url).await?.context("not in local storage")?;
    ensure!(teamflow_sync::read_text(&doc) == end_text, "local copy differs");
    let local_open_ms = ms(start);
    node.close().await;
    Ok(Fetch {
        system: "fresh device".into(),
        relay_fetch_ms,
        local_open_ms,
        saved_bytes,
        peak_rss_kib: peak_rss_kib(),
    })
}

/// Runs `args` as a child of this binary and parses the JSON line it prints.
async fn child<T: for<'de> Deserialize<'de>>(trace: &std::path::Path, args: &[&str]) -> anyhow::Result<T> {
    let exe = std::env::current_exe()?;
    let output = tokio::process::Command::new(exe)
        .arg("--trace")
        .arg(trace)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?
        .wait_with_output()
        .await?;
    if !output.status.success() {
        bail!("{args:?} failed: {}", output.status);
    }
    let line = String::from_utf8(output.stdout)?;
    println!("{}", line.trim());
    Ok(serde_json::from_str(line.trim())?)
}

async fn orchestrate(trace_path: &std::path::Path, runs: usize, systems: &[String]) -> anyhow::Result<()> {
    let wanted = |name: &str| systems.iter().any(|s| s == name);
    let trace = Trace::load(trace_path)?;
    let keystrokes = trace.patches().count();
    eprintln!("trace {}: {keystrokes} changes, {} chars at the end", trace_path.display(), trace.end_content.len());
    drop(trace);
    let relay = teamflow_tests::TestRelay::start().await;
    let relay_url = relay.url("");
    let mut replays: Vec<Run> = Vec::new();
    let mut fetches: Vec<Fetch> = Vec::new();
    for round in 0..runs {
        if wanted("raw") {
            replays.push(child(trace_path, &["raw"]).await?);
        }
        if wanted("fetch") {
            let email = format!("bench-{round}-upload@example.test");
            let upload: Upload = child(trace_path, &["upload", "--relay", &relay_url, "--email", &email]).await?;
            eprintln!("uploaded {} bytes in {:.0} ms", upload.saved_bytes, upload.upload_ms);
            let doc = upload.doc.to_string();
            fetches.push(child(trace_path, &["fetch", "--relay", &relay_url, "--email", &email, "--doc", &doc]).await?);
        }
        for (name, flag) in [("offline", None), ("online", Some("--online")), ("per-call", Some("--per-call"))] {
            if !wanted(name) {
                continue;
            }
            let email = format!("bench-{round}-{name}@example.test");
            let mut args = vec!["node", "--relay", &relay_url, "--email", &email];
            args.extend(flag);
            replays.push(child(trace_path, &args).await?);
        }
    }
    relay.stop().await;
    summarize(&replays, &fetches);
    Ok(())
}

fn summarize(replays: &[Run], fetches: &[Fetch]) {
    println!("\n{}", Machine::describe());
    println!(
        "\n| system | changes | replay (median) | per change | vs raw | sync wait | peak RSS | saved | store on disk |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let systems = ["raw automerge", "node, offline", "node, syncing live", "node, one samod call per keystroke"];
    let raw_ms = median(replays.iter().filter(|r| r.system == systems[0]).map(|r| r.replay_ms).collect());
    for system in systems {
        let runs: Vec<&Run> = replays.iter().filter(|r| r.system == system).collect();
        let Some(first) = runs.first() else { continue };
        let replay = median(runs.iter().map(|r| r.replay_ms).collect());
        let sync = runs.iter().filter_map(|r| r.sync_wait_ms).collect::<Vec<_>>();
        let rss = median(runs.iter().filter_map(|r| r.peak_rss_kib).map(|k| k as f64).collect());
        let store = runs.iter().filter_map(|r| r.store_bytes).map(|b| b as f64).collect::<Vec<_>>();
        println!(
            "| {system} | {} | {:.0} ms | {:.1} µs | {:.2}x | {} | {:.0} MiB | {:.0} KB | {} |",
            first.changes,
            replay,
            replay * 1000.0 / first.changes as f64,
            replay / raw_ms,
            if sync.is_empty() { "-".into() } else { format!("{:.0} ms", median(sync)) },
            rss / 1024.0,
            first.saved_bytes as f64 / 1000.0,
            if store.is_empty() { "-".into() } else { format!("{:.1} MB", median(store) / 1e6) },
        );
    }
    if !fetches.is_empty() {
        println!("\n| fresh device | median | runs |");
        println!("|---|---|---|");
        let relay = median(fetches.iter().map(|f| f.relay_fetch_ms).collect());
        let local = median(fetches.iter().map(|f| f.local_open_ms).collect());
        println!("| fetch through the relay | {relay:.0} ms | {} |", fetches.len());
        println!("| open from local storage | {local:.0} ms | {} |", fetches.len());
    }
}
