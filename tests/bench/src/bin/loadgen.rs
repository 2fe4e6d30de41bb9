//! Relay load generator, first workload: chat fan-out. N clients in teams of M each send chat messages on an
//! open-loop schedule (latency counts from each message's intended send time, so a slow server cannot hide
//! its queueing); every other member of the team must receive each one. Systems run as child processes,
//! alternating (A B A B ...), and are compared on HdrHistogram percentiles, loss, duplicates, delivered rate,
//! and the server's CPU time and RSS from `/proc`.
//!
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/loadgen` (docs/benchmarks.md).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};
use teamflow_bench::median;
use tokio::process::{Child, Command};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
struct Args {
    /// Systems to compare, run alternately: relay (our relay, release build, production settings apart
    /// from the sign-up limit) and ceiling (a bare broadcast server).
    #[arg(long, value_delimiter = ',', default_value = "relay,ceiling")]
    systems: Vec<String>,
    #[arg(long, default_value_t = 200)]
    clients: usize,
    #[arg(long, default_value_t = 100)]
    team_size: usize,
    /// Messages per second each client sends.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Length of the measured window.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

#[derive(Debug, Serialize)]
struct RunReport {
    system: String,
    clients: usize,
    team_size: usize,
    offered_per_s: f64,
    delivered_per_s: f64,
    sent: u64,
    expected: u64,
    received: u64,
    lost: u64,
    duplicates: u64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    max_ms: f64,
    server_cpu_s: f64,
    server_rss_mib: f64,
    generator_cpu_share: f64,
    /// The generator used more than 90% of its core: its figures measure the generator, not the server.
    saturated: bool,
}

/// The shared results of one run's receivers.
#[derive(Debug)]
struct Tally {
    latency_us: Histogram<u64>,
    seen: HashSet<(usize, u64, usize)>,
    received: u64,
    duplicates: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // One thread for the whole generator, pinned away from the server's core where `taskset` exists.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(orchestrate(&args))
}

fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::current_exe()?.parent().context("no binary directory")?.to_owned();
    let path = dir.join(name);
    if !path.exists() {
        bail!("{} is missing: cargo build --release -p teamflow-relay -p teamflow-bench", path.display());
    }
    Ok(path)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts a server on core 0 (when `taskset` is available) and pins this process to core 1.
fn pinned(program: &Path) -> Command {
    let have_taskset = std::process::Command::new("taskset").arg("-V").output().is_ok_and(|o| o.status.success());
    if have_taskset {
        let me = std::process::id().to_string();
        if let Err(e) = std::process::Command::new("taskset").args(["-cp", "1", &me]).output() {
            eprintln!("could not pin the generator: {e}");
        }
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

async fn orchestrate(args: &Args) -> anyhow::Result<()> {
    let mut reports: Vec<RunReport> = Vec::new();
    for round in 0..args.repeats {
        for system in &args.systems {
            eprintln!("round {} of {}: {system}", round + 1, args.repeats);
            let report = match system.as_str() {
                "relay" => run_relay(args).await?,
                "ceiling" => run_ceiling(args).await?,
                other => bail!("unknown system {other}"),
            };
            println!("{}", serde_json::to_string(&report)?);
            reports.push(report);
        }
    }
    summarize(args, &reports);
    Ok(())
}

struct Server {
    child: Child,
    pid: u32,
}

impl Server {
    async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return f64::NAN };
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0 // USER_HZ is 100 on Linux
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(|v| v.trim().trim_end_matches(" kB").to_owned())
        })
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

async fn run_relay(args: &Args) -> anyhow::Result<RunReport> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let child = pinned(&binary("teamflow-relay")?)
        .args(["--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.path())
        // Production settings, except that one address signs up every simulated user.
        .env("TEAMFLOW_AUTH_RATE_PER_MINUTE", "1000000")
        .env("TEAMFLOW_AUTH_RATE_BURST", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let pid = child.id().context("relay exited")?;
    let server = Server { child, pid };
    let http = reqwest::Client::new();
    wait_ready(&http, &format!("{base}/readyz")).await?;

    // Users (a few sign-ups at a time: password hashing is deliberately slow), then teams.
    let mut tokens = Vec::with_capacity(args.clients);
    for chunk in (0..args.clients).collect::<Vec<_>>().chunks(8) {
        let signups = chunk.iter().map(|i| {
            let body = json!({ "email": format!("load{i}@example.test"), "password": "load test password", "display_name": format!("load{i}") });
            let http = http.clone();
            let url = format!("{base}/api/auth/register");
            async move { setup(|| http.post(&url).json(&body)).await }
        });
        for answer in futures::future::try_join_all(signups).await? {
            tokens.push(answer["access_token"].as_str().context("no token")?.to_owned());
        }
    }
    let mut teams = Vec::new();
    for (team_index, members) in (0..args.clients).collect::<Vec<_>>().chunks(args.team_size).enumerate() {
        let owner = &tokens[members[0]];
        let team = setup(|| {
            http.post(format!("{base}/api/teams"))
                .bearer_auth(owner)
                .json(&json!({ "name": format!("team {team_index}") }))
        })
        .await?;
        let team_id = team["id"].as_str().context("team id")?.to_owned();
        for member in &members[1..] {
            let body = json!({ "email": format!("load{member}@example.test"), "role": "member" });
            setup(|| http.post(format!("{base}/api/teams/{team_id}/members")).bearer_auth(owner).json(&body)).await?;
        }
        teams.push(team_id);
    }
    let ws = base.replacen("http", "ws", 1);
    let endpoints: Vec<(String, Option<String>)> = (0..args.clients)
        .map(|i| (format!("{ws}/api/ws?token={}", tokens[i]), Some(teams[i / args.team_size].clone())))
        .collect();
    let report = drive(args, "relay", &server, endpoints).await;
    server.stop().await?;
    report
}

async fn run_ceiling(args: &Args) -> anyhow::Result<RunReport> {
    let port = free_port()?;
    let child =
        pinned(&binary("ceiling")?).args(["--bind", &format!("127.0.0.1:{port}")]).stdout(Stdio::piped()).spawn()?;
    let pid = child.id().context("ceiling exited")?;
    let mut server = Server { child, pid };
    // It prints its address once listening.
    if let Some(stdout) = server.child.stdout.take() {
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
        lines.next_line().await?;
    }
    let endpoints =
        (0..args.clients).map(|i| (format!("ws://127.0.0.1:{port}/team-{}", i / args.team_size), None)).collect();
    let report = drive(args, "ceiling", &server, endpoints).await;
    server.stop().await?;
    report
}

/// A setup request, waiting out the relay's rate limits (its production settings stay as they are).
async fn setup(request: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<Value> {
    loop {
        let response = request().send().await?;
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        return Ok(response.error_for_status()?.json().await?);
    }
}

async fn wait_ready(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server never became ready at {url}")
}

/// Connects every client (joining its team on the relay), runs the open-loop schedule, drains, and reports.
async fn drive(
    args: &Args,
    system: &str,
    server: &Server,
    endpoints: Vec<(String, Option<String>)>,
) -> anyhow::Result<RunReport> {
    let mut sockets = Vec::with_capacity(endpoints.len());
    for (url, team) in &endpoints {
        let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
        if let Some(team) = team {
            socket.send(Message::text(json!({ "type": "join_team", "team_id": team }).to_string())).await?;
            // Wait for the team state, so the run starts with everyone in the room.
            while let Some(frame) = socket.next().await {
                if let Message::Text(text) = frame?
                    && text.as_str().contains("\"team_state\"")
                {
                    break;
                }
            }
        }
        sockets.push(socket);
    }

    let tally = Arc::new(Mutex::new(Tally {
        latency_us: Histogram::new_with_bounds(1, 600_000_000, 3)?,
        seen: HashSet::new(),
        received: 0,
        duplicates: 0,
    }));
    let start = Instant::now() + Duration::from_millis(500);
    let end = start + Duration::from_secs(args.seconds);
    let drain = end + Duration::from_secs(3);
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let server_pid = server.pid.to_string();
    let cpu_before = cpu_seconds(&server_pid);
    let me_before = cpu_seconds("self");
    let mut tasks = Vec::new();
    for (client, socket) in sockets.into_iter().enumerate() {
        let (mut sink, mut stream) = socket.split();
        let team = endpoints[client].1.clone();
        // Spread the clients' send times over one period.
        let phase = period.mul_f64(client as f64 / args.clients as f64);
        tasks.push(tokio::spawn(async move {
            let mut k: u64 = 0;
            loop {
                let intended = start + phase + period * u32::try_from(k).unwrap_or(u32::MAX);
                if intended >= end {
                    break;
                }
                tokio::time::sleep_until(intended).await;
                let stamp = (intended - start).as_nanos();
                let content = format!("{client}:{k}:{stamp}");
                let frame = match &team {
                    Some(team) => json!({ "type": "send_message", "team_id": team, "client_msg_id": format!("{client}-{k}"), "content": content }).to_string(),
                    None => content,
                };
                if sink.send(Message::text(frame)).await.is_err() {
                    break;
                }
                k += 1;
            }
            k
        }));
        let tally = tally.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok(Some(frame)) = tokio::time::timeout_at(drain, stream.next()).await {
                let Ok(Message::Text(text)) = frame else { continue };
                let content = match serde_json::from_str::<Value>(text.as_str()) {
                    Ok(v) if v["type"] == "new_message" => v["message"]["content"].as_str().map(str::to_owned),
                    Ok(_) => None,
                    Err(_) => Some(text.as_str().to_owned()),
                };
                let Some(content) = content else { continue };
                let mut parts = content.splitn(3, ':');
                let (Some(Ok(sender)), Some(Ok(k)), Some(Ok(stamp))) = (
                    parts.next().map(str::parse::<usize>),
                    parts.next().map(str::parse::<u64>),
                    parts.next().map(str::parse::<u64>),
                ) else {
                    continue;
                };
                if sender == client {
                    continue;
                }
                let latency = Instant::now().saturating_duration_since(start + Duration::from_nanos(stamp));
                let mut tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
                if tally.seen.insert((sender, k, client)) {
                    tally.received += 1;
                    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX).max(1);
                    tally.latency_us.saturating_record(micros);
                } else {
                    tally.duplicates += 1;
                }
            }
            0
        }));
    }
    let mut sent_by_client = Vec::new();
    for (i, task) in tasks.into_iter().enumerate() {
        let count = task.await?;
        if i % 2 == 0 {
            sent_by_client.push(count);
        }
    }
    let server_cpu_s = cpu_seconds(&server_pid) - cpu_before;
    let generator_cpu_share = (cpu_seconds("self") - me_before) / (drain - start).as_secs_f64();
    let sent: u64 = sent_by_client.iter().sum();
    let expected: u64 =
        sent_by_client.chunks(args.team_size).map(|team| team.iter().sum::<u64>() * (team.len() as u64 - 1)).sum();
    let tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
    let ms = |q: f64| tally.latency_us.value_at_quantile(q) as f64 / 1000.0;
    Ok(RunReport {
        system: system.to_owned(),
        clients: args.clients,
        team_size: args.team_size,
        offered_per_s: sent as f64 / args.seconds as f64,
        delivered_per_s: tally.received as f64 / args.seconds as f64,
        sent,
        expected,
        received: tally.received,
        lost: expected.saturating_sub(tally.received),
        duplicates: tally.duplicates,
        p50_ms: ms(0.5),
        p90_ms: ms(0.9),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        max_ms: tally.latency_us.max() as f64 / 1000.0,
        server_cpu_s,
        server_rss_mib: rss_mib(server.pid),
        generator_cpu_share,
        saturated: generator_cpu_share > 0.9,
    })
}

fn summarize(args: &Args, reports: &[RunReport]) {
    let machine = teamflow_bench::Machine::describe();
    println!("\nmachine: {} ({} cores), Linux {}", machine.cpu, machine.cores, machine.kernel);
    println!(
        "chat fan-out: {} clients in teams of {}, {} msg/s each, {} s, medians of unsaturated runs",
        args.clients, args.team_size, args.rate, args.seconds
    );
    println!("\n| system | runs | delivered/s | p50 | p99 | p99.9 | max | lost | dup | server CPU | server RSS |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for system in &args.systems {
        let runs: Vec<&RunReport> = reports.iter().filter(|r| &r.system == system && !r.saturated).collect();
        let m = |f: fn(&RunReport) -> f64| median(runs.iter().map(|r| f(r)).collect());
        println!(
            "| {system} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} | {:.0} | {:.2} s | {:.0} MiB |",
            runs.len(),
            m(|r| r.delivered_per_s),
            m(|r| r.p50_ms),
            m(|r| r.p99_ms),
            m(|r| r.p999_ms),
            m(|r| r.max_ms),
            m(|r| r.lost as f64),
            m(|r| r.duplicates as f64),
            m(|r| r.server_cpu_s),
            m(|r| r.server_rss_mib),
        );
    }
    let thrown = reports.iter().filter(|r| r.saturated).count();
    if thrown > 0 {
        println!("\n{thrown} run(s) thrown out: the generator's core was saturated.");
    }
}
