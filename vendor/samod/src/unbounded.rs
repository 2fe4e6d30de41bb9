use std::{
    pin::Pin,
    task::{Context, Poll},
};

use futures::{Sink, Stream, StreamExt, channel::mpsc};

/// An unbounded channel without the `TrySendError::Full` error.
///
/// Built on `futures::channel::mpsc`, whose senders push without a lock and
/// wake the receiver through an atomic waker. `async_channel` (used before)
/// wakes the receiver while holding the lock of its listener list, and the
/// receiver's listener, dropped as soon as its `recv` resolves (or whenever a
/// `select!` picks another branch), takes that same lock: every message
/// between the document threads and the hub, and from the hub to each
/// connection, ended in a contended lock and a futex wait on the async
/// runtime's thread (9% of a relay's runtime threads under live typing).
/// Every receiver here has one owner, so a multi-consumer channel is not
/// needed.
pub(crate) fn channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let (tx, rx) = mpsc::unbounded();
    (UnboundedSender(tx), UnboundedReceiver { rx, peeked: None })
}

pub(crate) struct UnboundedSender<T>(mpsc::UnboundedSender<T>);

impl<T> UnboundedSender<T> {
    pub(crate) fn unbounded_send(&self, msg: T) -> Result<(), T> {
        self.0
            .unbounded_send(msg)
            .map_err(mpsc::TrySendError::into_inner)
    }

    /// Whether the receiver is gone (or the channel was closed).
    pub(crate) fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl<T> Sink<T> for UnboundedSender<T> {
    type Error = ChanErr;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // It's an unbounded channel, so we're always ready to send
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: T) -> Result<(), Self::Error> {
        self.unbounded_send(item).map_err(|_e| ChanErr)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Closes the channel for every sender, as `async_channel::Sender::close` did.
        self.0.close_channel();
        Poll::Ready(Ok(()))
    }
}

#[derive(Debug)]
pub struct ChanErr;
impl std::fmt::Display for ChanErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel error")
    }
}
impl std::error::Error for ChanErr {}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

/// Every sender is gone (or the channel was closed) and nothing is queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

pub(crate) struct UnboundedReceiver<T> {
    rx: mpsc::UnboundedReceiver<T>,
    /// A message taken off the queue by `is_empty`, handed out next.
    peeked: Option<T>,
}

impl<T> Unpin for UnboundedReceiver<T> {}

impl<T> UnboundedReceiver<T> {
    /// The next message, or `Closed` once every sender is gone and the queue
    /// is drained. Dropping the future before it resolves loses nothing.
    pub(crate) async fn recv(&mut self) -> Result<T, Closed> {
        if let Some(msg) = self.peeked.take() {
            return Ok(msg);
        }
        self.rx.next().await.ok_or(Closed)
    }

    /// Whether no message is queued right now.
    pub(crate) fn is_empty(&mut self) -> bool {
        if self.peeked.is_some() {
            return false;
        }
        match self.rx.try_recv() {
            Ok(msg) => {
                self.peeked = Some(msg);
                false
            }
            Err(mpsc::TryRecvError::Empty | mpsc::TryRecvError::Closed) => true,
        }
    }
}

impl<T> Stream for UnboundedReceiver<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(msg) = self.peeked.take() {
            return Poll::Ready(Some(msg));
        }
        self.rx.poll_next_unpin(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures::{FutureExt, executor::block_on};

    use super::*;

    #[test]
    fn messages_arrive_in_order_and_a_peek_loses_none() {
        let (tx, mut rx) = channel();
        assert!(rx.is_empty());
        for n in 0..3 {
            tx.unbounded_send(n).unwrap();
        }
        assert!(!rx.is_empty());
        assert!(!rx.is_empty(), "a second look keeps the peeked message");
        assert_eq!(block_on(rx.recv()), Ok(0));
        assert!(!rx.is_empty());
        assert_eq!(block_on(rx.next()), Some(1));
        assert_eq!(block_on(rx.recv()), Ok(2));
        assert!(rx.is_empty());
        assert_eq!(
            rx.recv().now_or_never(),
            None,
            "waits while a sender remains"
        );
        drop(tx);
        assert_eq!(block_on(rx.recv()), Err(Closed));
    }

    #[test]
    fn a_recv_dropped_before_it_resolves_loses_nothing() {
        let (tx, mut rx) = channel();
        assert!(rx.recv().now_or_never().is_none());
        tx.unbounded_send("kept").unwrap();
        assert_eq!(block_on(rx.recv()), Ok("kept"));
    }

    #[test]
    fn closing_from_one_sender_ends_the_channel_for_all() {
        let (mut tx, mut rx) = channel::<u8>();
        let other = tx.clone();
        tx.unbounded_send(1).unwrap();
        block_on(futures::SinkExt::close(&mut tx)).unwrap();
        assert_eq!(other.unbounded_send(2), Err(2), "closed for every sender");
        assert_eq!(
            block_on(rx.recv()),
            Ok(1),
            "what was queued is still delivered"
        );
        assert_eq!(block_on(rx.recv()), Err(Closed));
    }
}
