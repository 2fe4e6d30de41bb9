//! The node's view of a team's realtime room (`/api/ws`): a stream of the relay's frames for one team.

use futures::{SinkExt, StreamExt};
use teamflow_protocol::TeamId;
use teamflow_protocol::realtime::{ClientMessage, ServerMessage};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::{Node, NodeError};

impl Node {
    /// Joins the team's room and streams its frames (starting with `team_state`). The connection lives as
    /// long as the receiver: dropping it closes the socket.
    pub async fn subscribe(&self, team: TeamId) -> Result<mpsc::Receiver<ServerMessage>, NodeError> {
        let token = self.access_token().await?;
        let url = format!("{}/api/ws?token={token}", self.api.base().replacen("http", "ws", 1));
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| NodeError::Api(crate::ApiFailure::Unreachable(e.to_string())))?;
        let (mut sink, mut stream) = socket.split();
        let join = serde_json::to_string(&ClientMessage::JoinTeam { team_id: team })
            .map_err(|e| NodeError::Corrupt(e.to_string()))?;
        sink.send(Message::text(join))
            .await
            .map_err(|e| NodeError::Api(crate::ApiFailure::Unreachable(e.to_string())))?;
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tx.closed() => break,
                    frame = stream.next() => match frame {
                        Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerMessage>(text.as_str()) {
                            Ok(ServerMessage::Welcome { .. }) => {}
                            Ok(message) => {
                                if tx.send(message).await.is_err() {
                                    break;
                                }
                            }
                            Err(e) => tracing::warn!(error = %e, "unreadable frame from the relay"),
                        },
                        Some(Ok(_)) => {}
                        Some(Err(_)) | None => break,
                    },
                }
            }
            if let Err(e) = sink.close().await {
                tracing::debug!(error = %e, "room socket did not close cleanly");
            }
        });
        Ok(rx)
    }
}
