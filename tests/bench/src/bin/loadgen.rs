//! Relay load generator, first workload: chat fan-out. N clients in teams of M each send chat messages on an
//! open-loop schedule (latency counts from each message's intended send time, so a slow server cannot hide
//! its queueing); every other member of the team must receive each one. Systems run as child processes,
//! alternating (A B A B ...), and are compared on HdrHistogram percentiles, loss, duplicates, delivered rate,
//! and the server's CPU time and RSS from `/proc`.
//!
//! `cargo build --release -p teamflow-relay -p teamflow-bench && target/release/loadgen` (docs/benchmarks.md).
//!
//! `clusterN` is N relay instances on PostgreSQL and NATS (docs/scale-out.md), client i on instance i mod N,
//! so every team spans every instance; `--cpu-share` holds each relay instance to that share of a core.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};
use teamflow_bench::cluster::{Cluster, CpuLimit};
use teamflow_bench::median;
use teamflow_bench::servers::{
    RelayTls, Server, alternate, connect_ws, cpu_seconds, rss_mib, setup, sign_up, start_ceiling, start_relay,
    start_relay_tls,
};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Parser)]
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
    /// Instead of one rate: search each system for the highest per-client rate whose p99 is at most
    /// 100 ms with nothing lost (doubling from `--rate`, then bisecting; one run per probe).
    #[arg(long)]
    search: bool,
    /// How close the search brackets the limit: it stops once the failed rate is within this fraction
    /// above the rate that held.
    #[arg(long, default_value_t = 0.05)]
    precision: f64,
    /// Hold each relay instance (`relay` and every instance of `clusterN`) to this share of a core once
    /// the setup is done (a CPU cgroup's quota; needs root). Without it they share core 0 freely.
    #[arg(long)]
    cpu_share: Option<f64>,
}

