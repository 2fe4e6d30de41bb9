//! The streams between devices: receiving the certificates peers push, accepting document streams from
//! admitted peers (and handing them to samod), and the samod dialer that opens document streams over libp2p.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use libp2p::{PeerId, StreamProtocol};
use samod::{AcceptorHandle, DialError, Transport};
use teamflow_protocol::api::devices::{CertificateBody, DeviceCertificate};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Admitted, Refusal, certificates, framing};

pub(super) const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/teamflow/sync/1");

/// Inbound document streams one admitted peer may hold open at once (one, plus one while reconnecting).
const SYNC_STREAMS_PER_PEER: usize = 2;

/// What the helper tasks share: a stream control, the task tracker and the stop signal.
#[derive(Clone)]
pub(super) struct Context {
    pub(super) control: libp2p_stream::Control,
    pub(super) tasks: TaskTracker,
    pub(super) stop: CancellationToken,
    pub(super) admission_deadline: Duration,
}

/// Reads each certificate a peer pushes and hands it to the swarm task, which decides.
pub(super) async fn receive_certificates_from(
    mut incoming: libp2p_stream::IncomingStreams,
    received: mpsc::Sender<(PeerId, Result<DeviceCertificate, Refusal>)>,
    context: Context,
) {
    loop {
        let next = tokio::select! {
            next = incoming.next() => next,
            () = context.stop.cancelled() => None,
        };
        let Some((peer, stream)) = next else { break };
        let received = received.clone();
        let stop = context.stop.clone();
        context.tasks.spawn(async move {
            let certificate = tokio::select! {
                certificate = certificates::receive(stream) => certificate,
                () = stop.cancelled() => return,
            };
            // The swarm task has stopped when this fails; nothing is left to decide.
            if received.send((peer, certificate)).await.is_err() {
                tracing::debug!(%peer, "certificate arrived after the swarm stopped");
            }
        });
    }
}

/// Hands each document stream from an admitted peer to samod, bound to the peer's certified identity.
pub(super) async fn accept_sync(
    mut incoming: libp2p_stream::IncomingStreams,
    acceptor: AcceptorHandle,
    admitted: watch::Receiver<Admitted>,
    context: Context,
) {
    let open: Arc<std::sync::Mutex<HashMap<PeerId, usize>>> = Arc::default();
    loop {
        let next = tokio::select! {
            next = incoming.next() => next,
            () = context.stop.cancelled() => None,
        };
        let Some((peer, stream)) = next else { break };
        let (acceptor, mut admitted, open, context_) =
            (acceptor.clone(), admitted.clone(), open.clone(), context.clone());
        context.tasks.spawn(async move {
            // The peer's certificate may still be on its way: both sides push theirs at once.
            let admission = async {
                let admitted = admitted.wait_for(|a| a.contains_key(&peer)).await.ok()?;
                admitted.get(&peer).cloned()
            };
            let body = tokio::time::timeout(context_.admission_deadline, admission).await.ok().flatten();
            let Some(body) = body else {
                tracing::info!(%peer, "document stream from a peer that was not admitted; dropped");
                return;
            };
            {
                let mut open = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let count = open.entry(peer).or_default();
                if *count >= SYNC_STREAMS_PER_PEER {
                    tracing::info!(%peer, "too many document streams from one peer; dropped");
                    return;
                }
                *count += 1;
            }
            let (transport, ended) = framing::sync_transport(stream, &context_.tasks, &context_.stop);
            match acceptor.accept(transport.with_expected_peer_id(sync_peer_id(&body, &peer))) {
                Ok(_) => {
                    ended.await;
                    tracing::debug!(%peer, "p2p document stream finished");
                }
                Err(_) => tracing::debug!(%peer, "document stream after the repo stopped"),
            }
            let mut open = open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(count) = open.get_mut(&peer) {
                *count = count.saturating_sub(1);
            }
        });
    }
}

/// The samod peer id a certified device must use: `<user id>:<libp2p peer id>`.
pub(super) fn sync_peer_id(body: &CertificateBody, peer: &PeerId) -> samod::PeerId {
    samod::PeerId::from(format!("{}:{peer}", body.user_id))
}

/// Opens document streams to one admitted peer for samod, again after each drop while the peer stays
/// connected (over whichever path libp2p has to it).
pub(super) struct PeerDialer {
    pub(super) peer: PeerId,
    pub(super) url: url::Url,
    pub(super) expected: samod::PeerId,
    pub(super) context: Context,
}

impl samod::Dialer for PeerDialer {
    type Error = std::io::Error;

    fn url(&self) -> url::Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Self::Error>>> {
        let (peer, expected, context) = (self.peer, self.expected.clone(), self.context.clone());
        Box::pin(async move {
            let mut control = context.control.clone();
            let stream = control.open_stream(peer, SYNC_PROTOCOL).await.map_err(|e| {
                tracing::debug!(%peer, error = %e, "could not open a document stream; will retry");
                DialError::transient(std::io::Error::other(e.to_string()))
            })?;
            let (transport, _ended) = framing::sync_transport(stream, &context.tasks, &context.stop);
            Ok(transport.with_expected_peer_id(expected))
        })
    }
}
