//! A realtime-rooms client for tests: JSON frames in and out over a real WebSocket.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame it expects before failing (a guard, not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct RoomSocket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How a socket ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    Closed { code: u16, reason: String },
    Dropped,
}

impl RoomSocket {
    /// Connects to `/api/ws` with the token in the `Authorization` header and reads the `welcome` frame.
    pub async fn connect(base: &str, token: &str) -> RoomSocket {
        Self::connect_with(base, token, None).await
    }

    /// Like `connect`; an `https://` base dials `wss://` through `tls` (see `TestRelay::ws_connector`).
    pub async fn connect_with(base: &str, token: &str, tls: Option<tokio_tungstenite::Connector>) -> RoomSocket {
        let base = match base.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => base.replacen("http://", "ws://", 1),
        };
        let request = bearer_request(&format!("{base}/api/ws"), token);
        let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(request, None, true, tls)
            .await
            .expect("websocket upgrade");
        let mut socket = RoomSocket { ws };
        let welcome = socket.next().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        socket
    }

    pub async fn send(&mut self, frame: Value) {
        self.ws.send(Message::text(frame.to_string())).await.expect("send frame");
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("send frame");
    }

    /// The next JSON frame; fails the test if none arrives in time or the socket ends.
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame within the patience window")
                .expect("socket still open")
                .expect("readable frame");
            match message {
                Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON frame"),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    /// Skips frames until one of type `kind` arrives.
    pub async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Sends a ping with `nonce` and answers every frame that arrived before its pong: a barrier proving
    /// what the relay had queued for this socket up to now.
    pub async fn drain(&mut self, nonce: u64) -> Vec<Value> {
        self.send(serde_json::json!({ "type": "ping", "nonce": nonce })).await;
        let mut before = Vec::new();
        loop {
            let frame = self.next().await;
            if frame["type"] == "pong" && frame["nonce"] == nonce {
                return before;
            }
            before.push(frame);
        }
    }

    /// Joins a team and answers its `team_state`.
    pub async fn join(&mut self, team: &str) -> Value {
        self.join_seeing(team).await.0
    }

    /// Joins `team`; answers its `team_state` and the frames that arrived before it. The relay puts a socket
    /// in the room before it reads the state, so an event committed meanwhile may come first (and be in the
    /// state too): a test waiting for an event must look here before it waits.
    pub async fn join_seeing(&mut self, team: &str) -> (Value, Vec<Value>) {
        self.send(serde_json::json!({ "type": "join_team", "team_id": team })).await;
        let mut before = Vec::new();
        loop {
            let frame = self.next().await;
            if frame["type"] == "team_state" {
                return (frame, before);
            }
            before.push(frame);
        }
    }

    /// Reads until the relay ends the socket, ignoring frames on the way.
    pub async fn ended(&mut self) -> Ended {
        loop {
            match tokio::time::timeout(PATIENCE, self.ws.next()).await.expect("the socket ended in time") {
                Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                    return Ended::Closed { code: code.into(), reason: reason.to_string() };
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Ended::Dropped,
                Some(Ok(_)) => {}
            }
        }
    }
}

/// A WebSocket upgrade request for `url` carrying `Authorization: Bearer <token>`.
pub fn bearer_request(url: &str, token: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request().expect("a WebSocket URL");
    request.headers_mut().insert(
        tokio_tungstenite::tungstenite::http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header value"),
    );
    request
}

impl RoomSocket {
    /// The next JSON frame, or how the socket ended.
    pub async fn next_or_end(&mut self) -> Result<Value, Ended> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(text.as_str()).expect("JSON frame")),
                Some(Ok(Message::Close(Some(CloseFrame { code, reason })))) => {
                    return Err(Ended::Closed { code: code.into(), reason: reason.to_string() });
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return Err(Ended::Dropped),
                Some(Ok(_)) => {}
            }
        }
    }
}
