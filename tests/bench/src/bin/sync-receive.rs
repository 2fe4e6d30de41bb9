//! What one sync message costs to receive, against the length of the document's history: two peers
//! in sync on a text of N changes, then a keystroke at a time, the change going one way and the answer
//! (only heads: "I have it") the other, as between a typist and the relay. Timed: the receiver of the
//! keystroke (the relay's side) and the typist receiving the answer (a client's side, and the window's).
//!
//! `cargo run --release -p teamflow-bench --bin sync-receive`; run the same against a build of the commit
//! before a change to compare (see docs/benchmarks.md). One JSON line per history length.

use std::time::Instant;

use anyhow::Context as _;
use automerge::sync::{Message, State, SyncDoc as _};
use automerge::transaction::Transactable as _;
use automerge::{AutoCommit, ObjType, ROOT};
use clap::Parser;
use serde::Serialize;
use teamflow_bench::{Machine, median};

#[derive(Debug, Parser)]
struct Args {
    /// History lengths (changes) to measure at.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000,260000")]
    history: Vec<usize>,
    /// Keystrokes timed at each length.
    #[arg(long, default_value_t = 200)]
    keystrokes: usize,
    /// Receive under a tracing subscriber at this level (writing to nowhere), as a relay or a node logs:
    /// `info` is their default. None by default.
    #[arg(long)]
    log: Option<tracing::Level>,
}

#[derive(Debug, Serialize)]
struct Row {
    history: usize,
    keystrokes: usize,
    /// Receiving a message with one change, µs (median, max).
    change_median_us: f64,
    change_max_us: f64,
    /// Receiving an answer with only heads, µs (median, max).
    answer_median_us: f64,
    answer_max_us: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(level) = args.log {
        tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::sink).init();
    }
    let machine = Machine::describe();
    eprintln!("machine: {} ({} cores), {}", machine.cpu, machine.cores, machine.kernel);
    println!("| history (changes) | keystroke received, median / max µs | answer received, median / max µs |");
    println!("|---|---|---|");
    for &history in &args.history {
        let row = measure(history, args.keystrokes)?;
        println!(
            "| {} | {:.1} / {:.1} | {:.1} / {:.1} |",
            row.history, row.change_median_us, row.change_max_us, row.answer_median_us, row.answer_max_us
        );
        eprintln!("{}", serde_json::to_string(&row)?);
    }
    Ok(())
}

fn measure(history: usize, keystrokes: usize) -> anyhow::Result<Row> {
    // One change per character typed, as an editor makes them.
    let mut typist = AutoCommit::new();
    let text = typist.put_object(ROOT, "text", ObjType::Text)?;
    for i in 0..history {
        typist.splice_text(&text, i, 0, "a")?;
        typist.commit();
    }
    let mut relay = typist.fork();
    let (mut typist_state, mut relay_state) = (State::new(), State::new());
    settle(&mut typist, &mut typist_state, &mut relay, &mut relay_state)?;

    let (mut change_us, mut answer_us) = (Vec::with_capacity(keystrokes), Vec::with_capacity(keystrokes));
    for i in 0..keystrokes {
        typist.splice_text(&text, history + i, 0, "b")?;
        typist.commit();
        let keystroke = typist.sync().generate_sync_message(&mut typist_state).context("the keystroke's message")?;
        let keystroke = Message::decode(&keystroke.encode())?;
        let started = Instant::now();
        relay.sync().receive_sync_message(&mut relay_state, keystroke)?;
        change_us.push(started.elapsed().as_secs_f64() * 1e6);
        let answer = relay.sync().generate_sync_message(&mut relay_state).context("the answer")?;
        anyhow::ensure!(answer.changes.is_empty(), "the answer only tells heads");
        let answer = Message::decode(&answer.encode())?;
        let started = Instant::now();
        typist.sync().receive_sync_message(&mut typist_state, answer)?;
        answer_us.push(started.elapsed().as_secs_f64() * 1e6);
    }
    let max = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    Ok(Row {
        history,
        keystrokes,
        change_median_us: median(change_us.clone()),
        change_max_us: max(&change_us),
        answer_median_us: median(answer_us.clone()),
        answer_max_us: max(&answer_us),
    })
}

/// Exchanges messages until neither side has anything to say.
fn settle(a: &mut AutoCommit, a_state: &mut State, b: &mut AutoCommit, b_state: &mut State) -> anyhow::Result<()> {
    loop {
        let mut quiet = true;
        if let Some(message) = a.sync().generate_sync_message(a_state) {
            b.sync().receive_sync_message(b_state, message)?;
            quiet = false;
        }
        if let Some(message) = b.sync().generate_sync_message(b_state) {
            a.sync().receive_sync_message(a_state, message)?;
            quiet = false;
        }
        if quiet {
            return Ok(());
        }
    }
}
