//! Length-prefixed frames over libp2p streams, with a size cap so a peer cannot make us buffer without end,
//! and the samod transport built on them: a bounded send queue drained by one writer that gives up on a
//! peer that stops reading.

use std::time::Duration;

use futures::{SinkExt, StreamExt, TryStreamExt};
use libp2p::Stream;
use samod::Transport;
use teamflow_sync::writer::{Drained, drain};
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};
use tokio_util::sync::{CancellationToken, PollSender};
use tokio_util::task::TaskTracker;

/// The largest sync message accepted: a whole document's first sync (the automerge-paper trace saves to
/// about 129 KB) with room to spare.
pub(crate) const MAX_SYNC_FRAME: usize = 16 * 1024 * 1024;

/// The largest certificate accepted (a real one is under 2 KB even with dozens of teams).
pub(crate) const MAX_CERTIFICATE_FRAME: usize = 16 * 1024;

/// Sync messages queued for one peer before samod waits.
const SEND_QUEUE: usize = 64;

/// A write that takes longer than this means the peer stopped reading: the stream is cut.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

pub(crate) type Frames = Framed<Compat<Stream>, LengthDelimitedCodec>;

/// Frames `stream` with a 4-byte big-endian length prefix, refusing frames over `max` bytes.
pub(crate) fn frames(stream: Stream, max: usize) -> Frames {
    Framed::new(stream.compat(), LengthDelimitedCodec::builder().max_frame_length(max).new_codec())
}

/// A samod transport over a sync stream, and a future that resolves once samod is done with it. The writer
/// runs on `tasks` and ends with the connection, or at `stop`.
pub(crate) fn sync_transport(
    stream: Stream,
    tasks: &TaskTracker,
    stop: &CancellationToken,
) -> (Transport, impl Future<Output = ()> + Send + 'static) {
    let (mut sink, incoming) = frames(stream, MAX_SYNC_FRAME).split();
    // Ends this stream alone: a stalled or failed writer cuts the reading side too, so samod sees the end.
    let close = stop.child_token();
    // samod drops the inbound side when the connection is over; this fires then.
    let (finished, on_finished) = tokio::sync::oneshot::channel::<()>();
    let incoming =
        incoming.map_ok(|bytes| bytes.to_vec()).take_until(close.clone().cancelled_owned()).map(move |item| {
            let _held_until_dropped = &finished;
            item
        });
    let (to_peer, mut queued) = tokio::sync::mpsc::channel::<Vec<u8>>(SEND_QUEUE);
    tasks.spawn(async move {
        let outcome = tokio::select! {
            outcome = drain(&mut queued, &mut sink, WRITE_TIMEOUT, bytes::Bytes::from) => outcome,
            () = close.cancelled() => Drained::Done,
        };
        match outcome {
            Drained::Done => {}
            Drained::Failed => tracing::debug!("p2p sync stream failed"),
            Drained::Stalled => tracing::info!("p2p peer is not reading; closing its sync stream"),
        }
        close.cancel();
        if let Err(e) = SinkExt::<bytes::Bytes>::close(&mut sink).await {
            tracing::debug!(error = %e, "p2p sync stream did not close cleanly");
        }
    });
    let outgoing = PollSender::new(to_peer).sink_map_err(|_| std::io::Error::other("p2p sync stream closed"));
    let ended = async move {
        // Err means the sender was dropped, which is the signal itself.
        on_finished.await.ok();
    };
    (Transport::new(Box::pin(incoming), Box::pin(outgoing)), ended)
}