#[derive(Debug, Serialize)]
struct RunReport {
    system: String,
    /// Relay instances serving the clients (1 but for `clusterN`).
    instances: usize,
    cpu_share: Option<f64>,
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
    /// The relay instances' CPU time, together (or the ceiling's).
    server_cpu_s: f64,
    /// For `clusterN`: PostgreSQL's (the postmaster and its backends) and NATS's CPU time.
    postgres_cpu_s: Option<f64>,
    nats_cpu_s: Option<f64>,
    /// Every server-side process's CPU time (relays, PostgreSQL, NATS) per message delivered.
    cpu_us_per_delivery: f64,
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

async fn orchestrate(args: &Args) -> anyhow::Result<()> {
    if args.search {
        return search(args).await;
    }
    let reports =
        alternate(&args.systems, args.repeats, async |system| Ok(vec![run_system(args, system).await?])).await?;
    summarize(args, &reports);
    Ok(())
}

/// The outcome of one system's rate search.
#[derive(Debug, Serialize)]
struct Searched {
    system: String,
    /// The highest delivery rate that met the bound, and the per-client rate that gave it.
    best_delivered_per_s: f64,
    best_rate: f64,
    /// The search stopped because the generator's core saturated: the system's own limit is higher.
    generator_bound: bool,
}

/// Probes rates for each system: doubling while the bound holds, then bisecting between the last rate
/// that held and the first that did not, until they are within `--precision` or after 10 probes. Every
/// probe of a system runs on the one instance of it started (and populated) for the search.
async fn search(args: &Args) -> anyhow::Result<()> {
    let mut found = Vec::new();
    for system in &args.systems {
        let (mut ok, mut failed): (Option<(f64, f64)>, Option<f64>) = (None, None);
        let mut rate = args.rate;
        let mut generator_bound = false;
        let prepared = prepare(args, system).await?;
        for _ in 0..10 {
            let probe = Args { rate, ..args.clone() };
            let report = drive(&probe, &prepared).await?;
            println!("{}", serde_json::to_string(&report)?);
            if report.saturated {
                generator_bound = true;
                break;
            }
            if report.p99_ms <= 100.0 && report.lost == 0 {
                ok = Some((rate, report.delivered_per_s));
            } else {
                failed = Some(rate);
            }
            rate = match (ok, failed) {
                (Some((good, _)), Some(bad)) if bad / good < 1.0 + args.precision => break,
                (Some((good, _)), Some(bad)) => (good + bad) / 2.0,
                (Some((good, _)), None) => good * 2.0,
                (None, _) => rate / 2.0,
            };
        }
        prepared.stop().await?;
        let (best_rate, best_delivered_per_s) = ok.unwrap_or((0.0, 0.0));
        found.push(Searched { system: system.clone(), best_delivered_per_s, best_rate, generator_bound });
    }
    println!("\n{}", teamflow_bench::Machine::describe());
    println!(
        "chat fan-out rate search: {} clients in teams of {}, {} s per probe{}",
        args.clients,
        args.team_size,
        args.seconds,
        args.cpu_share.map(|s| format!(", each relay instance held to {s} of a core")).unwrap_or_default()
    );
    println!("\n| system | highest delivered/s with p99 <= 100 ms, nothing lost | per-client rate | stopped by |");
    println!("|---|---|---|---|");
    for f in &found {
        let stop = if f.generator_bound { "the generator's core (the system's limit is higher)" } else { "the bound" };
        println!("| {} | {:.0} | {:.2} msg/s | {stop} |", f.system, f.best_delivered_per_s, f.best_rate);
    }
    Ok(())
}

/// One run of `system` at `args.rate`, on a system started for it.
async fn run_system(args: &Args, system: &str) -> anyhow::Result<RunReport> {
    let prepared = prepare(args, system).await?;
    let report = drive(args, &prepared).await;
    prepared.stop().await?;
    report
}

/// A system under test, started, populated (every client signed up and in its team) and, with
/// `--cpu-share`, held to its CPU: it serves every probe of a search, which then measures the chat alone.
struct Prepared {
    name: String,
    processes: Processes,
    endpoints: Vec<Endpoint>,
    connector: Option<tokio_tungstenite::Connector>,
}

#[allow(clippy::large_enum_variant, reason = "one value per system under test: its size does not matter")]
enum Processes {
    One { server: Server, _dir: Option<tempfile::TempDir>, _limit: Option<CpuLimit> },
    Cluster(Cluster),
}

/// CPU seconds used so far by the system under test.
struct Usage {
    server: f64,
    postgres: Option<f64>,
    nats: Option<f64>,
}

impl Prepared {
    fn usage(&self) -> Usage {
        match &self.processes {
            Processes::One { server, .. } => {
                Usage { server: cpu_seconds(&server.pid.to_string()), postgres: None, nats: None }
            }
            Processes::Cluster(cluster) => {
                let (postgres, nats) = cluster.services_cpu_seconds();
                Usage { server: cluster.relay_cpu_seconds(), postgres: Some(postgres), nats: Some(nats) }
            }
        }
    }

    fn rss_mib(&self) -> f64 {
        match &self.processes {
            Processes::One { server, .. } => rss_mib(server.pid),
            Processes::Cluster(cluster) => cluster.relay_rss_mib(),
        }
    }

    fn instances(&self) -> usize {
        match &self.processes {
            Processes::One { .. } => 1,
            Processes::Cluster(cluster) => cluster.instances.len(),
        }
    }

