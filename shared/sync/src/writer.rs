//! Writing one connection's queued sync messages: a single writer drains a bounded queue into the socket
//! and gives up on a peer that stops reading, instead of buffering for it without end. The relay's `/sync`
//! connections and the node's peer-to-peer streams both write this way.

use std::time::Duration;

use futures::{Sink, SinkExt};
use tokio::sync::mpsc;

/// How a writer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// samod closed its side: the connection is over.
    Done,
    /// The socket failed.
    Failed,
    /// One write took longer than the timeout: the peer stopped reading.
    Stalled,
}

/// Writes queued messages (each wrapped by `frame`) to `sink` until the queue closes, the sink fails, or
/// one write takes longer than `timeout`.
pub async fn drain<T, S>(
    queued: &mut mpsc::Receiver<Vec<u8>>,
    sink: &mut S,
    timeout: Duration,
    frame: impl Fn(Vec<u8>) -> T,
) -> Drained
where
    S: Sink<T> + Unpin,
{
    while let Some(bytes) = queued.recv().await {
        match tokio::time::timeout(timeout, sink.send(frame(bytes))).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Drained::Failed,
            Err(_) => return Drained::Stalled,
        }
    }
    Drained::Done
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(30);

    /// A peer that takes `accepts` messages, then never has room for another.
    struct StopsReading {
        accepts: usize,
        taken: usize,
    }

    impl Sink<Vec<u8>> for StopsReading {
        type Error = std::io::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.taken < self.accepts { Poll::Ready(Ok(())) } else { Poll::Pending }
        }
        fn start_send(mut self: Pin<&mut Self>, _: Vec<u8>) -> Result<(), Self::Error> {
            self.taken += 1;
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_is_given_up_on() {
        let (queue, mut queued) = mpsc::channel(64);
        for n in 0..5u8 {
            queue.send(vec![n]).await.expect("queue");
        }
        let mut peer = StopsReading { accepts: 3, taken: 0 };
        assert_eq!(drain(&mut queued, &mut peer, TIMEOUT, |b| b).await, Drained::Stalled);
        assert_eq!(peer.taken, 3, "everything the peer took was written first");
    }

    #[tokio::test]
    async fn the_writer_ends_when_samod_closes_its_side() {
        let (queue, mut queued) = mpsc::channel(64);
        queue.send(vec![1]).await.expect("queue");
        drop(queue);
        let mut peer = StopsReading { accepts: usize::MAX, taken: 0 };
        assert_eq!(drain(&mut queued, &mut peer, TIMEOUT, |b| b).await, Drained::Done);
        assert_eq!(peer.taken, 1);
    }
}
