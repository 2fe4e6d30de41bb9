//! Running the systems under test: our relay and the ceiling server as pinned child processes, their CPU
//! time and RSS from `/proc`, and the setup requests that wait out the relay's rate limits.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::current_exe()?.parent().context("no binary directory")?.to_owned();
    let path = dir.join(name);
    if !path.exists() {
        bail!("{} is missing: cargo build --release -p teamflow-relay -p teamflow-bench", path.display());
    }
    Ok(path)
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Starts a server on core 0 (when `taskset` is available) and pins this process to core 1. The server is
/// killed if its `Server` is dropped, so a benchmark that fails half-way leaves no server running.
pub fn pinned(program: &Path) -> Command {
    let mut command = pinned_command(program);
    command.kill_on_drop(true);
    command
}

fn pinned_command(program: &Path) -> Command {
    let have_taskset = std::process::Command::new("taskset").arg("-V").output().is_ok_and(|o| o.status.success());
    if have_taskset {
        let me = std::process::id().to_string();
        // `-a`: every thread of the generator (the runtime's workers already run), not only the main one,
        // or the generator competes with the server for core 0.
        if let Err(e) = std::process::Command::new("taskset").args(["-a", "-cp", "1", &me]).output() {
            eprintln!("could not pin the generator: {e}");
        }
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// A system under test, running as a child process.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub pid: u32,
}

impl Server {
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}

pub fn cpu_seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return f64::NAN };
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0 // USER_HZ is 100 on Linux
}

/// The machine's steal time so far, in CPU-seconds summed over its cores (`/proc/stat`'s eighth `cpu`
/// field): time the hypervisor gave this virtual machine's cores to someone else, which stalls every
/// process on them at once.
pub fn steal_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else { return f64::NAN };
    let ticks = stat.lines().next().and_then(|cpu| cpu.split_whitespace().nth(8)).and_then(|v| v.parse::<f64>().ok());
    ticks.map_or(f64::NAN, |t| t / 100.0) // USER_HZ is 100 on Linux
}

pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(|v| v.trim().trim_end_matches(" kB").to_owned())
        })
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// A setup request, waiting out the relay's rate limits (its production settings stay as they are).
pub async fn setup(request: impl Fn() -> reqwest::RequestBuilder) -> anyhow::Result<Value> {
    loop {
        let response = request().send().await?;
        if response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        return Ok(response.error_for_status()?.json().await?);
    }
}

pub async fn wait_ready(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    for _ in 0..200 {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server never became ready at {url}")
}

/// Starts our relay (release build) on a fresh data directory with production settings, apart from the
/// sign-up limit (one address signs up every simulated user). Answers the server, its base URL and the
/// directory (deleted when dropped).
pub async fn start_relay() -> anyhow::Result<(Server, String, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let server = start_relay_in(dir.path(), port).await?;
    Ok((server, format!("http://127.0.0.1:{port}"), dir))
}

/// The environment variable naming a relay binary built from another commit: the `relay-baseline` system,
/// so a change is measured against the code before it in one run, rounds alternating.
pub const BASELINE_RELAY: &str = "TEAMFLOW_BENCH_BASELINE_RELAY";

/// Like `start_relay`, with the binary `BASELINE_RELAY` names.
pub async fn start_baseline_relay() -> anyhow::Result<(Server, String, tempfile::TempDir)> {
    let program = std::env::var_os(BASELINE_RELAY)
        .with_context(|| format!("{BASELINE_RELAY} must name a teamflow-relay binary for relay-baseline"))?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let server = start_relay_program(Path::new(&program), dir.path(), port, None, &reqwest::Client::new(), &[]).await?;
    Ok((server, format!("http://127.0.0.1:{port}"), dir))
}

/// A WebSocket to a system under test: the access token (if any) in the `Authorization` header as the app
/// sends it, TLS through `connector` for `wss://`, and TCP_NODELAY (small frames must not wait on Nagle).
pub async fn connect_ws(
    url: &str,
    token: Option<&str>,
    connector: Option<tokio_tungstenite::Connector>,
) -> Result<WebSocket, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request()?;
    if let Some(token) = token {
        let bearer = format!("Bearer {token}").parse().map_err(
            |e: tokio_tungstenite::tungstenite::http::header::InvalidHeaderValue| {
                tokio_tungstenite::tungstenite::Error::HttpFormat(e.into())
            },
        )?;
        request.headers_mut().insert("authorization", bearer);
    }
    let (socket, _) = tokio_tungstenite::connect_async_tls_with_config(request, None, true, connector).await?;
    Ok(socket)
}

/// A WebSocket to a system under test.
pub type WebSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How clients reach a relay serving TLS: they trust the private CA made for the run, and nothing else.
#[derive(Debug, Clone)]
pub struct RelayTls {
    pub config: Arc<rustls::ClientConfig>,
}

impl RelayTls {
    pub fn http(&self) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder().tls_backend_preconfigured(self.config.as_ref().clone()).build()?)
    }

    pub fn connector(&self) -> tokio_tungstenite::Connector {
        tokio_tungstenite::Connector::Rustls(self.config.clone())
    }
}

/// Starts our relay as `start_relay` does, serving HTTPS and WSS with a certificate from a CA made for the
/// run (the production TLS path: rustls, the relay's own listener). Answers its `https://` base URL too.
pub async fn start_relay_tls() -> anyhow::Result<(Server, String, tempfile::TempDir, RelayTls)> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let ca = teamflow_tests::tls::TestCa::new("TeamFlow bench CA");
    let (cert, key) = ca.issue_loopback("relay", 1).write(&dir.path().join("tls"));
    let tls = RelayTls { config: Arc::new(teamflow_tests::tls::client_config(&[ca.der()])) };
    let server =
        start_relay_with(dir.path().join("data").as_path(), port, Some((&cert, &key)), &tls.http()?, &[]).await?;
    Ok((server, format!("https://127.0.0.1:{port}"), dir, tls))
}

