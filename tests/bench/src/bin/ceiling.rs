//! The ceiling for relay benchmarks: a bare tokio-tungstenite broadcast server. A client connects to
//! `/<room>`; every text frame it sends goes to every other client of that room. No parsing, no storage, no
//! auth: what the socket layer alone allows on this machine.
//!
//! `ceiling --bind 127.0.0.1:9000` (the load generator starts it itself).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:9000")]
    bind: SocketAddr,
}

type Rooms = Arc<Mutex<HashMap<String, Vec<(u64, mpsc::Sender<Message>)>>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.bind).await?;
    println!("listening on {}", listener.local_addr()?);
    let rooms: Rooms = Arc::default();
    let mut next_id = 0u64;
    loop {
        let (stream, _) = listener.accept().await?;
        // As the relay does: small frames must not wait on Nagle.
        stream.set_nodelay(true)?;
        next_id += 1;
        tokio::spawn(serve(stream, next_id, rooms.clone()));
    }
}

async fn serve(stream: tokio::net::TcpStream, id: u64, rooms: Rooms) {
    let mut room = String::new();
    #[expect(clippy::result_large_err, reason = "the signature tungstenite's handshake callback must have")]
    let callback = |request: &Request, response: Response| {
        room = request.uri().path().to_owned();
        Ok(response)
    };
    let Ok(socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
    let (mut sink, mut source) = socket.split();
    // Bounded: a client that stops reading loses frames rather than growing the server without limit.
    let (tx, mut rx) = mpsc::channel::<Message>(1024);
    rooms.lock().unwrap_or_else(PoisonError::into_inner).entry(room.clone()).or_default().push((id, tx));
    let writer = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            if sink.send(message).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = source.next().await {
        if !message.is_text() {
            continue;
        }
        let peers: Vec<mpsc::Sender<Message>> = rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&room)
            .map(|members| members.iter().filter(|(other, _)| *other != id).map(|(_, tx)| tx.clone()).collect())
            .unwrap_or_default();
        for peer in peers {
            // A full peer queue drops the frame (counted as loss by the generator).
            peer.try_send(message.clone()).ok();
        }
    }
    if let Some(members) = rooms.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&room) {
        members.retain(|(other, _)| *other != id);
    }
    writer.abort();
}
