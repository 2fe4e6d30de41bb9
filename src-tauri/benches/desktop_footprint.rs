//! What the desktop app costs the machine it runs on, measured on the real app under Xvfb:
//! - cold start: from the app's process start (the kernel's record of it) to the first frame of an
//!   interactive sign-in form (the page's `teamflow:sign-in-ready` mark), over `LAUNCHES` launches, each a
//!   new process with an empty data directory;
//! - memory idle on the sign-in screen: the proportional set size (PSS, shared pages split between the
//!   processes sharing them) of the app and every process below it (WebKit's web and network processes),
//!   after `IDLE_SECS` seconds without input;
//! - memory signed in with a team of `MESSAGES` messages open in the chat, after the same idle time.
//!
//! `cargo bench -p teamflow-desktop --bench desktop_footprint` (release build; `LAUNCHES=n` (5),
//! `IDLE_SECS=n` (10), `MESSAGES=n` (10,000)). Prints a table and one JSON line; the figures are in
//! docs/benchmarks.md. The bundle's size is measured apart, from `tauri build` (see there).

#[path = "../tests/support/driver.rs"]
mod driver;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use driver::Window;
use serde_json::{Value, json};
use teamflow_tests::TestRelay;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0
}

/// The wall-clock time, in milliseconds since the epoch, of a process start the kernel gives in clock
/// ticks after boot: the boot moment is now less the uptime (both read together; 10 ms resolution).
fn started_at_ms(ticks: u64) -> Result<f64> {
    let uptime = std::fs::read_to_string("/proc/uptime")?;
    let now = now_ms();
    let up: f64 = uptime.split_whitespace().next().context("empty /proc/uptime")?.parse()?;
    let tick_hz: f64 =
        String::from_utf8(std::process::Command::new("getconf").arg("CLK_TCK").output()?.stdout)?.trim().parse()?;
    Ok(now - up * 1000.0 + ticks as f64 / tick_hz * 1000.0)
}

/// A process's proportional set size, in KiB.
fn pss_kib(pid: u32) -> Result<u64> {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("Pss:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no Pss line")
}

/// The app's processes and their PSS in MiB, with the total.
fn footprint(window: &Window) -> Result<Value> {
    let processes = window.app_processes();
    if processes.is_empty() {
        bail!("the app's process was not found");
    }
    let mut by_name = std::collections::BTreeMap::<String, u64>::new();
    for (pid, name, _) in processes {
        let kib = pss_kib(pid).with_context(|| format!("{name} ({pid})"))?;
        *by_name.entry(name).or_default() += kib;
    }
    let mib = |kib: u64| kib as f64 / 1024.0;
    let total: u64 = by_name.values().sum();
    let each: serde_json::Map<String, Value> = by_name.into_iter().map(|(name, kib)| (name, json!(mib(kib)))).collect();
    Ok(json!({"total_mib": mib(total), "processes_mib": each}))
}

/// Posts `count` messages to `team` through the REST API, 64 at a time.
async fn seed_messages(author: &teamflow_tests::Client, team: &str, count: usize) -> Result<()> {
    let path = format!("/api/teams/{team}/messages");
    let mut next = 0;
    while next < count {
        let mut posts = tokio::task::JoinSet::new();
        for i in next..count.min(next + 64) {
            let (author, path) = (author.clone(), path.clone());
            let body = json!({
                "client_id": format!("footprint-{i}"),
                "content": format!("Message {i}: the quarterly plan, the release notes and a question."),
            });
            posts.spawn(async move { author.post(&path, &body).await });
        }
        while let Some(posted) = posts.join_next().await {
            let (status, answer) = posted?;
            if !status.is_success() {
                bail!("posting a message: {status} {answer}");
            }
        }
        next = count.min(next + 64);
    }
    Ok(())
}

/// Milliseconds from the app's process start to its sign-in form's first interactive frame.
async fn cold_start(window: &Window) -> Result<f64> {
    // Polled: the mark changes nothing on the page to wait on. Its own timestamp is the figure, so the
    // polling does not shift it.
    let ready = window
        .until("the sign-in form's ready mark", async || {
            let mark = window
                .script(
                    "const mark = performance.getEntriesByName('teamflow:sign-in-ready', 'mark')[0];
                     return mark ? performance.timeOrigin + mark.startTime : null;",
                )
                .await?;
            Ok(mark.as_f64())
        })
        .await?;
    let (_, _, ticks) = window.app_processes().into_iter().next().context("the app's process")?;
    Ok(ready - started_at_ms(ticks)?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let launches = env_or("LAUNCHES", 5).max(1);
    let idle = Duration::from_secs(env_or("IDLE_SECS", 10) as u64);
    let messages = env_or("MESSAGES", 10_000);

    let mut starts = Vec::with_capacity(launches);
    let mut idle_sign_in = Value::Null;
    for launch in 0..launches {
        let window = Window::launch(driver::turn().await).await?;
        starts.push(cold_start(&window).await?);
        if launch + 1 == launches {
            // The measurement is of the app left alone for this long, so it waits that long.
            tokio::time::sleep(idle).await;
            idle_sign_in = footprint(&window)?;
        }
        window.close().await?;
    }

    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let team = ada.create_team("Footprint").await;
    let seeded = std::time::Instant::now();
    seed_messages(&ada, &team, messages).await?;
    let seeding = seeded.elapsed();
    let window = Window::launch(driver::turn().await).await?;
    window.sign_in(&relay, "ada").await?;
    window.until_text("[data-testid=team-switcher]", "Footprint").await?;
    window.until_text("[data-testid=messages]", &format!("Message {}:", messages - 1)).await?;
    tokio::time::sleep(idle).await;
    let idle_team = footprint(&window)?;
    window.screenshot("footprint-team-open").await?;
    window.close().await?;

    let mut sorted = starts.clone();
    sorted.sort_by(f64::total_cmp);
    let report = json!({
        "bench": "desktop_footprint",
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "cold_start_ms": {"samples": starts, "p50": sorted[sorted.len() / 2], "max": sorted[sorted.len() - 1]},
        "idle_secs": idle.as_secs(),
        "idle_sign_in": idle_sign_in,
        "messages": messages,
        "seeding_secs": seeding.as_secs_f64(),
        "idle_team_open": idle_team,
    });
    println!("| measure | figure | goal |");
    println!("|---|---|---|");
    println!(
        "| cold start to an interactive sign-in form, p50 of {launches} | {:.0} ms | < 1,000 ms |",
        report["cold_start_ms"]["p50"].as_f64().unwrap_or_default()
    );
    println!(
        "| idle on the sign-in screen, PSS of all processes | {:.1} MiB | <= 150 MB |",
        idle_sign_in["total_mib"].as_f64().unwrap_or_default()
    );
    println!(
        "| signed in, {messages}-message team open, PSS | {:.1} MiB | <= 200 MB |",
        idle_team["total_mib"].as_f64().unwrap_or_default()
    );
    println!("{report}");
    Ok(())
}
