//! Dials the relay's `/sync` WebSocket with the current access token (in the `Authorization` header) on
//! every (re)connection, over TLS for an `https` relay (see `transport`).

use futures::future::BoxFuture;
use futures::{SinkExt, StreamExt, TryStreamExt, future};
use samod::{DialError, Dialer, Transport};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use url::Url;

use crate::{ClientConfig, SyncError};

pub struct RelayDialer {
    base: Url,
    peer_id: String,
    token: watch::Receiver<String>,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for RelayDialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayDialer").field("base", &self.base.as_str()).field("peer_id", &self.peer_id).finish()
    }
}

impl RelayDialer {
    pub fn new(config: &ClientConfig, token: watch::Receiver<String>) -> Result<Self, SyncError> {
        let mut base = Url::parse(&config.relay_url).map_err(|e| SyncError::RelayUrl(e.to_string()))?;
        let scheme = match base.scheme() {
            "http" | "ws" => "ws",
            "https" | "wss" => "wss",
            other => return Err(SyncError::RelayUrl(format!("unsupported scheme {other}"))),
        };
        base.set_scheme(scheme).map_err(|()| SyncError::RelayUrl("cannot set scheme".into()))?;
        base.set_path("/sync");
        Ok(Self { base, peer_id: config.peer_id().to_string(), token, tls: config.tls.clone() })
    }

    fn url_with_peer_id(&self) -> Url {
        let mut url = self.base.clone();
        url.query_pairs_mut().append_pair("peer_id", &self.peer_id);
        url
    }
}

impl Dialer for RelayDialer {
    type Error = std::convert::Infallible;

    fn url(&self) -> Url {
        self.base.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Self::Error>>> {
        let url = self.url_with_peer_id();
        let token = self.token.borrow().clone();
        let tls = self.tls.clone();
        Box::pin(async move {
            let socket = crate::transport::connect_websocket_with(url.as_str(), &token, tls).await.map_err(|e| {
                match crate::transport::certificate_failure(&e) {
                    Some(reason) => {
                        tracing::warn!(reason, "relay sync dial refused the relay's certificate; will retry")
                    }
                    None => tracing::debug!(error = %e, "relay sync dial failed; will retry"),
                }
                DialError::transient(e)
            })?;
            let (sink, stream) = socket.split();
            let incoming =
                stream.take_while(|m| future::ready(!matches!(m, Ok(Message::Close(_))))).try_filter_map(|m| {
                    future::ready(Ok(if let Message::Binary(b) = m { Some(b.to_vec()) } else { None }))
                });
            let outgoing = sink.with(|bytes: Vec<u8>| {
                future::ready(Ok::<_, tokio_tungstenite::tungstenite::Error>(Message::binary(bytes)))
            });
            Ok(Transport::new(Box::pin(incoming), Box::pin(outgoing)))
        })
    }
}
