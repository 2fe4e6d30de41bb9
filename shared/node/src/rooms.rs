//! The node's view of a team's realtime room (`/api/ws`): a stream of the relay's frames for one team that
//! survives dropped connections, and a relay that cannot be reached when the room is joined.
//!
//! A task owns the socket. When the link drops (or was never made) it redials with exponential backoff and
//! jitter (capped at 10 s), presenting the node's current access token, and joins again; the relay then
//! sends a fresh `team_state`, whose `latest_seq` tells the app whether chat moved on meanwhile
//! (`Node::messages` fills the gap). Without a token (a sign-in restored offline) it waits for one; refused
//! with a token (or over a certificate not trusted), it waits for the next token rather than ask again.
//! Whenever the node's access token is refreshed, the task sends it in-band (`renew`), so the relay keeps
//! the socket open past the old token's expiry. The task ends when the receiver is dropped, the relay
//! revokes access to the team or closes the socket because the sign-in ended, or the node is gone.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use teamflow_protocol::TeamId;
use teamflow_protocol::realtime::{CLOSE_SESSION_ENDED, ClientMessage, ServerMessage};
use teamflow_sync::Backoff;
use teamflow_sync::transport::{self, WebSocketError};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::{ApiFailure, Node, NodeError};

type Socket = transport::WebSocket;

const FIRST_RETRY: Duration = Duration::from_millis(200);
const LONGEST_RETRY: Duration = Duration::from_secs(10);

impl Node {
    /// Joins the team's room and streams its frames (starting with `team_state`, and again after every
    /// reconnection). Fails if the first connection does (a command-line `tail` says so at once); later
    /// drops are redialed. Dropping the receiver closes the socket and stops redialing.
    pub async fn subscribe(&self, team: TeamId) -> Result<mpsc::Receiver<ServerMessage>, NodeError> {
        let link = self.room_link();
        let first = self.first_join(&link, team).await?;
        Ok(follow(link, team, Some(first)).frames)
    }

    /// Like `subscribe`, and the user can also say they are typing. A relay that cannot be reached now
    /// (offline, restarting, or gone while this was dialing) is not a failure: the room is joined once it
    /// answers, with the token the node gets then. Fails when signed out, when the relay refuses (the
    /// sign-in, the room) or its certificate is not trusted, or when the node cannot keep a refreshed
    /// sign-in.
    pub async fn join_room(&self, team: TeamId) -> Result<Room, NodeError> {
        let link = self.room_link();
        let first = match self.first_join(&link, team).await {
            Ok(socket) => Some(socket),
            Err(NodeError::Api(failure)) if failure.is_transient() => {
                tracing::info!(error = %failure, %team, "the relay is unreachable; the room is joined when it answers");
                None
            }
            Err(e) => return Err(e),
        };
        Ok(follow(link, team, first))
    }

    fn room_link(&self) -> RoomLink {
        RoomLink {
            url: format!("{}/api/ws", self.api.base().replacen("http", "ws", 1)),
            tokens: self.token.subscribe(),
            tls: self.tls.clone(),
        }
    }

    /// The first connection, with a fresh token: the task presents whatever the token channel holds on
    /// each later one.
    async fn first_join(&self, link: &RoomLink, team: TeamId) -> Result<Socket, NodeError> {
        let token = self.access_token().await?;
        self.token.send_replace(token);
        join(link, team).await
    }
}

/// Starts the task that owns the room's socket (`first`, or none yet: it dials).
fn follow(link: RoomLink, team: TeamId, first: Option<Socket>) -> Room {
    let (tx, frames) = mpsc::channel(256);
    // Typing is a hint, never queued: one pending at most, dropped while the link is down.
    let (typing, typing_rx) = mpsc::channel(1);
    tokio::spawn(follow_room(link, team, first, tx, typing_rx));
    Room { frames, typing }
}

/// A team's room, joined: its frames, and a way to tell the others the user is typing.
#[derive(Debug)]
pub struct Room {
    pub frames: mpsc::Receiver<ServerMessage>,
    pub(crate) typing: mpsc::Sender<()>,
}

impl Room {
    /// Tells the team the user is typing in its chat. Never waits: while a hint is still going out, or the
    /// link is down, this one is dropped (the next keystroke sends another).
    pub fn typing(&self) {
        if self.typing.try_send(()).is_err() {
            tracing::trace!("typing hint dropped");
        }
    }
}

/// Where a room socket connects, with which token (the node's current one) and TLS configuration.
struct RoomLink {
    url: String,
    tokens: watch::Receiver<String>,
    tls: std::sync::Arc<rustls::ClientConfig>,
}

