//! Relay benchmark, idle connections: what each joined but quiet client costs the server in memory. Opens
//! connections in steps (1,000, 5,000, 10,000 by default), each joined to its team and read by the
//! generator (so heartbeats are answered), and reads the server's RSS at each step. Systems alternate
//! (A B A B ...) as child processes pinned to their own core, as in `loadgen`.
//!
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/idle` (docs/benchmarks.md).

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use teamflow_bench::median;
use teamflow_bench::servers::{Server, alternate, connect_ws, rss_mib, setup, sign_up, start_ceiling, start_relay};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::{self, Message};

#[derive(Debug, Parser)]
struct Args {
    /// Systems to compare, run alternately: relay and ceiling (a bare broadcast server).
    #[arg(long, value_delimiter = ',', default_value = "relay,ceiling")]
    systems: Vec<String>,
    /// Connection counts at which the server's memory is read.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000,10000")]
    steps: Vec<usize>,
    /// Users the connections belong to (all in one team; each user connects from many devices).
    #[arg(long, default_value_t = 100)]
    users: usize,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

#[derive(Debug, Serialize)]
struct StepReport {
    system: String,
    connections: usize,
    baseline_rss_mib: f64,
    rss_mib: f64,
    /// (RSS now - RSS before any connection) / connections.
    per_connection_kib: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(orchestrate(&args))
}

async fn orchestrate(args: &Args) -> anyhow::Result<()> {
    let reports = alternate(&args.systems, args.repeats, async |system| match system {
        "relay" => run_relay(args).await,
        "ceiling" => run_ceiling(args).await,
        other => bail!("unknown system {other}"),
    })
    .await?;
    summarize(args, &reports);
    Ok(())
}

async fn run_relay(args: &Args) -> anyhow::Result<Vec<StepReport>> {
    let (server, base, _dir) = start_relay().await?;
    let http = reqwest::Client::new();
    let tokens = sign_up(&http, &base, args.users).await?;
    let team = setup(|| http.post(format!("{base}/api/teams")).bearer_auth(&tokens[0]).json(&json!({"name": "idle"})))
        .await?["id"]
        .as_str()
        .context("team id")?
        .to_owned();
    for (member, token) in tokens.iter().enumerate().skip(1) {
        teamflow_bench::servers::join_team(&http, &base, &tokens[0], &team, member, token).await?;
    }
    let ws = base.replacen("http", "ws", 1);
    let url = format!("{ws}/api/ws");
    let steps = step_through(args, "relay", &server, |i| {
        (url.clone(), Some(tokens[i % tokens.len()].clone()), Some(team.clone()))
    })
    .await;
    server.stop().await?;
    steps
}

async fn run_ceiling(args: &Args) -> anyhow::Result<Vec<StepReport>> {
    let (server, port) = start_ceiling().await?;
    let steps = step_through(args, "ceiling", &server, |_| (format!("ws://127.0.0.1:{port}/team-0"), None, None)).await;
    server.stop().await?;
    steps
}

/// Opens connections up to each step, reading the server's RSS at each.
async fn step_through(
    args: &Args,
    system: &str,
    server: &Server,
    endpoint: impl Fn(usize) -> (String, Option<String>, Option<String>),
) -> anyhow::Result<Vec<StepReport>> {
    // Let the allocator settle after setup (sign-ups hash passwords) before the baseline.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = rss_mib(server.pid);
    let mut readers = JoinSet::new();
    let mut open = 0;
    let mut reports = Vec::new();
    for &step in &args.steps {
        while open < step {
            let (url, token, team) = endpoint(open);
            let socket =
                connect(&url, token.as_deref(), team.as_deref()).await.with_context(|| format!("connection {open}"))?;
            // Read everything (answering pings) until the run ends.
            readers.spawn(async move {
                let (_sink, mut stream) = socket.split();
                while let Some(Ok(_)) = stream.next().await {}
            });
            open += 1;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rss = rss_mib(server.pid);
        reports.push(StepReport {
            system: system.to_owned(),
            connections: open,
            baseline_rss_mib: baseline,
            rss_mib: rss,
            per_connection_kib: (rss - baseline) * 1024.0 / open as f64,
        });
        eprintln!("  {system}: {open} connections, RSS {rss:.1} MiB");
    }
    readers.abort_all();
    Ok(reports)
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects (waiting out the relay's per-user limit on upgrades) and joins `team`, returning once the
/// team's state arrived.
async fn connect(url: &str, token: Option<&str>, team: Option<&str>) -> anyhow::Result<Socket> {
    let mut socket = loop {
        match connect_ws(url, token, None).await {
            Ok(socket) => break socket,
            Err(tungstenite::Error::Http(response)) if response.status() == 429 => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    if let Some(team) = team {
        socket.send(Message::text(json!({ "type": "join_team", "team_id": team }).to_string())).await?;
        while let Some(frame) = socket.next().await {
            if let Message::Text(text) = frame?
                && text.as_str().contains("\"team_state\"")
            {
                break;
            }
        }
    }
    Ok(socket)
}

fn summarize(args: &Args, reports: &[StepReport]) {
    println!("\n{}", teamflow_bench::Machine::describe());
    println!("idle connections, {} users in one team, medians of {} runs", args.users, args.repeats);
    println!("\n| system | connections | server RSS | per connection |");
    println!("|---|---|---|---|");
    for system in &args.systems {
        for &step in &args.steps {
            let runs: Vec<&StepReport> =
                reports.iter().filter(|r| &r.system == system && r.connections == step).collect();
            let rss = median(runs.iter().map(|r| r.rss_mib).collect());
            let per = median(runs.iter().map(|r| r.per_connection_kib).collect());
            println!("| {system} | {step} | {rss:.1} MiB | {per:.1} KiB |");
        }
    }
}
