//! Real services tests start on loopback: Pebble (the ACME test CA), Caddy (a reverse proxy), PostgreSQL and
//! NATS, all from Debian's packages, installed by `./x setup`. A missing one fails the test; nothing is
//! skipped.

pub mod nats;
pub mod postgres;
mod process;

pub use nats::Nats;
pub use postgres::Postgres;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio::process::{Child, Command};

use crate::tls::{TestCa, https_client, roots_from_pem};

/// A loopback port free a moment ago, for a service that takes its port from its configuration.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The path of `command`, or a failure telling how to get it.
pub(crate) fn require(command: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(command))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("`{command}` is not installed: run `./x setup` (Debian package `{package}`)"))
}

fn spawn(command: &mut Command, what: &str) -> Child {
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    command.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"))
}

/// Stops `child` and answers what it wrote to stderr, for a failure message.
async fn stderr_of(child: &mut Child) -> String {
    use tokio::io::AsyncReadExt as _;
    child.start_kill().ok();
    let mut out = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        // Whatever arrived in time is enough for a failure message.
        tokio::time::timeout(Duration::from_secs(2), stderr.read_to_string(&mut out)).await.ok();
    }
    out
}

/// Pebble on loopback, validating nothing (`PEBBLE_VA_ALWAYS_VALID`): every order for any name succeeds.
#[derive(Debug)]
pub struct Pebble {
    child: Child,
    /// The ACME directory URL.
    pub directory: String,
    /// The CA Pebble's own HTTPS listener presents (Debian's package ships no test certificates, so the
    /// test makes its own), as a PEM file for `--acme-ca`.
    pub listener_ca_file: PathBuf,
    listener_ca: CertificateDer<'static>,
    management: SocketAddr,
}

impl Pebble {
    /// Starts Pebble with its configuration and certificates in `dir`; waits until its directory answers.
    pub async fn start(dir: &Path) -> Pebble {
        let binary = require("pebble", "pebble");
        let ca = TestCa::new("Pebble listener test CA");
        let (cert, key) = ca.issue_loopback("pebble", 1).write(&dir.join("listener"));
        let listener_ca_file = dir.join("listener-ca.pem");
        std::fs::write(&listener_ca_file, ca.pem()).expect("write CA");
        let (api, management): (SocketAddr, SocketAddr) = (
            format!("127.0.0.1:{}", free_port()).parse().expect("addr"),
            format!("127.0.0.1:{}", free_port()).parse().expect("addr"),
        );
        let config = serde_json::json!({ "pebble": {
            "listenAddress": api.to_string(),
            "managementListenAddress": management.to_string(),
            "certificate": cert,
            "privateKey": key,
            // Where it would validate challenges; with PEBBLE_VA_ALWAYS_VALID it never connects.
            "httpPort": free_port(),
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_file = dir.join("pebble-config.json");
        std::fs::write(&config_file, config.to_string()).expect("write config");
        let child = spawn(
            Command::new(binary)
                .arg("-config")
                .arg(&config_file)
                .env("PEBBLE_VA_ALWAYS_VALID", "1")
                .env("PEBBLE_VA_NOSLEEP", "1")
                // Pebble refuses 5 % of good nonces by default, to exercise clients' retries; a test wants
                // one deterministic path.
                .env("PEBBLE_WFE_NONCEREJECT", "0"),
            "pebble",
        );
        let mut pebble = Pebble {
            child,
            directory: format!("https://{api}/dir"),
            listener_ca_file,
            listener_ca: ca.der(),
            management,
        };
        pebble.wait_ready().await;
        pebble
    }

    async fn wait_ready(&mut self) {
        let client = https_client(std::slice::from_ref(&self.listener_ca));
        for _ in 0..200 {
            if let Ok(response) = client.get(&self.directory).send().await
                && response.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pebble never answered at {}: {}", self.directory, stderr_of(&mut self.child).await);
    }

    /// The root Pebble signs certificates with (made afresh by every Pebble run).
    pub async fn issuing_roots(&self) -> Vec<CertificateDer<'static>> {
        let client = https_client(std::slice::from_ref(&self.listener_ca));
        let pem = client
            .get(format!("https://{}/roots/0", self.management))
            .send()
            .await
            .expect("pebble's management interface")
            .text()
            .await
            .expect("root PEM");
        roots_from_pem(&pem)
    }
}

/// Caddy running a Caddyfile, with `env` for its `{$VAR}` placeholders.
#[derive(Debug)]
pub struct Caddy {
    child: Child,
}

impl Caddy {
    /// Starts `caddy run` on `caddyfile` with its state in `dir`, and waits until `ready` answers.
    pub async fn start(caddyfile: &Path, dir: &Path, env: &[(&str, String)], ready: &str) -> Caddy {
        let binary = require("caddy", "caddy");
        let mut command = Command::new(binary);
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(caddyfile)
            // Caddy keeps certificates and state under these; a test's stay in its temporary directory.
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .env("HOME", dir);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut caddy = Caddy { child: spawn(&mut command, "caddy") };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Ok(response) = client.get(ready).send().await
                && response.status().is_success()
            {
                return caddy;
            }
            if let Ok(Some(status)) = caddy.child.try_wait() {
                panic!("caddy exited ({status}): {}", stderr_of(&mut caddy.child).await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("caddy never answered at {ready}: {}", stderr_of(&mut caddy.child).await);
    }
}
