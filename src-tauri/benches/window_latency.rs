//! How instant the window feels, measured in the real app under Xvfb against a relay on loopback:
//! - keystroke to frame: from a key's `keydown` in the editor to the start of the next frame that shows it
//!   (timed in the page with `performance.now()` and `requestAnimationFrame`), with the keys sent as fast
//!   as the driver can (a burst, where a key's frame may wait on the next key) and at a typist's pace
//!   (10 keys a second);
//! - a teammate's edit to the screen: from a teammate's sync client making an edit to the editor's drawn
//!   text containing it (both ends read the same wall clock, in milliseconds).
//!
//! - a large document (the automerge-paper trace: 259,778 changes, 105,000 characters, in blocks): from the
//!   click that opens it, after the app restarted, to the first frame showing its text (the read-only
//!   preview the node kept, or the editor), and to the first frame of the editor itself, editable; and
//!   keystroke to frame, paced after the opening before the last and in a burst after the last.
//!
//! `cargo bench -p teamflow-desktop --bench window_latency` (release build; `ROUNDS=n` to change the 100
//! rounds, `OPENS=n` the 5 opens of the large document (2 at least), `PAPER=0` to leave it out). Prints a
//! table and one JSON line; the figures are in docs/benchmarks.md.
//!
//! Knobs to look into the large document's keys with (the figures against the goal are taken with none
//! set; a value that does not parse stops the run): `PAPER_PAUSE_MS=n` waits that long after the document
//! turns editable before its keys; `PAPER_REOPEN=1` closes it and opens it again in the same window first
//! (the opening's code has run, the keys' has not); `PAPER_WARM_KEYS=n` types n keys into it first, then
//! reopens it (the keys' code has run too); `PAPER_WARM_ELSEWHERE=n` types n keys into a new small
//! document in the same window before each opening (the keys' code has run, on another document);
//! `PAPER_SCRIPT=file` runs that script in the page before the burst and prints its answer
//! (`window_latency/editing_by_blocks.js`; what it leaves behind makes that run's burst no figure to
//! compare); `TEAMFLOW_WINDOW_LOG=file` keeps the window's stderr there, with a
//! line every five keys (`JSC_logGC=true` in the environment: when the collector ran).