    async fn stop(self) -> anyhow::Result<()> {
        match self.processes {
            Processes::One { server, .. } => server.stop().await,
            Processes::Cluster(cluster) => cluster.stop().await,
        }
    }
}

/// Starts and populates `system`: relay (SQLite), relay-tls, ceiling, or clusterN (N relay instances on
/// PostgreSQL and NATS, client i on instance i mod N, so every team spans every instance).
async fn prepare(args: &Args, system: &str) -> anyhow::Result<Prepared> {
    let limit = |pid| match args.cpu_share {
        Some(share) => CpuLimit::apply(&format!("teamflow-bench-{}", std::process::id()), pid, share).map(Some),
        None => Ok(None),
    };
    let relay_endpoints = |bases: &[String], tokens: &[String], teams: &[String]| -> Vec<Endpoint> {
        (0..args.clients)
            .map(|i| Endpoint {
                url: format!("{}/api/ws", bases[i % bases.len()].replacen("http", "ws", 1)),
                token: Some(tokens[i].clone()),
                team: Some(teams[i / args.team_size].clone()),
            })
            .collect()
    };
    match system {
        "relay" | "relay-tls" => {
            let (server, base, dir, tls) = if system == "relay-tls" {
                let (server, base, dir, tls) = start_relay_tls().await?;
                (server, base, dir, Some(tls))
            } else {
                let (server, base, dir) = start_relay().await?;
                (server, base, dir, None)
            };
            let http = match &tls {
                Some(tls) => tls.http()?,
                None => reqwest::Client::new(),
            };
            let (tokens, teams) = populate(args, &http, &base).await?;
            let _limit = limit(server.pid)?;
            Ok(Prepared {
                name: system.to_owned(),
                endpoints: relay_endpoints(&[base], &tokens, &teams),
                connector: tls.as_ref().map(RelayTls::connector),
                processes: Processes::One { server, _dir: Some(dir), _limit },
            })
        }
        "ceiling" => {
            let (server, port) = start_ceiling().await?;
            let endpoints = (0..args.clients)
                .map(|i| Endpoint {
                    url: format!("ws://127.0.0.1:{port}/team-{}", i / args.team_size),
                    token: None,
                    team: None,
                })
                .collect();
            Ok(Prepared {
                name: system.to_owned(),
                endpoints,
                connector: None,
                processes: Processes::One { server, _dir: None, _limit: None },
            })
        }
        other => match other.strip_prefix("cluster").map(str::parse::<usize>) {
            Some(Ok(n)) if n > 0 => {
                let mut cluster = Cluster::start(n).await?;
                let (tokens, teams) = populate(args, &reqwest::Client::new(), &cluster.bases[0]).await?;
                if let Some(share) = args.cpu_share {
                    cluster.limit_cpu(share)?;
                }
                Ok(Prepared {
                    name: system.to_owned(),
                    endpoints: relay_endpoints(&cluster.bases, &tokens, &teams),
                    connector: None,
                    processes: Processes::Cluster(cluster),
                })
            }
            _ => bail!("unknown system {other} (relay, relay-tls, ceiling, clusterN)"),
        },
    }
}

/// Signs up every client and fills the teams through `base`; answers the clients' tokens and the teams.
async fn populate(args: &Args, http: &reqwest::Client, base: &str) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let tokens = sign_up(http, base, args.clients).await?;
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
        for &member in &members[1..] {
            teamflow_bench::servers::join_team(http, base, owner, &team_id, member, &tokens[member]).await?;
        }
        teams.push(team_id);
    }
    Ok((tokens, teams))
}

/// Where one client connects: the socket's URL, its access token (sent in the `Authorization` header, as
/// the app sends it) and the team it joins on the relay.
struct Endpoint {
    url: String,
    token: Option<String>,
    team: Option<String>,
}

