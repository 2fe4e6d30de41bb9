//! Several relay instances on one PostgreSQL and one NATS server (docs/scale-out.md), as the benchmarks
//! run them: the instances on the servers' core (core 0), each held to a fixed share of it by a CPU cgroup,
//! so that N instances have N times the CPU of one and never take each other's; PostgreSQL and NATS on the
//! generator's core (core 1), as they would be on machines of their own, not taking the instances' core.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use teamflow_tests::services::{Nats, Postgres};

use crate::servers::{Server, binary, cpu_seconds, free_port, rss_mib, start_relay_program_with};

/// `instances` relays on a fresh PostgreSQL (commits flushed to disk, as SQLite's `synchronous=FULL`) and
/// NATS. Dropping it stops everything.
#[derive(Debug)]
pub struct Cluster {
    pub instances: Vec<Server>,
    /// `http://127.0.0.1:<port>` of each instance, in order.
    pub bases: Vec<String>,
    limits: Vec<CpuLimit>,
    _dirs: Vec<tempfile::TempDir>,
    nats: Nats,
    postgres: Postgres,
}

impl Cluster {
    pub async fn start(instances: usize) -> anyhow::Result<Cluster> {
        let postgres = Postgres::start_durable().await;
        let nats = Nats::start().await;
        // Off the instances' core: with three instances at a quarter core each, PostgreSQL and NATS beside
        // them would fill core 0 and the instances would wait for them, not for their own quota.
        for pid in [postgres.pid(), nats.pid()].into_iter().flatten() {
            pin(pid, SERVICES_CORE)?;
        }
        let database = postgres.create_database().await;
        let nats_url = nats.url();
        let mut cluster =
            Cluster { instances: Vec::new(), bases: Vec::new(), limits: Vec::new(), _dirs: Vec::new(), nats, postgres };
        let program = binary("teamflow-relay")?;
        for _ in 0..instances {
            let dir = tempfile::tempdir()?;
            let port = free_port()?;
            let server = start_relay_program_with(
                &program,
                dir.path(),
                port,
                &[("TEAMFLOW_DATABASE_URL", database.as_str()), ("TEAMFLOW_NATS_URL", nats_url.as_str())],
            )
            .await?;
            cluster.instances.push(server);
            cluster.bases.push(format!("http://127.0.0.1:{port}"));
            cluster._dirs.push(dir);
        }
        Ok(cluster)
    }

    /// Holds every instance to `share` of a core from now on (after the setup, whose password hashing
    /// would otherwise crawl).
    pub fn limit_cpu(&mut self, share: f64) -> anyhow::Result<()> {
        for (i, server) in self.instances.iter().enumerate() {
            self.limits.push(CpuLimit::apply(
                &format!("teamflow-bench-{}-{i}", std::process::id()),
                server.pid,
                share,
            )?);
        }
        Ok(())
    }

    /// CPU seconds the relay instances have used, together.
    pub fn relay_cpu_seconds(&self) -> f64 {
        self.instances.iter().map(|s| cpu_seconds(&s.pid.to_string())).sum()
    }

    /// CPU seconds PostgreSQL (the postmaster and its live backends) and NATS have used.
    pub fn services_cpu_seconds(&self) -> (f64, f64) {
        let postgres = self.postgres.pid().map_or(f64::NAN, tree_cpu_seconds);
        let nats = self.nats.pid().map_or(f64::NAN, |pid| cpu_seconds(&pid.to_string()));
        (postgres, nats)
    }

    /// The instances' resident memory, together.
    pub fn relay_rss_mib(&self) -> f64 {
        self.instances.iter().map(|s| rss_mib(s.pid)).sum()
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        for server in self.instances.drain(..) {
            server.stop().await?;
        }
        Ok(())
    }
}

/// Where PostgreSQL and NATS run: the generator's core (`servers::pinned` puts the generator on core 1).
const SERVICES_CORE: &str = "1";

/// Pins `pid` and all its threads to `core`; processes it forks later (PostgreSQL's backends) inherit it.
fn pin(pid: u32, core: &str) -> anyhow::Result<()> {
    let out = std::process::Command::new("taskset").args(["-a", "-cp", core, &pid.to_string()]).output();
    match out {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => bail!("taskset failed: {}", String::from_utf8_lossy(&out.stderr)),
        // No taskset: the servers are not pinned either (`servers::pinned`).
        Err(_) => Ok(()),
    }
}

/// CPU seconds of `pid` and its live children (PostgreSQL runs one process per connection).
fn tree_cpu_seconds(pid: u32) -> f64 {
    let mut total = cpu_seconds(&pid.to_string());
    let Ok(entries) = std::fs::read_dir("/proc") else { return total };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(child) = name.to_str().filter(|n| n.bytes().all(|b| b.is_ascii_digit())) else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The parent pid is the second field after the command name (which may hold spaces).
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        if parent == Some(pid.to_string().as_str()) {
            total += cpu_seconds(child);
        }
    }
    total
}

/// A CPU cgroup holding one process to a share of a core (the CFS bandwidth quota), on cgroup v1's `cpu`
/// hierarchy or cgroup v2. Removed on drop, once its process has left it.
#[derive(Debug)]
pub struct CpuLimit {
    dir: PathBuf,
    procs_of_root: PathBuf,
    pid: u32,
}

impl CpuLimit {
    pub fn apply(name: &str, pid: u32, share: f64) -> anyhow::Result<CpuLimit> {
        anyhow::ensure!(share > 0.0, "a CPU share must be positive");
        // A short period (10 ms, not the default 100 ms): a process that spends its quota early in a period
        // waits for the next, and with 100 ms that wait (up to 75 ms at a quarter of a core) would show in
        // every latency percentile as throttling rather than as the relay's own queueing.
        let period: u64 = 10_000;
        let quota = (share * period as f64).round() as u64;
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        let v2 = Path::new("/sys/fs/cgroup");
        let (root, limit_file, limit) = if v1.join("cpu.cfs_quota_us").exists() {
            (v1, "cpu.cfs_quota_us", quota.to_string())
        } else if std::fs::read_to_string(v2.join("cgroup.controllers")).is_ok_and(|c| c.contains("cpu")) {
            (v2, "cpu.max", format!("{quota} {period}"))
        } else {
            bail!("no writable CPU cgroup (needed for --cpu-share): /sys/fs/cgroup/cpu or cgroup v2 with `cpu`");
        };
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).with_context(|| format!("create {} (run as root)", dir.display()))?;
        if limit_file == "cpu.cfs_quota_us" {
            std::fs::write(dir.join("cpu.cfs_period_us"), period.to_string())?;
        }
        std::fs::write(dir.join(limit_file), limit).with_context(|| format!("set the quota in {}", dir.display()))?;
        std::fs::write(dir.join("cgroup.procs"), pid.to_string()).context("move the relay into its cgroup")?;
        Ok(CpuLimit { dir, procs_of_root: root.join("cgroup.procs"), pid })
    }
}

impl Drop for CpuLimit {
    fn drop(&mut self) {
        // A cgroup with a process in it cannot be removed: move a still-running process out first.
        if let Err(e) = std::fs::write(&self.procs_of_root, self.pid.to_string())
            && e.raw_os_error() != Some(3)
        {
            eprintln!("could not move {} out of {}: {e}", self.pid, self.dir.display());
        }
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            eprintln!("could not remove {}: {e}", self.dir.display());
        }
    }
}
