//! How instant the window feels, measured in the real app under Xvfb against a relay on loopback:
//! - keystroke to frame: from a key's `keydown` in the editor to the start of the next frame that shows it
//!   (timed in the page with `performance.now()` and `requestAnimationFrame`);
//! - a teammate's edit to the screen: from a teammate's sync client making an edit to the editor's drawn
//!   text containing it (both ends read the same wall clock, in milliseconds).
//!
//! `cargo bench -p teamflow-desktop --bench window_latency` (release build; `ROUNDS=n` to change the 100
//! rounds). Prints a table and one JSON line; the figures are in docs/benchmarks.md.

#[path = "../tests/support/driver.rs"]
mod driver;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use driver::Window;
use serde_json::{Value, json};
use teamflow_tests::{TestRelay, sync_client, text_when};

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64() * 1000.0
}

fn percentiles(mut samples: Vec<f64>) -> Value {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    json!({"n": samples.len(), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)})
}

#[tokio::main]
async fn main() -> Result<()> {
    let rounds: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(100);
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let window = Window::launch().await?;
    window.sign_in(&relay, "ada").await?;
    let team = window.create_team(&ada, "Bench").await?;
    ada.add_member(&team, "bob@example.test", "member").await;
    let url = window.create_document(&bob, &team, "Bench", "start").await?;
    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob opens it")?;
    text_when(&handle, |t| t == "start").await;

    // Keystroke to frame.
    window
        .script(
            "window.__frames = [];
             const el = document.querySelector('[data-testid=editor]');
             el.addEventListener('keydown', () => {
               const t0 = performance.now();
               requestAnimationFrame(() => window.__frames.push(performance.now() - t0));
             });
             return true;",
        )
        .await?;
    for _ in 0..rounds {
        window.type_into("[data-testid=editor]", "a").await?;
    }
    let frames = window
        .until("every keystroke's frame", async || {
            let frames = window.script("return window.__frames").await?;
            Ok(frames.as_array().filter(|f| f.len() >= rounds).cloned())
        })
        .await?;
    let keystroke: Vec<f64> = frames.iter().filter_map(Value::as_f64).collect();

    // A teammate's edit to the screen.
    window
        .script(
            "window.__seen = {};
             const mirror = document.querySelector('[data-testid=editor]');
             new MutationObserver(() => {
               const now = Date.now();
               for (const m of mirror.textContent.matchAll(/\\[(\\d+)\\]/g)) {
                 if (!(m[1] in window.__seen)) window.__seen[m[1]] = now;
               }
             }).observe(mirror, { subtree: true, childList: true, characterData: true });
             return true;",
        )
        .await?;
    let mut remote = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let sent = now_ms();
        teamflow_sync::splice_text(&handle, 0, 0, &format!("[{i}]"))?;
        let seen = window
            .until("the teammate's edit", async || {
                Ok(window.script(&format!("return window.__seen['{i}']")).await?.as_f64())
            })
            .await?;
        remote.push(seen - sent);
        // The next edit starts from a quiet window, as a person's next keystroke would.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let report = json!({
        "bench": "window_latency",
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "rounds": rounds,
        "keystroke_to_frame_ms": percentiles(keystroke),
        "teammate_edit_to_screen_ms": percentiles(remote),
    });
    println!("| measure | n | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for key in ["keystroke_to_frame_ms", "teammate_edit_to_screen_ms"] {
        let r = &report[key];
        println!(
            "| {key} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r["n"],
            r["p50"].as_f64().unwrap_or_default(),
            r["p90"].as_f64().unwrap_or_default(),
            r["p99"].as_f64().unwrap_or_default(),
            r["max"].as_f64().unwrap_or_default()
        );
    }
    println!("{report}");
    window.close().await.map_err(|e| anyhow!("closing the window: {e}"))?;
    Ok(())
}