#[path = "../tests/support/driver.rs"]
mod driver;

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use driver::Window;
use serde_json::{Value, json};
use teamflow_bench::Trace;
use teamflow_sync::automerge::transaction::Transactable as _;
use teamflow_sync::automerge::{ROOT, ReadDoc as _};
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
    let knobs = Knobs::from_env()?;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let window = Window::launch(driver::turn().await).await?;
    window.sign_in(&relay, "ada").await?;
    let team = window.create_team(&ada, "Bench").await?;
    ada.add_member(&team, "bob@example.test", "member").await;
    let url = window.create_document(&bob, &team, "Bench", "start").await?;
    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob opens it")?;
    text_when(&handle, |t| t == "start").await;

    let keystroke = keystrokes(&window, rounds, Typing::Burst).await?;
    let keystroke_paced = keystrokes(&window, rounds, Typing::Paced).await?;

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

    window.close().await.map_err(|e| anyhow!("closing the window: {e}"))?;

    let mut report = json!({
        "bench": "window_latency",
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "rounds": rounds,
        "keystroke_to_frame_ms": percentiles(keystroke),
        "keystroke_paced_to_frame_ms": percentiles(keystroke_paced),
        "teammate_edit_to_screen_ms": percentiles(remote),
    });
    let mut rows = vec!["keystroke_to_frame_ms", "keystroke_paced_to_frame_ms", "teammate_edit_to_screen_ms"];
    if std::env::var("PAPER").as_deref() != Ok("0") {
        let opens: usize = std::env::var("OPENS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
        let paper = paper(opens, rounds, &knobs).await?;
        report["paper_first_paint_ms"] = percentiles(paper.first_paint);
        report["paper_editable_ms"] = percentiles(paper.editable);
        report["paper_keystroke_to_frame_ms"] = percentiles(paper.typing);
        report["paper_keystroke_paced_to_frame_ms"] = percentiles(paper.typing_paced);
        rows.extend([
            "paper_first_paint_ms",
            "paper_editable_ms",
            "paper_keystroke_to_frame_ms",
            "paper_keystroke_paced_to_frame_ms",
        ]);
    }
    println!("| measure | n | p50 ms | p90 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for key in rows {
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
    Ok(())
}

/// How keys are sent.
#[derive(Debug, Clone, Copy)]
enum Typing {
    /// Each key as soon as the driver has sent the last: faster than anyone types, so a key's frame can
    /// wait on the next key's handling.
    Burst,
    /// One key every `PACE` on a fixed clock, a fast typist's rate: a slow key still delays the next, as it
    /// would for a person.
    Paced,
}

/// The paced rate: 10 keys a second (120 words a minute).
const PACE: Duration = Duration::from_millis(100);

/// Keystroke to frame in the open editor: `rounds` keys typed where its caret is, each timed from its
/// `keydown` to the next frame.
async fn keystrokes(window: &Window, rounds: usize, typing: Typing) -> Result<Vec<f64>> {
    window
        .script(
            "window.__frames = [];
             window.__handled = [];
             window.__keyStarts = [];
             window.__teamflowKeys = [];
             window.__keyEvents = [];
             window.__key = -1;
             const el = document.querySelector('[data-testid=editor]');
             // Listeners once per editor element, so a second measurement on the same page counts each key once.
             if (el.__timed) return true;
             el.__timed = true;
             let start = 0;
             el.addEventListener('keydown', () => {
               const k = ++window.__key;
               const t0 = performance.now();
               start = t0;
               window.__keyStarts[k] = t0;
               window.__keyEvents[k] = [];
               requestAnimationFrame(() => { window.__frames[k] = performance.now() - t0; });
             });
             // When the browser's own editing starts and ends, for the phases below.
             for (const type of ['beforeinput', 'input']) {
               el.addEventListener(type, () => { if (window.__key >= 0) window.__keyEvents[window.__key].push(type[0] + (performance.now() - start).toFixed(0)); }, true);
             }
             // Observed after the editor's own observer: the key's text is in the document and the
             // editor's state, and what is left until the frame is layout, paint and the frame clock.
             // By key, so a key that changed nothing leaves a gap rather than shifting the rest.
             new MutationObserver(() => {
               const key = window.__key;
               if (key >= 0 && window.__handled[key] === undefined) window.__handled[key] = performance.now() - start;
             }).observe(el, { childList: true, characterData: true, subtree: true });
             return true;",
        )
        .await?;
    mark_window_log(&format!("typing starts, {typing:?}"));
    let mut clock = tokio::time::interval(PACE);
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for key in 0..rounds {
        if key % 5 == 0 {
            mark_window_log(&format!("key {key}"));
        }
        if let Typing::Paced = typing {
            clock.tick().await;
        }
        window.type_into("[data-testid=editor]", "a").await?;
    }
    mark_window_log("typing ends");
    let frames = window
        .until("every keystroke's frame", async || {
            let frames = window.script("return window.__frames").await?;
            Ok(frames.as_array().filter(|f| f.len() >= rounds && f.iter().all(Value::is_number)).cloned())
        })
        .await?;
    let frames: Vec<f64> = frames.iter().filter_map(Value::as_f64).collect();
    let handled = window.script("return window.__handled").await?;
    let handled: Vec<Value> = handled.as_array().cloned().unwrap_or_default();
    // In typing order, so that a slow key can be told apart as periodic or as one at the start; with the
    // part of it until the editor had handled the key (the rest is layout, paint and the frame clock).
    let order: Vec<String> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| match handled.get(i).and_then(Value::as_f64) {
            Some(h) => format!("{f:.0}({h:.0})"),
            None => format!("{f:.0}"),
        })
        .collect();
    eprintln!("keystroke to frame (handled), {typing:?}, in typing order (ms): {}", order.join(" "));
    // The editor's own phases of each key that changed the document (`recordKeyPhases` in the page): from
    // the keydown to the editor's dispatch (the browser's editing and the editor reading it), the new
    // state (the binding and Automerge), the view's update, and the rest of the dispatch.
    let phases = window
        .script(
            "const starts = window.__keyStarts;
             return window.__teamflowKeys.map((p) => {
               let k = starts.length - 1;
               while (k > 0 && starts[k] > p.at) k--;
               return (window.__keyEvents[k] || []).join(',') + ':' + [p.at - starts[k], p.state, p.view, p.rest].map((x) => x.toFixed(0)).join('/');
             }).join(' ');",
        )
        .await?;
    eprintln!(
        "editor phases per key, {typing:?}, before dispatch/state/view/rest (ms): {}",
        phases.as_str().unwrap_or("")
    );
    Ok(frames)
}

/// What the large document's runs measured, in milliseconds.
struct Paper {
    first_paint: Vec<f64>,
    editable: Vec<f64>,
    /// Keys sent as fast as the driver can, after the last opening.
    typing: Vec<f64>,
    /// Keys at a typist's pace, after the opening before the last: each set starts on a freshly opened
    /// document in a freshly started app, whose first keys run code that has not run before.
    typing_paced: Vec<f64>,
}

