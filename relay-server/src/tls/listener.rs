//! The listener `axum::serve` takes: plain TCP, or TCP with the TLS handshake done beside the accept loop.
//!
//! `axum::serve` accepts one connection at a time and only then spawns its task, so a handshake done inside
//! `accept` would make every other client wait for a slow one. Here a background task accepts TCP and
//! spawns each handshake as its own task under [`HANDSHAKE_TIMEOUT`]; finished handshakes queue for
//! `accept`. Dropping the listener (the server stopped) ends the background task, closes the port and
//! abandons handshakes still in progress.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::either::Either;

use super::acme::ACME_TLS_ALPN;

/// How long a client may take to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Finished handshakes waiting for the server to take them.
const READY_QUEUE: usize = 64;

/// Either listener, so `run` has one `axum::serve` call.
#[derive(Debug)]
pub enum RelayListener {
    Plain(TcpListener),
    Tls(TlsListener),
}

impl axum::serve::Listener for RelayListener {
    type Io = Either<TcpStream, TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self {
            RelayListener::Plain(listener) => {
                let (io, addr) = axum::serve::Listener::accept(listener).await;
                (Either::Left(io), addr)
            }
            RelayListener::Tls(listener) => {
                let (io, addr) = listener.accept().await;
                (Either::Right(io), addr)
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        match self {
            RelayListener::Plain(listener) => listener.local_addr(),
            RelayListener::Tls(listener) => Ok(listener.local_addr),
        }
    }
}

/// TLS connections, handshaken concurrently.
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    acceptor: JoinHandle<()>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl TlsListener {
    pub fn new(listener: TcpListener, tls: TlsAcceptor) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let acceptor = tokio::spawn(accept_loop(listener, tls, tx));
        Ok(Self { local_addr, ready, acceptor })
    }

    async fn accept(&mut self) -> (TlsStream<TcpStream>, SocketAddr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            None => {
                // Only a panic ends the accept loop while the listener exists.
                tracing::error!("the TLS accept loop ended; no new connections are accepted");
                std::future::pending().await
            }
        }
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

async fn accept_loop(listener: TcpListener, tls: TlsAcceptor, ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>) {
    // Dropped with this task, which aborts the handshakes in progress.
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    handshakes.spawn(handshake(tcp, peer, tls.clone(), ready.clone()));
                }
                Err(e) if is_per_connection(&e) => tracing::debug!(error = %e, "a connection failed before it was accepted"),
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning (as axum does).
                    tracing::error!(error = %e, "accepting connections failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => {}
            () = ready.closed() => return,
        }
    }
}

async fn handshake(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    // Realtime frames and sync messages are small and latency-bound (see `run`).
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
        Ok(Ok(stream)) => {
            if stream.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) {
                // An ACME CA validating TLS-ALPN-01: the handshake was the whole conversation.
                tracing::debug!(%peer, "answered an ACME TLS-ALPN-01 challenge");
                return;
            }
            // Err: the server stopped meanwhile; the connection just closes.
            let _closed = ready.send((stream, peer)).await;
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}
