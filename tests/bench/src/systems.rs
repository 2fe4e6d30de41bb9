//! The document-sync systems the benchmarks compare: our relay (alone, or as `clusterN`: N instances on
//! PostgreSQL and NATS, client i on instance i mod N) and the Node automerge-repo sync server
//! (`tests/js/sync-server.mjs`), started the same way and reached by the same samod clients.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::json;
use teamflow_protocol::{DocumentUrl, UserId};
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{ClientConfig, SyncClient};
use tokio::io::AsyncBufReadExt as _;
use tokio::sync::watch;

use crate::cluster::{Cluster, CpuLimit};
use crate::servers::{
    RelayTls, Server, cpu_seconds, free_port, pinned, rss_mib, setup, sign_up, start_baseline_relay, start_relay,
    start_relay_tls,
};

/// Where a hand-rolled sync client connects, and as whom.
#[derive(Debug, Clone)]
pub struct SyncEndpoint {
    pub url: String,
    pub peer: String,
    pub token: Option<String>,
}

/// The processes of a system under test.
#[derive(Debug)]
#[allow(clippy::large_enum_variant, reason = "one value per system under test: its size does not matter")]
enum Processes {
    One(Server, Option<CpuLimit>),
    Cluster(Cluster),
}

/// A running sync system and how clients reach it.
#[derive(Debug)]
pub struct SyncSystem {
    pub name: String,
    processes: Processes,
    /// `http://127.0.0.1:<port>` of each instance (one but for `clusterN`).
    bases: Vec<String>,
    /// For the relay: signed-up users, all members of one team.
    relay: Option<RelayUsers>,
    /// For the relay over TLS: how clients trust it.
    tls: Option<RelayTls>,
    _dir: tempfile::TempDir,
}

#[derive(Debug)]
struct RelayUsers {
    users: Vec<(String, UserId)>,
    team: String,
}

impl SyncSystem {
    /// Starts `name` ("relay", "relay-tls", "relay-baseline": the binary `TEAMFLOW_BENCH_BASELINE_RELAY` names,
    /// "clusterN", or "node") pinned to core 0; for the relay, signs up `users` users and puts
    /// them in one team, so each client can be a different person.
    pub async fn start(name: &str, users: usize) -> anyhow::Result<SyncSystem> {
        let one = |server, base: String, relay, tls, dir| SyncSystem {
            name: name.into(),
            processes: Processes::One(server, None),
            bases: vec![base],
            relay: Some(relay),
            tls,
            _dir: dir,
        };
        match name {
            "relay" => {
                let (server, base, dir) = start_relay().await?;
                let relay = relay_team(&reqwest::Client::new(), &base, users).await?;
                Ok(one(server, base, relay, None, dir))
            }
            "relay-baseline" => {
                let (server, base, dir) = start_baseline_relay().await?;
                let relay = relay_team(&reqwest::Client::new(), &base, users).await?;
                Ok(one(server, base, relay, None, dir))
            }
            "relay-tls" => {
                let (server, base, dir, tls) = start_relay_tls().await?;
                let relay = relay_team(&tls.http()?, &base, users).await?;
                Ok(one(server, base, relay, Some(tls), dir))
            }
            cluster if cluster.strip_prefix("cluster").is_some_and(|n| n.parse::<usize>().is_ok_and(|n| n > 0)) => {
                let n = cluster["cluster".len()..].parse()?;
                let cluster = Cluster::start(n).await?;
                let relay = relay_team(&reqwest::Client::new(), &cluster.bases[0], users).await?;
                Ok(SyncSystem {
                    name: name.into(),
                    bases: cluster.bases.clone(),
                    processes: Processes::Cluster(cluster),
                    relay: Some(relay),
                    tls: None,
                    _dir: tempfile::tempdir()?,
                })
            }
            "node" => {
                let dir = tempfile::tempdir()?;
                let port = free_port()?;
                let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../js/sync-server.mjs");
                let mut child = pinned(Path::new("node"))
                    .arg(script)
                    .arg(port.to_string())
                    .arg(dir.path())
                    .stdout(Stdio::piped())
                    .spawn()
                    .context("node (run ./x setup for the packages)")?;
                let pid = child.id().context("node exited")?;
                let stdout = child.stdout.take().context("no stdout")?;
                tokio::io::BufReader::new(stdout).lines().next_line().await?.context("node server did not start")?;
                let server = Server { child, pid };
                let base = format!("http://127.0.0.1:{port}");
                Ok(SyncSystem {
                    name: name.into(),
                    processes: Processes::One(server, None),
                    bases: vec![base],
                    relay: None,
                    tls: None,
                    _dir: dir,
                })
            }
            other => anyhow::bail!("unknown system {other}"),
        }
    }

    /// Holds each server process (each relay instance of a cluster) to `share` of a core from now on.
    pub fn limit_cpu(&mut self, share: f64) -> anyhow::Result<()> {
        match &mut self.processes {
            Processes::One(server, limit) => {
                let name = format!("teamflow-bench-{}", std::process::id());
                *limit = Some(CpuLimit::apply(&name, server.pid, share)?);
                Ok(())
            }
            Processes::Cluster(cluster) => cluster.limit_cpu(share),
        }
    }

    /// CPU seconds the system has used: its server, or every process of a cluster (relays, PostgreSQL
    /// and NATS).
    pub fn cpu_seconds(&self) -> f64 {
        match &self.processes {
            Processes::One(server, _) => cpu_seconds(&server.pid.to_string()),
            Processes::Cluster(cluster) => {
                let (postgres, nats) = cluster.services_cpu_seconds();
                cluster.relay_cpu_seconds() + postgres + nats
            }
        }
    }