async fn join(link: &RoomLink, team: TeamId) -> Result<Socket, NodeError> {
    let unreachable = |e: WebSocketError| {
        NodeError::Api(match e {
            // The relay answered the upgrade with an error (a token refused, too many requests).
            WebSocketError::Http(response) => {
                ApiFailure::refused(response.status().as_u16(), response.body().as_deref().unwrap_or_default())
            }
            e => match transport::certificate_failure(&e) {
                Some(reason) => ApiFailure::Certificate(reason),
                None => ApiFailure::Unreachable(e.to_string()),
            },
        })
    };
    let token = link.tokens.borrow().clone();
    let mut socket =
        transport::connect_websocket_with(&link.url, &token, Some(link.tls.clone())).await.map_err(unreachable)?;
    let join = serde_json::to_string(&ClientMessage::JoinTeam { team_id: team })
        .map_err(|e| NodeError::Corrupt(e.to_string()))?;
    socket.send(Message::text(join)).await.map_err(unreachable)?;
    Ok(socket)
}

/// How a connection ended.
enum Ended {
    /// The app dropped the receiver.
    Unwanted,
    /// The relay revoked access: redialing would be refused.
    Revoked,
    Dropped,
}

async fn follow_room(
    link: RoomLink,
    team: TeamId,
    first: Option<Socket>,
    tx: mpsc::Sender<ServerMessage>,
    mut typing: mpsc::Receiver<()>,
) {
    let mut tokens = link.tokens.clone();
    // A node restored offline has no access token until the relay answers a refresh: dialing without one
    // would only be refused, so the room waits for it.
    let mut signed_in = link.tokens.clone();
    let mut socket = first;
    let mut backoff = Backoff::new(FIRST_RETRY, LONGEST_RETRY);
    loop {
        if let Some(connected) = socket.take() {
            match forward(connected, team, &tx, &mut typing, &mut tokens).await {
                Ended::Unwanted | Ended::Revoked => return,
                Ended::Dropped => backoff.reset(),
            }
        }
        tokio::select! {
            () = tx.closed() => return,
            () = backoff.wait() => {}
        }
        tokio::select! {
            () = tx.closed() => return,
            token = signed_in.wait_for(|token| !token.is_empty()) => if token.is_err() {
                // The node is gone.
                return;
            },
        }
        match join(&link, team).await {
            Ok(connected) => socket = Some(connected),
            Err(NodeError::Api(failure)) if failure.is_transient() => {
                tracing::debug!(error = %failure, "room redial failed; will retry");
            }
            Err(e) => {
                // The same token would be refused again (or the certificate again not trusted): the next
                // one comes with a refresh or a new sign-in.
                tracing::warn!(error = %e, %team, "the relay refused the room; trying again with the next token");
                tokio::select! {
                    () = tx.closed() => return,
                    changed = signed_in.changed() => if changed.is_err() {
                        return;
                    },
                }
            }
        }
    }
}

async fn forward(
    socket: Socket,
    team: TeamId,
    tx: &mpsc::Sender<ServerMessage>,
    typing: &mut mpsc::Receiver<()>,
    tokens: &mut watch::Receiver<String>,
) -> Ended {
    let (mut sink, mut stream) = socket.split();
    let hint = serde_json::to_string(&ClientMessage::Typing { team_id: team }).unwrap_or_default();
    // The socket was opened with the current token; only later ones are sent as renewals.
    tokens.borrow_and_update();
    let ended = loop {
        tokio::select! {
            () = tx.closed() => break Ended::Unwanted,
            Ok(()) = tokens.changed() => {
                let token = tokens.borrow_and_update().clone();
                if token.is_empty() {
                    continue;
                }
                let renew = serde_json::to_string(&ClientMessage::Renew { token }).unwrap_or_default();
                if sink.send(Message::text(renew)).await.is_err() {
                    break Ended::Dropped;
                }
            }
            Some(()) = typing.recv() => {
                if sink.send(Message::text(hint.clone())).await.is_err() {
                    break Ended::Dropped;
                }
            }
            frame = stream.next() => match frame {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMessage>(text.as_str()) {
                    Ok(ServerMessage::Welcome { .. } | ServerMessage::Renewed { .. }) => {}
                    Ok(message) => {
                        let revoked = matches!(message, ServerMessage::AccessRevoked { .. });
                        if tx.send(message).await.is_err() {
                            break Ended::Unwanted;
                        }
                        if revoked {
                            break Ended::Revoked;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable frame from the relay"),
                },
                // The sign-in ended (signed out, password changed, account disabled): redialing is refused.
                Some(Ok(Message::Close(Some(close)))) if u16::from(close.code) == CLOSE_SESSION_ENDED => {
                    break Ended::Revoked;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break Ended::Dropped,
            },
        }
    };
    if let Err(e) = sink.close().await {
        tracing::debug!(error = %e, "room socket did not close cleanly");
    }
    ended
}
