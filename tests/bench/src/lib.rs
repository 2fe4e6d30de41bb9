//! Shared pieces of TeamFlow's benchmarks: the editing-trace format, peak memory from `/proc`, and the
//! one-JSON-line-per-run report.

pub mod cluster;
pub mod servers;
pub mod systems;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use automerge::transaction::Transactable as _;
use automerge::{Automerge, ObjType, ROOT};
use serde::{Deserialize, Serialize};

/// A sequential editing trace (josephg/editing-traces format): apply every patch of every transaction in
/// order to `start_content` and the result is `end_content`.
#[derive(Debug, Deserialize)]
pub struct Trace {
    #[serde(rename = "startContent")]
    pub start_content: String,
    #[serde(rename = "endContent")]
    pub end_content: String,
    pub txns: Vec<Txn>,
}

#[derive(Debug, Deserialize)]
pub struct Txn {
    pub patches: Vec<Patch>,
}

/// `(position, characters deleted, text inserted)`, positions in Unicode code points.
#[derive(Debug, Deserialize)]
pub struct Patch(pub usize, pub usize, pub String);

impl Trace {
    /// Reads a gzipped trace.
    pub fn load(path: &Path) -> anyhow::Result<Trace> {
        let file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
        let mut json = String::new();
        flate2::read::GzDecoder::new(file).read_to_string(&mut json).context("gunzip the trace")?;
        serde_json::from_str(&json).context("parse the trace")
    }

    pub fn patches(&self) -> impl Iterator<Item = &Patch> {
        self.txns.iter().flat_map(|t| t.patches.iter())
    }

    /// The trace replayed with raw automerge into a text at `teamflow_sync::TEXT_FIELD`, one change per
    /// keystroke, and saved: the finished document with its whole history.
    pub fn finished_document(&self) -> anyhow::Result<Vec<u8>> {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let text = tx.put_object(ROOT, teamflow_sync::TEXT_FIELD, ObjType::Text)?;
        tx.commit();
        for patch in self.patches() {
            let mut tx = doc.transaction();
            tx.splice_text(&text, patch.0, isize::try_from(patch.1)?, &patch.2)?;
            tx.commit();
        }
        Ok(doc.save())
    }
}

/// Where the data handed to the project lives: `../shared/data` beside the repository, unless
/// `TEAMFLOW_DATA` says otherwise.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("TEAMFLOW_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// This process's peak resident set size in KiB (`VmHWM`), on Linux; `None` elsewhere.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// The median of a sample (NaN for an empty one).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 0 => (values[mid - 1] + values[mid]) / 2.0,
        _ => values[mid],
    }
}

/// What the machine is, for the report.
#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "machine: {} ({} cores), Linux {}", self.cpu, self.cores, self.kernel)
    }
}

impl Machine {
    pub fn describe() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines().find_map(|l| {
                    l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
                })
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel =
            std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|k| k.trim().to_owned()).unwrap_or_default();
        // Counted from /proc/cpuinfo, not this process's affinity (the load generator pins itself to one core).
        let cores = std::fs::read_to_string("/proc/cpuinfo")
            .map(|info| info.lines().filter(|l| l.starts_with("processor")).count())
            .unwrap_or(1);
        Machine { cpu, cores, kernel }
    }
}