/// Starts our relay as `start_relay` does, on `port` with `dir` as its data directory (again, after a
/// kill, to measure a restart), and waits until it is ready.
pub async fn start_relay_in(dir: &Path, port: u16) -> anyhow::Result<Server> {
    start_relay_with(dir, port, None, &reqwest::Client::new(), &[]).await
}

/// `start_relay_in`, with these environment variables set too (settings a benchmark compares or raises).
pub async fn start_relay_in_with_env(dir: &Path, port: u16, env: &[(&str, &str)]) -> anyhow::Result<Server> {
    start_relay_with(dir, port, None, &reqwest::Client::new(), env).await
}

async fn start_relay_with(
    dir: &Path,
    port: u16,
    tls: Option<(&Path, &Path)>,
    http: &reqwest::Client,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    start_relay_program(&binary("teamflow-relay")?, dir, port, tls, http, env).await
}

/// Starts `program` (a relay binary) as `start_relay_in_with_env` does.
pub async fn start_relay_program_with(
    program: &Path,
    dir: &Path,
    port: u16,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    start_relay_program(program, dir, port, None, &reqwest::Client::new(), env).await
}

async fn start_relay_program(
    program: &Path,
    dir: &Path,
    port: u16,
    tls: Option<(&Path, &Path)>,
    http: &reqwest::Client,
    env: &[(&str, &str)],
) -> anyhow::Result<Server> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://127.0.0.1:{port}");
    let mut command = pinned(program);
    if let Some((cert, key)) = tls {
        command.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
    }
    let child = command
        .args(["--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir)
        .env("TEAMFLOW_AUTH_RATE_PER_MINUTE", "1000000")
        .env("TEAMFLOW_AUTH_RATE_BURST", "1000000")
        // Load tests sign up many users without invitations.
        .env("TEAMFLOW_REGISTRATION", "open")
        // The libp2p node on free loopback ports, so runs never collide on the default 4001.
        .env("TEAMFLOW_P2P_LISTEN", "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(relay_log()?)
        .spawn()?;
    let pid = child.id().context("relay exited")?;
    let server = Server { child, pid };
    wait_ready(http, &format!("{base}/readyz")).await?;
    Ok(server)
}

/// Where the relay's log goes: the file named by `TEAMFLOW_BENCH_RELAY_LOG` (appended to), else nowhere.
fn relay_log() -> anyhow::Result<Stdio> {
    Ok(match std::env::var_os("TEAMFLOW_BENCH_RELAY_LOG") {
        Some(path) => std::fs::OpenOptions::new().create(true).append(true).open(path)?.into(),
        None => Stdio::null(),
    })
}

/// Signs up `n` users (`load{i}@example.test`), a few at a time (password hashing is deliberately slow);
/// answers their access tokens.
pub async fn sign_up(http: &reqwest::Client, base: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let signups = chunk.iter().map(|i| {
            let body = json!({ "email": format!("load{i}@example.test"), "password": "load test password", "display_name": format!("load{i}") });
            let http = http.clone();
            let url = format!("{base}/api/auth/register");
            async move { setup(|| http.post(&url).json(&body)).await }
        });
        for answer in futures::future::try_join_all(signups).await? {
            tokens.push(answer["access_token"].as_str().context("no token")?.to_owned());
        }
    }
    Ok(tokens)
}

/// `owner` (an access token) invites the account `load{member}@example.test` to `team`, and that account
/// (`member_token`) accepts: how a load test fills a team now that joining takes consent.
pub async fn join_team(
    http: &reqwest::Client,
    base: &str,
    owner: &str,
    team: &str,
    member: usize,
    member_token: &str,
) -> anyhow::Result<()> {
    let body = json!({ "email": format!("load{member}@example.test"), "role": "member" });
    let created =
        setup(|| http.post(format!("{base}/api/teams/{team}/members")).bearer_auth(owner).json(&body)).await?;
    // A relay from before invitations (a baseline build) makes the account a member at once.
    let Some(token) = created["invitation"]["token"].as_str().map(str::to_owned) else {
        anyhow::ensure!(created.get("user_id").is_some(), "neither an invitation nor a member: {created}");
        return Ok(());
    };
    setup(|| http.post(format!("{base}/api/invitations/{token}/accept")).bearer_auth(member_token)).await?;
    Ok(())
}

/// Starts the ceiling server; answers it and its port.
pub async fn start_ceiling() -> anyhow::Result<(Server, u16)> {
    let port = free_port()?;
    let child =
        pinned(&binary("ceiling")?).args(["--bind", &format!("127.0.0.1:{port}")]).stdout(Stdio::piped()).spawn()?;
    let pid = child.id().context("ceiling exited")?;
    let mut server = Server { child, pid };
    // It prints its address once listening.
    if let Some(stdout) = server.child.stdout.take() {
        let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
        lines.next_line().await?;
    }
    Ok((server, port))
}

/// Runs every system in turn for `repeats` rounds (A B A B ...), printing each report as one JSON line;
/// answers them all for the summary.
pub async fn alternate<R: serde::Serialize>(
    systems: &[String],
    repeats: usize,
    mut run: impl AsyncFnMut(&str) -> anyhow::Result<Vec<R>>,
) -> anyhow::Result<Vec<R>> {
    let mut reports = Vec::new();
    for round in 0..repeats {
        for system in systems {
            eprintln!("round {} of {repeats}: {system}", round + 1);
            for report in run(system).await? {
                println!("{}", serde_json::to_string(&report)?);
                reports.push(report);
            }
        }
    }
    Ok(reports)
}
