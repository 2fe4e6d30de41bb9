//! Relay benchmark, a burst of sign-ups: the relay's RSS before, right after 20 concurrent sign-ups (each an
//! argon2id hash of ~19 MiB) and once the burst is over, to see whether the hashers' memory goes back.
//!
//! `cargo build -p teamflow-relay -p teamflow-bench && target/debug/signup-burst` (a debug build is enough:
//! the question is where the memory goes, not how fast; docs/benchmarks.md).

use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use serde_json::json;
use teamflow_bench::servers::{rss_mib, start_relay};

#[derive(Debug, Parser)]
struct Args {
    /// Sign-ups sent at once.
    #[arg(long, default_value_t = 20)]
    burst: usize,
    /// Bursts, one after another (memory kept by the first should be reused by the next).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds to let the relay settle after each burst before reading its RSS again.
    #[arg(long, default_value_t = 5)]
    settle_secs: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(&args))
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let (server, base, _dir) = start_relay().await?;
    let http = reqwest::Client::new();
    println!("relay started: {:.1} MiB", rss_mib(server.pid));
    for round in 0..args.rounds {
        let before = rss_mib(server.pid);
        let started = std::time::Instant::now();
        let signups = (0..args.burst).map(|i| {
            let body = json!({
                "email": format!("burst{round}-{i}@example.test"),
                "password": "a burst of sign-ups",
                "display_name": format!("burst {i}"),
            });
            let request = http.post(format!("{base}/api/auth/register")).json(&body);
            async move { request.send().await.map(|r| r.status()) }
        });
        let statuses = futures::future::try_join_all(signups).await.context("sign-up")?;
        let took = started.elapsed();
        let after = rss_mib(server.pid);
        tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
        let settled = rss_mib(server.pid);
        let created = statuses.iter().filter(|s| s.as_u16() == 201).count();
        println!(
            "round {round}: {created}/{} created in {took:.1?}; RSS {before:.1} -> {after:.1} MiB, {settled:.1} MiB after {}s",
            args.burst, args.settle_secs
        );
    }
    server.stop().await
}
