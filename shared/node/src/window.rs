//! The window's own sync connection. The webview keeps an in-memory automerge-repo whose only network
//! adapter is this connection, so the editor binding works on a real Automerge document while the node
//! stays the one owner of storage and the network: the window is one more samod peer of the node's repo,
//! which syncs what it hears from the window on with the relay and teammates' devices as usual.
//!
//! Frames are automerge-repo's binary protocol, as on the relay's `/sync`; the window introduces itself as
//! [`WINDOW_PEER_ID`], which no remote peer can claim (the relay's and teammates' connections are pinned to
//! their own ids), and the share policy lets it read and write every document but those of a team this
//! user no longer reads (`crate::forgotten`), without being sent documents it did not ask for.

use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use samod::{PeerId, Transport};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard, PollSender};
use tokio_util::task::TaskTracker;

use crate::{Node, NodeError};

/// The peer id the window's repo uses in the sync handshake.
pub const WINDOW_PEER_ID: &str = "teamflow-window";

/// Frames queued each way before the sender waits (the window's IPC call, or samod).
const QUEUE: usize = 256;

/// Where the node's frames for the window go. Called from the connection's task: it must not block.
pub type WindowSink = Arc<dyn Fn(Vec<u8>) + Send + Sync>;

/// One live connection between the window's repo and the node's.
#[derive(Debug)]
pub(crate) struct WindowSync {
    to_node: mpsc::Sender<Vec<u8>>,
    /// Ends the connection (and its task) when dropped.
    _stop: DropGuard,
}

impl WindowSync {
    /// A handle for sending the window's frames to the node.
    pub(crate) fn sender(&self) -> mpsc::Sender<Vec<u8>> {
        self.to_node.clone()
    }
}

impl Node {
    /// Accepts the window as a sync peer of the node's repo: frames handed to the returned connection's
    /// sender go to samod, samod's frames go to `sink`, until the connection is dropped, `stop` is cancelled
    /// or samod ends it (a malformed frame, a handshake under another peer id).
    pub(crate) async fn connect_window(
        &self,
        sink: WindowSink,
        stop: CancellationToken,
        tasks: &TaskTracker,
    ) -> Result<WindowSync, NodeError> {
        let repo = self.with_repo().await?;
        let url = url::Url::parse("teamflow-window://ipc").map_err(|e| NodeError::Sync(e.to_string()))?;
        let acceptor = repo.make_acceptor(url).map_err(|_| NodeError::Sync("the document repo has stopped".into()))?;
        let (to_node, from_window) = mpsc::channel::<Vec<u8>>(QUEUE);
        let (to_window, mut from_node) = mpsc::channel::<Vec<u8>>(QUEUE);
        // samod drops the inbound stream when the connection ends, for whatever reason: this signal fires then.
        let (ended, on_ended) = tokio::sync::oneshot::channel::<()>();
        let incoming = futures::stream::unfold(from_window, |mut frames| async move {
            frames.recv().await.map(|frame| (Ok::<_, std::io::Error>(frame), frames))
        })
        .take_until(stop.clone().cancelled_owned())
        .map(move |frame| {
            let _held_until_dropped = &ended;
            frame
        });
        let outgoing = PollSender::new(to_window).sink_map_err(|_| std::io::Error::other("window connection closed"));
        let transport =
            Transport::new(Box::pin(incoming), Box::pin(outgoing)).with_expected_peer_id(PeerId::from(WINDOW_PEER_ID));
        acceptor.accept(transport).map_err(|_| NodeError::Sync("the document repo has stopped".into()))?;
        let task_stop = stop.clone();
        tasks.spawn(async move {
            let mut on_ended = std::pin::pin!(on_ended);
            loop {
                tokio::select! {
                    () = task_stop.cancelled() => break,
                    // Err means the sender was dropped, which is the signal itself.
                    _ = &mut on_ended => {
                        tracing::debug!("the window's sync connection ended");
                        break;
                    }
                    frame = from_node.recv() => match frame {
                        Some(frame) => sink(frame),
                        None => break,
                    },
                }
            }
            // Whatever ended it, the window's sends fail from now on, so it knows to connect again.
            task_stop.cancel();
        });
        Ok(WindowSync { to_node, _stop: stop.drop_guard() })
    }
}
