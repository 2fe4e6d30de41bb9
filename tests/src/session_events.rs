//! A node `Session`'s events as a test reads them: a sink that keeps every event, waits for the one wanted
//! (earlier ones passed over), and a peer-to-peer setup that stays on this machine.

use std::sync::Arc;
use std::time::Duration;

use teamflow_node::{EventSink, Link, P2pConfig, SessionEvent};
use teamflow_protocol::TeamId;
use teamflow_protocol::realtime::ServerMessage;
use tokio::sync::mpsc;

/// A session's events as they arrive.
#[derive(Debug)]
pub struct Events(mpsc::UnboundedReceiver<SessionEvent>);

impl Events {
    /// The sink to start a session with, and its events.
    pub fn sink() -> (EventSink, Events) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink: EventSink = Arc::new(move |event| {
            // The receiver lives as long as the test that reads it.
            tx.send(event).ok();
        });
        (sink, Events(rx))
    }

    /// Waits for the first event `want` accepts (earlier ones are passed over) and answers what it made of
    /// it. The 30 s deadline only turns a broken feature into a failure instead of a hang.
    pub async fn until<T>(&mut self, what: &str, mut want: impl FnMut(SessionEvent) -> Option<T>) -> T {
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(event) = self.0.recv().await {
                if let Some(found) = want(event) {
                    return Some(found);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(found)) => found,
            Ok(None) => panic!("the session stopped before {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }

    /// `until`, for an event `want` only has to recognise.
    pub async fn wait(&mut self, what: &str, want: impl Fn(&SessionEvent) -> bool) {
        self.until(what, |event| want(&event).then_some(())).await;
    }

    /// Waits until the session's relay link is up.
    pub async fn online(&mut self) {
        self.wait("the relay link", |e| matches!(e, SessionEvent::Status(s) if s.link == Link::Online)).await;
    }

    /// Waits for a frame of `team`'s room that `want` accepts.
    pub async fn room_frame<T>(&mut self, team: TeamId, what: &str, want: impl Fn(ServerMessage) -> Option<T>) -> T {
        self.until(what, |e| match e {
            SessionEvent::Room { team: t, frame } if t == team => want(frame),
            _ => None,
        })
        .await
    }
}

/// Loopback only, no mDNS: the sessions' peer-to-peer side stays on this machine.
pub fn loopback() -> P2pConfig {
    P2pConfig { listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")], mdns: false, ..P2pConfig::default() }
}
