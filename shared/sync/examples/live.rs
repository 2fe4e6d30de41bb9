//! Chat and co-edit a document live from a terminal, against a running relay.
//!
//! Terminal 1:  cargo run -p teamflow-sync --example live -- --email bob@example.com --password 'battery staple'
//! Terminal 2:  cargo run -p teamflow-sync --example live -- --email alice@example.com --password 'correct horse' \
//!                  --invite bob@example.com
//!
//! Alice's run creates a team and a document (once), adds Bob; Bob's run waits until it is in a team. Then type a
//! line to chat, `/doc <text>` to append to the shared document, `/show` to print it, Ctrl-D to quit.

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use teamflow_sync::{ClientConfig, SyncClient, read_text, splice_text};
use tokio::io::AsyncBufReadExt;
use tokio_tungstenite::tungstenite::Message;

#[derive(Parser)]
struct Args {
    /// The relay's URL, as `./x run` prints it.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    relay: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    password: String,
    /// Someone (who already ran this once) to add to your team.
    #[arg(long)]
    invite: Option<String>,
}

struct Api {
    http: reqwest::Client,
    relay: String,
    token: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.relay)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.context("the relay is not reachable")?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }
}

async fn sign_in(args: &Args) -> anyhow::Result<(Api, Value)> {
    let http = reqwest::Client::new();
    let name = args.email.split('@').next().unwrap_or("someone").to_owned();
    let register = json!({ "email": args.email, "password": args.password, "display_name": name });
    let mut response = http.post(format!("{}/api/auth/register", args.relay)).json(&register).send().await?;
    if response.status() == reqwest::StatusCode::CONFLICT {
        let login = json!({ "email": args.email, "password": args.password });
        response = http.post(format!("{}/api/auth/login", args.relay)).json(&login).send().await?;
    }
    let status = response.status();
    let body: Value = response.json().await?;
    if !status.is_success() {
        bail!("sign-in failed: {}", body["error"]["message"]);
    }
    let token = body["access_token"].as_str().context("no access token")?.to_owned();
    Ok((Api { http, relay: args.relay.trim_end_matches('/').to_owned(), token }, body["user"].clone()))
}

/// The first team (creating "Demo" when inviting and there is none), waiting to be invited otherwise.
async fn team(api: &Api, args: &Args) -> anyhow::Result<String> {
    loop {
        let (_, me) = api.call(reqwest::Method::GET, "/api/me", None).await?;
        if let Some(id) = me["teams"][0]["id"].as_str() {
            return Ok(id.to_owned());
        }
        if args.invite.is_some() {
            let (_, team) = api.call(reqwest::Method::POST, "/api/teams", Some(json!({ "name": "Demo" }))).await?;
            return team["id"].as_str().map(str::to_owned).context("team not created");
        }
        // Added to a team is invited to it: take the invitation waiting for us.
        if let Some(token) = me["invitations"][0]["token"].as_str() {
            let (status, body) =
                api.call(reqwest::Method::POST, &format!("/api/invitations/{token}/accept"), None).await?;
            if status == 200 {
                println!("accepted the invitation to {}", body["name"]);
            }
            continue;
        }
        println!("waiting to be invited to a team...");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .init();
    let (api, user) = sign_in(&args).await?;
    let user_id = user["id"].as_str().context("user id")?.parse()?;
    let team = team(&api, &args).await?;
    if let Some(email) = &args.invite {
        let (status, body) = api
            .call(
                reqwest::Method::POST,
                &format!("/api/teams/{team}/members"),
                Some(json!({ "email": email, "role": "member" })),
            )
            .await?;
        match status {
            202 => println!("invited {email} to the team"),
            409 => {}
            _ => println!("could not add {email}: {}", body["error"]["message"]),
        }
    }

    let (_keep, token) = tokio::sync::watch::channel(api.token.clone());
    let device = format!("terminal-{}", std::process::id());
    let mut sync = SyncClient::in_memory(ClientConfig::new(&api.relay, user_id, device), token).await;
    sync.go_online().await?;
    let documents_path = format!("/api/teams/{team}/documents");
    let doc = loop {
        let (_, documents) = api.call(reqwest::Method::GET, &documents_path, None).await?;
        if let Some(url) = documents[0]["document_id"].as_str() {
            match sync.open(&url.parse()?).await? {
                Some(doc) => break doc,
                None => println!("the document is not on the relay yet..."),
            }
        } else if args.invite.is_some() {
            let (url, doc) = sync.create_text("").await?;
            api.call(reqwest::Method::POST, &documents_path, Some(json!({ "document_id": url, "title": "Notes" })))
                .await?;
            sync.synced_with_relay(&doc).await;
            break doc;
        } else {
            println!("waiting for a shared document...");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };

    // The token goes in the Authorization header, never in the URL.
    let ws_url = format!("{}/api/ws", api.relay.replacen("http", "ws", 1));
    let socket = teamflow_sync::transport::connect_websocket(&ws_url, &api.token).await?;
    let (mut send, mut receive) = socket.split();
    send.send(Message::text(json!({ "type": "join_team", "team_id": team }).to_string())).await?;
    println!("joined. Type to chat; /doc <text> appends to the document; /show prints it; Ctrl-D quits.");

    let mut changes = Box::pin(doc.changes());
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut sent = 0u64;
    loop {
        tokio::select! {
            line = stdin.next_line() => {
                let Some(line) = line? else { break };
                if let Some(text) = line.strip_prefix("/doc ") {
                    let end = read_text(&doc).chars().count();
                    splice_text(&doc, end, 0, &format!("{text}\n"))?;
                } else if line == "/show" {
                    println!("--- document ---\n{}----------------", read_text(&doc));
                } else if !line.trim().is_empty() {
                    sent += 1;
                    let frame = json!({
                        "type": "send_message", "team_id": team, "content": line,
                        "client_msg_id": format!("{}-{}-{sent}", std::process::id(), user["id"].as_str().unwrap_or("")),
                    });
                    send.send(Message::text(frame.to_string())).await?;
                }
            }
            frame = receive.next() => {
                let Some(Ok(Message::Text(text))) = frame else {
                    if frame.is_none() { bail!("the relay closed the connection") }
                    continue;
                };
                let frame: Value = serde_json::from_str(text.as_str())?;
                match frame["type"].as_str() {
                    Some("new_message") => println!("[{}] {}", frame["message"]["author_name"].as_str().unwrap_or("?"), frame["message"]["content"].as_str().unwrap_or("")),
                    Some("user_joined") => println!("* someone joined ({})", frame["user_id"]),
                    Some("user_left") => println!("* someone left ({})", frame["user_id"]),
                    Some("error") => println!("! {}", frame["message"]),
                    _ => {}
                }
            }
            Some(_) = changes.next() => println!("--- document changed ---\n{}------------------------", read_text(&doc)),
        }
    }
    sync.stop().await;
    Ok(())
}
