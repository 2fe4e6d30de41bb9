//! Relay benchmark, memory after documents were opened and left (issue 19): 10,000 documents are each opened
//! once by a device (it asks for the document and gets it), the devices leave, and the relay's RSS is read
//! before they opened anything, once every document is loaded, and through the documents' idle period, with
//! idle documents unloaded (the default) and kept (`--sync-unload-idle-ms 0`, the baseline), alternately in
//! one run.
//!
//! The documents are made once, through a relay with raised limits, and each measured relay starts on a copy
//! of that data directory, so it holds every document in its database and none in memory.
//!
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/unload` (docs/benchmarks.md).

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use futures::{SinkExt as _, StreamExt as _};
use serde::Serialize;
use serde_json::json;
use teamflow_bench::servers::{connect_ws, free_port, join_team, rss_mib, setup, sign_up, start_relay_in_with_env};
use teamflow_bench::{Machine, median};
use teamflow_protocol::UserId;
use teamflow_sync::automerge::transaction::Transactable as _;
use teamflow_sync::automerge::{Automerge, ObjType, ROOT, sync, sync::SyncDoc as _};
use teamflow_sync::samod::{DocumentId, PeerId};
use teamflow_sync::wire::{self, DocMessage, PeerMetadata};
use teamflow_sync::{ClientConfig, SyncClient};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
struct Args {
    /// Documents on the relay, each opened once.
    #[arg(long, default_value_t = 10_000)]
    documents: usize,
    /// Users in one team; each opens its share of the documents on one connection, all at once. (samod scans
    /// every connection against every loaded document on each event, so opening takes long with many: 10
    /// devices had not opened 10,000 documents after 15 minutes.)
    #[arg(long, default_value_t = 2)]
    users: usize,
    /// Changes in each document's history (one edit of a short text each).
    #[arg(long, default_value_t = 50)]
    changes: usize,
    /// The relay's idle period in seconds (`--sync-unload-idle-ms`), and how long the documents are left.
    #[arg(long, default_value_t = 60)]
    idle_secs: u64,
    /// Seconds after the idle period before the last reading: samod's unload ticks, the allocator returning
    /// pages.
    #[arg(long, default_value_t = 10)]
    settle_secs: u64,
    /// Seconds between readings while the documents are idle.
    #[arg(long, default_value_t = 5)]
    every_secs: u64,
    /// `unloading` (the relay's default) and `kept` (unloading off), run alternately.
    #[arg(long, value_delimiter = ',', default_value = "unloading,kept")]
    systems: Vec<String>,
    #[arg(long, default_value_t = 1)]
    repeats: usize,
}

#[derive(Debug, Serialize)]
struct Run {
    system: String,
    round: usize,
    documents: usize,
    users: usize,
    document_bytes: usize,
    idle_secs: u64,
    /// The relay started on the documents' database, nothing opened yet.
    before_rss_mib: f64,
    /// Every document opened and loaded, the devices still connected.
    opened_rss_mib: f64,
    /// `idle_secs + settle_secs` after the devices left.
    after_rss_mib: f64,
    /// `after - before`: the goal is at most 64 MiB.
    kept_mib: f64,
    loaded_opened: i64,
    loaded_after: i64,
    /// From the first request until every document was loaded.
    open_s: f64,
    /// `(seconds since the devices left, RSS in MiB, documents loaded)`.
    timeline: Vec<(u64, f64, i64)>,
}

/// The documents' database, made once, and who may open what.
struct Prepared {
    dir: tempfile::TempDir,
    /// Per user: its documents.
    documents: Vec<Vec<DocumentId>>,
    document_bytes: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    runtime.block_on(run(&args))
}

async fn run(args: &Args) -> anyhow::Result<()> {
    ensure!(args.users > 0 && args.documents >= args.users, "at least one document per user");
    let started = Instant::now();
    let prepared = prepare(args).await?;
    eprintln!(
        "{} documents of {} bytes in the database after {:.0?}",
        args.documents,
        prepared.document_bytes,
        started.elapsed()
    );
    let mut runs = Vec::new();
    for round in 0..args.repeats {
        for system in &args.systems {
            eprintln!("round {} of {}: {system}", round + 1, args.repeats);
            let run = measure(args, &prepared, system, round).await?;
            println!("{}", serde_json::to_string(&run)?);
            runs.push(run);
        }
    }
    summarize(args, &runs);
    Ok(())
}

/// A short text edited `changes` times: a small document with a history, as a team's notes are.
fn template(changes: usize) -> anyhow::Result<Vec<u8>> {
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    let text = tx.put_object(ROOT, teamflow_sync::TEXT_FIELD, ObjType::Text)?;
    tx.commit();
    for i in 0..changes {
        let mut tx = doc.transaction();
        tx.splice_text(&text, 0, 0, &format!("line {i} of the meeting notes\n"))?;
        tx.commit();
    }
    Ok(doc.save())
}

/// Documents one uploading device makes before it leaves (samod's cost per event grows with the documents
/// it holds, on both sides: small batches keep the setup quick).
const BATCH: usize = 250;

/// Makes the documents through a relay whose limits are raised for the setup (and which unloads each batch
/// soon after its device leaves), then stops it.
async fn prepare(args: &Args) -> anyhow::Result<Prepared> {
    let saved = template(args.changes)?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let port = free_port()?;
    let raised = [
        ("TEAMFLOW_RATE_PER_SECOND", "1000000"),
        ("TEAMFLOW_RATE_BURST", "1000000"),
        ("TEAMFLOW_SYNC_FRAMES_PER_SECOND", "1000000"),
        ("TEAMFLOW_SYNC_FRAME_BURST", "1000000"),
        ("TEAMFLOW_SYNC_UNLOAD_IDLE_MS", "500"),
    ];
    let server = start_relay_in_with_env(&data, port, &raised).await?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let tokens = sign_up(&http, &base, args.users).await?;
    let team = setup(|| http.post(format!("{base}/api/teams")).bearer_auth(&tokens[0]).json(&json!({"name": "Notes"})))
        .await?["id"]
        .as_str()
        .context("team id")?
        .to_owned();
    for (member, token) in tokens.iter().enumerate().skip(1) {
        join_team(&http, &base, &tokens[0], &team, member, token).await?;
    }
    let per_user = args.documents.div_ceil(args.users);
    let mut uploads = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let count = per_user.min(args.documents - i * per_user);
        uploads.push(upload(&http, &base, &team, token, i, count, &saved));
    }
    let documents = futures::future::try_join_all(uploads).await?;
    server.stop().await?;
    Ok(Prepared { dir, documents, document_bytes: saved.len() })
}

/// User `i` imports `count` copies of the document (each its own document), registers them and waits until
/// the relay has them, a batch per device.
async fn upload(
    http: &reqwest::Client,
    base: &str,
    team: &str,
    token: &str,
    i: usize,
    count: usize,
    saved: &[u8],
) -> anyhow::Result<Vec<DocumentId>> {
    let user = user_id(http, base, token).await?;
    let mut ids = Vec::with_capacity(count);
    for batch in 0..count.div_ceil(BATCH) {
        let (_keep, rx) = watch::channel(token.to_owned());
        let device = format!("uploader{i}-{batch}");
        let mut sync = SyncClient::in_memory(ClientConfig::new(base, user, device), rx).await;
        let mut handles = Vec::with_capacity(BATCH);
        for _ in 0..BATCH.min(count - batch * BATCH) {
            let (url, handle) = sync.import(saved).await?;
            let body = json!({ "document_id": url.to_string(), "title": "notes" });
            setup(|| http.post(format!("{base}/api/teams/{team}/documents")).bearer_auth(token).json(&body)).await?;
            handles.push((url, handle));
        }
        // Online only now: the handshake offers every document, all registered.
        sync.go_online().await?;
        for (url, handle) in &handles {
            ensure!(sync.synced_with_relay(handle).await, "the relay never got {url}");
            ids.push(url.document_id().parse()?);
        }
        drop(handles);
        sync.stop().await;
    }
    Ok(ids)
}

async fn user_id(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<UserId> {
    let me = setup(|| http.get(format!("{base}/api/me")).bearer_auth(token)).await?;
    Ok(me["user"]["id"].as_str().context("user id")?.parse()?)
}

/// One run: a relay on a copy of the documents' database, every document opened once, the devices gone,
/// memory read as the documents sit idle.
async fn measure(args: &Args, prepared: &Prepared, system: &str, round: usize) -> anyhow::Result<Run> {
    let idle_ms = match system {
        "unloading" => (args.idle_secs * 1000).to_string(),
        "kept" => "0".to_owned(),
        other => bail!("unknown system {other}"),
    };
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    copy_dir(&prepared.dir.path().join("data"), &data)?;
    let port = free_port()?;
    // Production settings but for the access tokens' lifetime: opening takes minutes, and a token that
    // expires meanwhile ends its device's connection (4001).
    let env = [("TEAMFLOW_SYNC_UNLOAD_IDLE_MS", idle_ms.as_str()), ("TEAMFLOW_ACCESS_TOKEN_TTL", "7200")];
    let server = start_relay_in_with_env(&data, port, &env).await?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Fresh sign-ins: the preparation's tokens may have expired.
    let mut users = Vec::new();
    for i in 0..args.users {
        let body = json!({ "email": format!("load{i}@example.test"), "password": "load test password" });
        let token = setup(|| http.post(format!("{base}/api/auth/login")).json(&body)).await?["access_token"]
            .as_str()
            .context("token")?
            .to_owned();
        let user = user_id(&http, &base, &token).await?;
        users.push((token, user));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = rss_mib(server.pid);
    ensure!(loaded(&http, &base).await? == 0, "nothing is loaded before the devices come");

    // Every user's device connects, then all ask for their documents at once.
    let ws = base.replacen("http", "ws", 1);
    let mut sockets = Vec::new();
    for (i, (token, user)) in users.iter().enumerate() {
        let peer = format!("{user}:device{i}");
        sockets.push(handshake(&format!("{ws}/sync?peer_id={peer}"), token, &peer).await?);
    }
    let opening = Instant::now();
    let opened = sockets
        .into_iter()
        .zip(&prepared.documents)
        .map(|((socket, peer, relay), documents)| open_all(socket, peer, relay, documents));
    let sockets = futures::future::try_join_all(opened).await?;
    let total: usize = prepared.documents.iter().map(Vec::len).sum();
    let loaded_opened = wait_loaded(&http, &base, |n| n >= total as i64).await?;
    let open_s = opening.elapsed().as_secs_f64();
    let opened_rss = rss_mib(server.pid);
    eprintln!("  {system}: {loaded_opened} loaded in {open_s:.1} s; RSS {before:.1} -> {opened_rss:.1} MiB");

    // The devices leave; the documents sit idle.
    for mut socket in sockets {
        if let Err(e) = socket.close(None).await {
            eprintln!("  a device's socket did not close cleanly: {e}");
        }
    }
    let left = Instant::now();
    let end = Duration::from_secs(args.idle_secs + args.settle_secs);
    let mut timeline = Vec::new();
    loop {
        let at = left.elapsed();
        let (rss, count) = (rss_mib(server.pid), loaded(&http, &base).await?);
        timeline.push((at.as_secs(), rss, count));
        eprintln!("  {system}: {:>3} s idle: RSS {rss:.1} MiB, {count} loaded", at.as_secs());
        if at >= end {
            break;
        }
        let next = Duration::from_secs(args.every_secs).min(end - at);
        tokio::time::sleep(next).await;
    }
    let &(_, after, loaded_after) = timeline.last().context("a reading")?;
    server.stop().await?;
    Ok(Run {
        system: system.to_owned(),
        round,
        documents: total,
        users: args.users,
        document_bytes: prepared.document_bytes,
        idle_secs: args.idle_secs,
        before_rss_mib: before,
        opened_rss_mib: opened_rss,
        after_rss_mib: after,
        kept_mib: after - before,
        loaded_opened,
        loaded_after,
        open_s,
        timeline,
    })
}

type Socket = teamflow_bench::servers::WebSocket;

/// Connects to `/sync` and completes the automerge-repo handshake; answers the socket, our peer id and the
/// relay's.
async fn handshake(url: &str, token: &str, peer: &str) -> anyhow::Result<(Socket, PeerId, PeerId)> {
    let mut socket = connect_ws(url, Some(token), None).await?;
    let peer = PeerId::from(peer);
    let join = wire::Message::Join {
        sender_id: peer.clone(),
        supported_protocol_versions: vec![wire::PROTOCOL_VERSION.into()],
        metadata: Some(PeerMetadata { storage_id: None, is_ephemeral: true }),
    };
    socket.send(Message::binary(join.encode())).await?;
    loop {
        let frame = socket.next().await.context("closed during the handshake")??;
        if let Message::Binary(bytes) = frame {
            match wire::Message::decode(&bytes)? {
                wire::Message::Peer { sender_id, .. } => return Ok((socket, peer, sender_id)),
                other => bail!("expected `peer`, got {other:?}"),
            }
        }
    }
}

/// Asks for every document (an empty device's first request) and waits until each has been answered with
/// its content. Sends and reads at once: the relay queues only so much for a peer that does not read.
async fn open_all(socket: Socket, peer: PeerId, relay: PeerId, documents: &[DocumentId]) -> anyhow::Result<Socket> {
    let request = Automerge::new()
        .generate_sync_message(&mut sync::State::new())
        .context("an empty document's first message")?
        .encode();
    let (mut sink, mut stream) = socket.split();
    let send = async {
        for document in documents {
            let message = wire::Message::Request(DocMessage {
                document_id: document.clone(),
                sender_id: peer.clone(),
                target_id: relay.clone(),
                data: request.clone(),
            });
            sink.send(Message::binary(message.encode())).await?;
        }
        anyhow::Ok(())
    };
    let receive = async {
        let mut waiting: HashSet<&DocumentId> = documents.iter().collect();
        while !waiting.is_empty() {
            let frame = stream.next().await.context("closed before every document arrived")??;
            let Message::Binary(bytes) = frame else { continue };
            match wire::Message::decode(&bytes)? {
                wire::Message::Sync(m) | wire::Message::Request(m)
                    if !sync::Message::decode(&m.data)?.changes.is_empty() =>
                {
                    waiting.remove(&m.document_id);
                }
                answer @ (wire::Message::DocUnavailable { .. } | wire::Message::Error { .. }) => {
                    bail!("the relay answered {answer:?}")
                }
                _ => {}
            }
        }
        anyhow::Ok(())
    };
    futures::try_join!(send, receive)?;
    Ok(sink.reunite(stream)?)
}

/// The relay's `teamflow_sync_documents_loaded`.
async fn loaded(http: &reqwest::Client, base: &str) -> anyhow::Result<i64> {
    let text = http.get(format!("{base}/metrics")).send().await?.error_for_status()?.text().await?;
    text.lines()
        .find_map(|l| l.strip_prefix("teamflow_sync_documents_loaded "))
        .context("no documents gauge")?
        .trim()
        .parse()
        .context("a count")
}

/// Reads the gauge until `done` (samod loads a document after the relay answered it from its cache).
async fn wait_loaded(http: &reqwest::Client, base: &str, done: impl Fn(i64) -> bool) -> anyhow::Result<i64> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let n = loaded(http, base).await?;
        if done(n) {
            return Ok(n);
        }
        ensure!(Instant::now() < deadline, "only {n} documents were ever loaded");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn summarize(args: &Args, runs: &[Run]) {
    println!("\n{}", Machine::describe());
    println!(
        "{} documents ({} bytes saved, {} changes each) opened once by {} devices, then idle {} s (+{} s); medians",
        args.documents,
        runs.first().map_or(0, |r| r.document_bytes),
        args.changes,
        args.users,
        args.idle_secs,
        args.settle_secs
    );
    println!(
        "\n| relay | RSS before | all opened | {} s after the devices left | kept | loaded then |",
        args.idle_secs + args.settle_secs
    );
    println!("|---|---|---|---|---|---|");
    for system in &args.systems {
        let mine: Vec<&Run> = runs.iter().filter(|r| &r.system == system).collect();
        let med = |f: fn(&Run) -> f64| median(mine.iter().map(|r| f(r)).collect());
        println!(
            "| {system} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:+.1} MiB | {:.0} |",
            med(|r| r.before_rss_mib),
            med(|r| r.opened_rss_mib),
            med(|r| r.after_rss_mib),
            med(|r| r.kept_mib),
            med(|r| r.loaded_after as f64),
        );
    }
}