/// Connects every client (joining its team on the relay), runs the open-loop schedule, drains, and reports.
async fn drive(args: &Args, system: &Prepared) -> anyhow::Result<RunReport> {
    let (endpoints, connector) = (&system.endpoints, &system.connector);
    let mut sockets = Vec::with_capacity(endpoints.len());
    for Endpoint { url, token, team } in endpoints {
        let mut socket = connect_ws(url, token.as_deref(), connector.clone()).await?;
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
    // The relay takes a repeated `client_msg_id` as a retry of what it already stored: every run of a
    // search (which reuses one system) needs ids of its own.
    let run: u64 = rand::random();
    let start = Instant::now() + Duration::from_millis(500);
    let end = start + Duration::from_secs(args.seconds);
    let drain = end + Duration::from_secs(3);
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let before = system.usage();
    let me_before = cpu_seconds("self");
    let mut tasks = Vec::new();
    for (client, socket) in sockets.into_iter().enumerate() {
        let (mut sink, mut stream) = socket.split();
        let team = endpoints[client].team.clone();
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
                    Some(team) => json!({ "type": "send_message", "team_id": team, "client_msg_id": format!("{run}-{client}-{k}"), "content": content }).to_string(),
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
    let after = system.usage();
    let server_cpu_s = after.server - before.server;
    let postgres_cpu_s = after.postgres.zip(before.postgres).map(|(a, b)| a - b);
    let nats_cpu_s = after.nats.zip(before.nats).map(|(a, b)| a - b);
    let generator_cpu_share = (cpu_seconds("self") - me_before) / (drain - start).as_secs_f64();
    let sent: u64 = sent_by_client.iter().sum();
    let expected: u64 =
        sent_by_client.chunks(args.team_size).map(|team| team.iter().sum::<u64>() * (team.len() as u64 - 1)).sum();
    let tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
    let ms = |q: f64| tally.latency_us.value_at_quantile(q) as f64 / 1000.0;
    let all_cpu_s = server_cpu_s + postgres_cpu_s.unwrap_or(0.0) + nats_cpu_s.unwrap_or(0.0);
    Ok(RunReport {
        system: system.name.clone(),
        instances: system.instances(),
        cpu_share: args.cpu_share.filter(|_| system.name != "ceiling"),
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
        postgres_cpu_s,
        nats_cpu_s,
        cpu_us_per_delivery: all_cpu_s * 1e6 / tally.received.max(1) as f64,
        server_rss_mib: system.rss_mib(),
        generator_cpu_share,
        saturated: generator_cpu_share > 0.9,
    })
}

fn summarize(args: &Args, reports: &[RunReport]) {
    println!("\n{}", teamflow_bench::Machine::describe());
    println!(
        "chat fan-out: {} clients in teams of {}, {} msg/s each, {} s, medians of unsaturated runs{}",
        args.clients,
        args.team_size,
        args.rate,
        args.seconds,
        args.cpu_share.map(|s| format!(", each relay instance held to {s} of a core")).unwrap_or_default()
    );
    println!(
        "\n| system | runs | delivered/s | p50 | p99 | p99.9 | max | lost | dup | relay CPU | PostgreSQL CPU | NATS CPU | CPU per delivery | relay RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for system in &args.systems {
        let runs: Vec<&RunReport> = reports.iter().filter(|r| &r.system == system && !r.saturated).collect();
        let m = |f: fn(&RunReport) -> f64| median(runs.iter().map(|r| f(r)).collect());
        let service = |f: fn(&RunReport) -> Option<f64>| match runs.iter().filter_map(|r| f(r)).collect::<Vec<_>>() {
            v if v.is_empty() => "-".to_owned(),
            v => format!("{:.2} s", median(v)),
        };
        println!(
            "| {system} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} | {:.0} | {:.2} s | {} | {} | {:.1} µs | {:.0} MiB |",
            runs.len(),
            m(|r| r.delivered_per_s),
            m(|r| r.p50_ms),
            m(|r| r.p99_ms),
            m(|r| r.p999_ms),
            m(|r| r.max_ms),
            m(|r| r.lost as f64),
            m(|r| r.duplicates as f64),
            m(|r| r.server_cpu_s),
            service(|r| r.postgres_cpu_s),
            service(|r| r.nats_cpu_s),
            m(|r| r.cpu_us_per_delivery),
            m(|r| r.server_rss_mib),
        );
    }
    let thrown = reports.iter().filter(|r| r.saturated).count();
    if thrown > 0 {
        println!("\n{thrown} run(s) thrown out: the generator's core was saturated.");
    }
}
