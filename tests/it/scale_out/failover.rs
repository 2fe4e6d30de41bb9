//! Failover: two relay processes on one PostgreSQL behind a load balancer, and `kill -9` of the instance
//! serving the writes while they flow. Every acknowledged message is there
//! afterwards, once and in a gapless order; the writes continue through the other instance; the sign-in is
//! unaffected (the access token and the refresh token work there: no visible sign-out).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use teamflow_tests::services::{Postgres, free_port};
use teamflow_tests::{Client, PASSWORD};

const RELAY: &str = env!("CARGO_BIN_EXE_teamflow-relay-under-test");
/// Messages written in all; the instance dies after `KILL_AFTER` of them were acknowledged.
const MESSAGES: usize = 60;
const KILL_AFTER: usize = 20;
/// A guard against a hang, not the goal (the figure is printed; docs/scale-out.md has it).
const PATIENCE: Duration = Duration::from_secs(30);
/// How long the client waits for one answer before trying again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A relay process on the shared database; killed when dropped.
struct Instance {
    child: tokio::process::Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Instance {
    async fn start(database_url: &str) -> Instance {
        let dir = tempfile::tempdir().expect("data dir");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let child = tokio::process::Command::new(RELAY)
            .args(["--bind", &addr.to_string(), "--no-p2p", "--registration", "open"])
            .args(["--rate-per-second", "100000", "--rate-burst", "100000"])
            .args(["--auth-rate-per-minute", "100000", "--auth-rate-burst", "100000"])
            .arg("--data-dir")
            .arg(dir.path())
            .env("TEAMFLOW_DATABASE_URL", database_url)
            .env_remove("TEAMFLOW_NATS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the relay");
        let instance = Instance { child, addr, _dir: dir };
        let ready = format!("http://{addr}/readyz");
        let http = reqwest::Client::new();
        let started = Instant::now();
        // Waiting for the process to serve (migrations first): the condition is polled, bounded.
        loop {
            if http.get(&ready).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
                return instance;
            }
            assert!(started.elapsed() < PATIENCE, "the relay at {addr} did not get ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Posts one message, trying again (same client id, so it applies once) until it is acknowledged.
async fn post_until_acknowledged(client: &Client, team: &str, n: usize) -> i64 {
    let started = Instant::now();
    let mut last;
    loop {
        let body = json!({ "client_id": format!("m{n}"), "content": format!("message {n}") });
        let answer = client.http.post(format!("{}/api/teams/{team}/messages", client.base));
        let answer = answer.bearer_auth(client.token.as_deref().expect("token")).json(&body).send().await;
        match &answer {
            Ok(response) => last = format!("status {}", response.status()),
            Err(e) => last = format!("error {e}"),
        }
        if let Ok(response) = answer {
            let status = response.status();
            if status == StatusCode::CREATED || status == StatusCode::OK {
                let message: serde_json::Value = response.json().await.expect("json");
                return message["seq"].as_i64().expect("seq");
            }
            assert!(status.is_server_error(), "message {n} refused with {status}: no sign-out, no refusal");
        }
        assert!(started.elapsed() < PATIENCE, "message {n} was never acknowledged; last answer: {last}");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_instance_under_writes_loses_no_acknowledged_message_and_the_client_carries_on() {
    let postgres = Postgres::start().await;
    let url = postgres.create_database().await;
    let mut a = Instance::start(&url).await;
    let b = Instance::start(&url).await;

    let port = balance(vec![a.addr, b.addr]).await;

    // A client gives up on a request after a while and tries again, as the app does: a request in flight to
    // the instance that died may otherwise wait on the proxy for good.
    let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().expect("client");
    let anonymous = Client { http, base: format!("http://127.0.0.1:{port}"), token: None };
    let signed_up = json!({ "email": "ada@example.test", "password": PASSWORD, "display_name": "Ada" });
    let (status, session) = anonymous.post("/api/auth/register", &signed_up).await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    let ada = anonymous.with_token(session["access_token"].as_str());
    let team = ada.create_team("Failover").await;

    // The writer runs on its own; the instance is killed while its writes are in flight.
    let (acked, mut acknowledged) = tokio::sync::watch::channel(Vec::<(usize, i64, Instant)>::new());
    let writer = {
        let (ada, team) = (ada.clone(), team.clone());
        tokio::spawn(async move {
            for n in 0..MESSAGES {
                let seq = post_until_acknowledged(&ada, &team, n).await;
                acked.send_modify(|all| all.push((n, seq, Instant::now())));
            }
        })
    };
    acknowledged.wait_for(|all| all.len() >= KILL_AFTER).await.expect("the writer runs");
    a.child.start_kill().expect("kill -9 the first instance");
    let killed = Instant::now();
    a.child.wait().await.expect("reap the killed relay");
    writer.await.expect("the writer finished");
    let all = acknowledged.borrow().clone();
    let failover = all.iter().find(|(_, _, at)| *at > killed).map(|(_, _, at)| at.duration_since(killed));
    let failover = failover.expect("writes were acknowledged after the kill");
    eprintln!("failover: first write acknowledged {} ms after kill -9", failover.as_millis());
    let seqs: Vec<i64> = all.iter().map(|(_, seq, _)| *seq).collect();

    let expected: Vec<i64> = (1..=i64::try_from(MESSAGES).expect("count")).collect();
    assert_eq!(seqs, expected, "every message acknowledged once, in order, without a gap");
    let (status, page) = ada.get(&format!("/api/teams/{team}/messages?limit=100")).await;
    assert_eq!(status, StatusCode::OK, "the same access token works on the other instance: {page}");
    // Newest first, as the API pages them.
    let mut stored: Vec<String> = page["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["client_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    stored.reverse();
    let written: Vec<String> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    assert_eq!(stored, written, "every acknowledged write is stored, once");
    let (status, refreshed) =
        anonymous.post("/api/auth/refresh", &json!({ "refresh_token": session["refresh_token"] })).await;
    assert_eq!(status, StatusCode::OK, "the sign-in goes on: {refreshed}");
    drop(b);
}

/// A TCP load balancer on a free port, as a cloud's network load balancer works: each connection goes to
/// the first upstream that takes it, and lives and dies with it. (Caddy as the balancer held requests to
/// the dead instance for tens of seconds here; the relay's behaviour is what this test is about.)
async fn balance(upstreams: Vec<SocketAddr>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the balancer");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let upstreams = upstreams.clone();
            tokio::spawn(async move {
                for upstream in upstreams {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        // Ends when either side closes or fails: the client then sees the error and retries.
                        tokio::io::copy_bidirectional(&mut client, &mut server).await.ok();
                        return;
                    }
                }
            });
        }
    });
    port
}