    /// The server's resident memory (a cluster's relay instances' together).
    pub fn rss_mib(&self) -> f64 {
        match &self.processes {
            Processes::One(server, _) => rss_mib(server.pid),
            Processes::Cluster(cluster) => cluster.relay_rss_mib(),
        }
    }

    /// The first (for most systems the only) instance's base URL.
    pub fn base(&self) -> &str {
        &self.bases[0]
    }

    /// The instance client `i` talks to.
    fn base_of(&self, i: usize) -> &str {
        &self.bases[i % self.bases.len()]
    }

    /// The access token and user of client `i` (on the Node server, which has no accounts: none).
    fn user(&self, i: usize) -> (String, UserId) {
        match &self.relay {
            Some(relay) => relay.users[i].clone(),
            None => (String::new(), UserId::new()),
        }
    }

    /// A samod client of this system as the `i`th user, online. Keep the sender: it holds the token.
    pub async fn client(&self, i: usize, device: &str) -> anyhow::Result<(SyncClient, watch::Sender<String>)> {
        self.client_saving(i, device, true).await
    }

    /// As [`SyncSystem::client`]; with `saves` false, its documents are kept in memory only and never written
    /// to its storage (`ClientConfig::saves`): what the server sees is the same, and the generator's core is
    /// spared the work each real device does on its own.
    pub async fn client_saving(
        &self,
        i: usize,
        device: &str,
        saves: bool,
    ) -> anyhow::Result<(SyncClient, watch::Sender<String>)> {
        let (token, user) = self.user(i);
        let (keep, rx) = watch::channel(token);
        let mut config = ClientConfig::new(self.base_of(i), user, device);
        config.saves = saves;
        config.tls = self.tls.as_ref().map(|tls| tls.config.clone());
        let mut sync = SyncClient::in_memory(config, rx).await;
        sync.go_online().await?;
        Ok((sync, keep))
    }

    /// The automerge-repo WebSocket URL, peer id and access token (for the `Authorization` header; none on
    /// the Node server) for a hand-rolled client as the `i`th user.
    pub fn sync_endpoint(&self, i: usize, device: &str) -> SyncEndpoint {
        let (token, user) = self.user(i);
        let peer = format!("{user}:{device}");
        let ws = self.base_of(i).replacen("http", "ws", 1);
        match &self.relay {
            Some(_) => SyncEndpoint { url: format!("{ws}/sync?peer_id={peer}"), peer, token: Some(token) },
            None => SyncEndpoint { url: format!("{ws}/sync"), peer, token: None },
        }
    }

    /// Makes `handle`, created on `owner` (client 0), available to every client, and waits until the
    /// server has it. The relay shares a document only once it is registered with a team.
    pub async fn share(&self, owner: &mut SyncClient, handle: &DocHandle) -> anyhow::Result<()> {
        if let Some(relay) = &self.relay {
            let url = teamflow_sync::document_url(handle)?;
            let http = match &self.tls {
                Some(tls) => tls.http()?,
                None => reqwest::Client::new(),
            };
            let body = json!({ "document_id": url.to_string(), "title": "bench" });
            let path = format!("{}/api/teams/{}/documents", self.base(), relay.team);
            setup(|| http.post(&path).bearer_auth(&relay.users[0].0).json(&body)).await?;
            // Registered after it was offered: a fresh handshake offers it again.
            owner.reconnect().await?;
        }
        anyhow::ensure!(owner.synced_with_relay(handle).await, "the server never got the document");
        Ok(())
    }

    /// Like `share` for many documents at once: registers them all, reconnects `owner` once, and waits
    /// until the server has each.
    pub async fn share_all(&self, owner: &mut SyncClient, handles: &[DocHandle]) -> anyhow::Result<()> {
        if let Some(relay) = &self.relay {
            let http = match &self.tls {
                Some(tls) => tls.http()?,
                None => reqwest::Client::new(),
            };
            let path = format!("{}/api/teams/{}/documents", self.base(), relay.team);
            for (i, handle) in handles.iter().enumerate() {
                let url = teamflow_sync::document_url(handle)?;
                let body = json!({ "document_id": url.to_string(), "title": format!("bench {i}") });
                setup(|| http.post(&path).bearer_auth(&relay.users[0].0).json(&body)).await?;
            }
            owner.reconnect().await?;
        }
        for handle in handles {
            anyhow::ensure!(owner.synced_with_relay(handle).await, "the server never got a document");
        }
        Ok(())
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        match self.processes {
            Processes::One(server, _) => server.stop().await,
            Processes::Cluster(cluster) => cluster.stop().await,
        }
    }
}

/// Signs up `n` users on the relay at `base` and makes them members of one new team.
async fn relay_team(http: &reqwest::Client, base: &str, n: usize) -> anyhow::Result<RelayUsers> {
    let tokens = sign_up(http, base, n).await?;
    let mut users = Vec::new();
    for token in tokens {
        let me = setup(|| http.get(format!("{base}/api/me")).bearer_auth(&token)).await?;
        let id = me["user"]["id"].as_str().context("user id")?.parse()?;
        users.push((token, id));
    }
    let owner = users[0].0.clone();
    let team =
        setup(|| http.post(format!("{base}/api/teams")).bearer_auth(&owner).json(&json!({"name": "Bench"}))).await?;
    let team = team["id"].as_str().context("team id")?.to_owned();
    for (i, (token, _)) in users.iter().enumerate().skip(1) {
        crate::servers::join_team(http, base, &owner, &team, i, token).await?;
    }
    Ok(RelayUsers { users, team })
}

/// Opens `url` on `client`, retrying while the server does not have it yet.
pub async fn open(client: &SyncClient, url: &DocumentUrl) -> anyhow::Result<DocHandle> {
    for _ in 0..50 {
        if let Some(handle) = client.open(url).await? {
            return Ok(handle);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("document not found on the server")
}