/// The automerge-paper document: a teammate replays the trace into a document of the team, one change per
/// edit; the window opens it once (converting its lines into blocks, as for any document written before the
/// rich editor) and waits until that is saved; then, `opens` times, the app restarts and the document is
/// opened from the list, timed from the click to the first frame drawn with its text. Last, keystrokes
/// typed into it.
async fn paper(opens: usize, rounds: usize, knobs: &Knobs) -> Result<Paper> {
    let path = std::env::var_os("PAPER_TRACE").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/editing-traces/automerge-paper.json.gz")
    });
    let trace = Trace::load(&path)?;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let mut window = Window::launch(driver::turn().await).await?;
    window.sign_in(&relay, "ada").await?;
    let team = window.create_team(&ada, "Paper").await?;
    ada.add_member(&team, "bob@example.test", "member").await;
    let url = window.create_document(&bob, &team, "Paper", "x").await?;
    // Back to the list: the document is opened from it below, as a person would.
    close_editor(&window).await?;

    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob opens it")?;
    text_when(&handle, |t| t == "x").await;
    let started = std::time::Instant::now();
    handle.with_document(|doc| -> Result<()> {
        let (_, text) = doc.get(ROOT, teamflow_sync::TEXT_FIELD)?.context("the document's text")?;
        let mut tx = doc.transaction();
        tx.splice_text(&text, 0, 1, "")?;
        tx.commit();
        for patch in trace.patches() {
            let mut tx = doc.transaction();
            tx.splice_text(&text, patch.0, isize::try_from(patch.1)?, &patch.2)?;
            tx.commit();
        }
        Ok(())
    })?;
    anyhow::ensure!(bob_sync.synced_with_relay(&handle).await, "the relay has the paper");
    eprintln!("paper: replayed and sent to the relay in {:.1} s", started.elapsed().as_secs_f64());

    // The first open converts it; its blocks are saved on this device and the relay before timing starts.
    let first_line: String = trace.end_content.lines().find(|l| l.trim().len() > 20).unwrap_or_default().to_owned();
    let probe = first_line.chars().take(20).collect::<String>();
    window.click("[data-testid=open-document]").await?;
    window.until_text("[data-testid=editor]", &probe).await?;
    let converted = std::time::Instant::now();
    window.until_text("[data-testid=doc-state]", "Saved to relay").await?;
    eprintln!(
        "paper: the first opening's conversion saved to the relay {:.1} s after the editor showed it",
        converted.elapsed().as_secs_f64()
    );

    // Two openings at least: one for each way of typing.
    let opens = opens.max(2);
    let mut first_paint = Vec::with_capacity(opens);
    let mut editable = Vec::with_capacity(opens);
    let mut typing_paced = Vec::new();
    for open in 0..opens {
        window = window.restart(&[]).await?;
        window.until_text("[data-testid=nav-documents]", "").await?;
        if knobs.warm_elsewhere > 0 {
            window.create_document(&bob, &team, &format!("Scratch {open}"), "s").await?;
            for _ in 0..knobs.warm_elsewhere {
                window.type_into("[data-testid=editor]", "w").await?;
            }
            close_editor(&window).await?;
            eprintln!("paper: {} keys typed into a small document first", knobs.warm_elsewhere);
        }
        window.click("[data-testid=nav-documents]").await?;
        window.find("[data-testid=open-document]").await?;
        // Timed in the page: from the click's event to the first frame after the text is shown (the
        // preview or the editor), and to the first frame after the editor itself shows it.
        window
            .script(&format!(
                "const probe = {probe};
                 window.__paint = null;
                 window.__editable = null;
                 const shows = (selector) => {{
                   const el = document.querySelector(selector);
                   return el && el.offsetParent && el.textContent.includes(probe);
                 }};
                 document.addEventListener('click', () => {{
                   const t0 = performance.now();
                   let painted = false;
                   const look = () => {{
                     if (!painted && (shows('[data-testid=editor-preview]') || shows('[data-testid=editor]'))) {{
                       painted = true;
                       requestAnimationFrame(() => {{ window.__paint = performance.now() - t0; }});
                     }}
                     if (shows('[data-testid=editor]')) {{
                       requestAnimationFrame(() => {{ window.__editable = performance.now() - t0; }});
                     }} else {{
                       requestAnimationFrame(look);
                     }}
                   }};
                   look();
                 }}, {{ capture: true, once: true }});
                 return true;",
                probe = json!(probe)
            ))
            .await?;
        open_paper(&window).await?;
        if first_paint.is_empty() {
            // What a person sees meanwhile: the preview, and that the document is still loading.
            window
                .until("the first paint", async || Ok(window.script("return window.__paint").await?.as_f64()))
                .await?;
            eprintln!("paper: {}", window.screenshot("paper-opening").await?);
        }
        let (paint, ready) = window
            .until("the paper editable", async || {
                let times = window.script("return [window.__paint, window.__editable]").await?;
                Ok(times[0].as_f64().zip(times[1].as_f64()))
            })
            .await?;
        eprintln!("paper: first paint {paint:.0} ms, editable {ready:.0} ms");
        // Where the wait went: the steps the page marks while it opens a document (`markOpening`), and the
        // tasks it times (`measureOpening`).
        let steps = window
            .script(
                "const marks = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('teamflow:open:'));
                 const start = marks.find((m) => m.name === 'teamflow:open:start');
                 const tasks = performance.getEntriesByType('measure').filter((m) => m.name.startsWith('teamflow:open:'));
                 return marks.map((m) => `${m.name.slice(14)} ${(m.startTime - (start ? start.startTime : 0)).toFixed(0)}`)
                   .concat(tasks.map((m) => `${m.name.slice(14)} took ${m.duration.toFixed(0)}`)).join(', ');",
            )
            .await?;
        eprintln!("paper: opening steps (ms since the start): {}", steps.as_str().unwrap_or_default());
        first_paint.push(paint);
        editable.push(ready);
        if open + 2 >= opens {
            knobs.before_typing(&window, &probe).await?;
        }
        if open + 2 == opens {
            typing_paced = keystrokes(&window, rounds, Typing::Paced).await?;
        }
    }
    if let Some(script) = &knobs.script {
        let js = std::fs::read_to_string(script).with_context(|| format!("PAPER_SCRIPT={}", script.display()))?;
        eprintln!("paper: the script answered {}", window.script(&js).await?);
    }
    let typing = keystrokes(&window, rounds, Typing::Burst).await?;
    window.close().await.map_err(|e| anyhow!("closing the window: {e}"))?;
    Ok(Paper { first_paint, editable, typing, typing_paced })
}

/// Writes a line into the window's log (`TEAMFLOW_WINDOW_LOG`), if there is one, so that what the web
/// process wrote there (a collection, with `JSC_logGC=true`) can be placed among the keys.
fn mark_window_log(line: &str) {
    use std::io::Write as _;
    let Some(path) = std::env::var_os(driver::WINDOW_LOG) else { return };
    let written =
        std::fs::OpenOptions::new().append(true).create(true).open(&path).and_then(|mut f| writeln!(f, "=== {line}"));
    if let Err(e) = written {
        eprintln!("writing to {}={}: {e}", driver::WINDOW_LOG, path.display());
    }
}

/// The knobs of the module docs.
struct Knobs {
    pause: Duration,
    reopen: bool,
    warm_keys: usize,
    warm_elsewhere: usize,
    script: Option<PathBuf>,
}

impl Knobs {
    fn from_env() -> Result<Self> {
        fn number(name: &str) -> Result<u64> {
            match std::env::var(name) {
                Ok(value) => value.parse().with_context(|| format!("{name}={value} is not a whole number")),
                Err(_) => Ok(0),
            }
        }
        let reopen = match std::env::var("PAPER_REOPEN").as_deref() {
            Ok("1") => true,
            Ok("0") | Err(_) => false,
            Ok(other) => anyhow::bail!("PAPER_REOPEN={other}: 1 or 0"),
        };
        Ok(Knobs {
            pause: Duration::from_millis(number("PAPER_PAUSE_MS")?),
            reopen,
            warm_keys: usize::try_from(number("PAPER_WARM_KEYS")?)?,
            warm_elsewhere: usize::try_from(number("PAPER_WARM_ELSEWHERE")?)?,
            script: std::env::var_os("PAPER_SCRIPT").map(PathBuf::from),
        })
    }

    /// Their steps before a set of the large document's keys.
    async fn before_typing(&self, window: &Window, probe: &str) -> Result<()> {
        for _ in 0..self.warm_keys {
            window.type_into("[data-testid=editor]", "w").await?;
        }
        if self.reopen || self.warm_keys > 0 {
            close_editor(window).await?;
            open_paper(window).await?;
            window.until_text("[data-testid=editor]", probe).await?;
            eprintln!("paper: {} keys typed, then closed and opened again", self.warm_keys);
        }
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
            eprintln!("paper: paused {:?} before typing", self.pause);
        }
        Ok(())
    }
}

/// Clicks the paper's own button in the list (with `PAPER_WARM_ELSEWHERE` the list has other documents).
async fn open_paper(window: &Window) -> Result<()> {
    let clicked = window
        .script(
            "const paper = Array.from(document.querySelectorAll('[data-testid=open-document]'))
               .find((b) => b.textContent.trim() === 'Paper');
             paper?.click();
             return !!paper;",
        )
        .await?;
    anyhow::ensure!(clicked == json!(true), "no document titled Paper in the list");
    Ok(())
}

/// Leaves the open document for the list ("← Documents").
async fn close_editor(window: &Window) -> Result<()> {
    window
        .script(
            "const back = Array.from(document.querySelectorAll('.editor header button'))
               .find((b) => b.textContent.includes('Documents'));
             back?.click();
             return !!back;",
        )
        .await?;
    window.find("[data-testid=open-document]").await?;
    Ok(())
}
