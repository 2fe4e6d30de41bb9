//! The relay serving HTTPS and WSS itself, on its one `--bind` port: rustls only, TLS 1.2 and 1.3.
//!
//! The certificate comes from PEM files (re-read when they change or on SIGHUP, see [`files`]) or from an
//! ACME certificate authority (obtained, cached in `<data-dir>/acme/` and renewed, see [`acme`]). Either way
//! it reaches rustls through a certificate resolver, so a new certificate serves the next handshake
//! without a restart. [`listener`] runs the handshakes beside the accept loop, each under a timeout, so a
//! slow or silent client never holds up anyone else's connection.
//!
//! **One crypto provider:** every rustls configuration in the workspace uses *ring*
//! ([`crypto_provider`]), passed explicitly to each `builder_with_provider`, and the relay binary also
//! installs it as the process default (`main.rs`, through [`install_default_provider`]) for any library that
//! asks for the default. (aws-lc-rs is compiled in too, because libp2p's QUIC transport brings it, which is
//! exactly why nothing may rely on rustls picking a provider by itself.)

pub mod acme;
pub mod files;
pub mod listener;

use std::sync::Arc;

use axum::http::HeaderValue;
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::ResolvesServerCert;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, TlsMode};

/// `Strict-Transport-Security` on every answer of a relay serving TLS: browsers that once reached it over
/// HTTPS refuse plain HTTP to it for a year. No `includeSubDomains`: the relay's host does not speak for its
/// siblings.
pub const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// The ALPN protocol of HTTP/1.1, the one the relay speaks (WebSocket upgrades included).
const HTTP_1_1: &[u8] = b"http/1.1";

/// The crypto provider of every rustls configuration in the workspace: ring.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs [`crypto_provider`] as the process default, for libraries that build their own rustls
/// configuration from the default. Idempotent: a second call (or one after another part of the process
/// installed ring) is a no-op.
pub fn install_default_provider() {
    // Err means a default is already installed; ours is the only one the workspace installs.
    let _already = rustls::crypto::ring::default_provider().install_default();
}

/// Why TLS could not start.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate files: {0}")]
    Files(#[from] files::LoadError),
    #[error("ACME: {0}")]
    Acme(String),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A running TLS setup: the acceptor's configuration, and the task that keeps its certificate fresh.
pub struct Tls {
    pub(crate) acceptor: tokio_rustls::TlsAcceptor,
    /// Renews or reloads the certificate until the relay's shutdown token is cancelled.
    pub(crate) keeper: JoinHandle<()>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads or obtains the certificate as `config` says; `None` when the relay serves plain HTTP.
    pub async fn start(config: &Config, shutdown: CancellationToken) -> Result<Option<Tls>, TlsError> {
        match config.tls.mode() {
            TlsMode::Off => Ok(None),
            TlsMode::Files { cert, key } => {
                let (resolver, keeper) = files::CertFiles::start(cert, key, config.tls.watch_files, shutdown)?;
                Ok(Some(Tls { acceptor: acceptor(resolver, &[])?, keeper }))
            }
            TlsMode::Acme { domains } => {
                let (resolver, keeper) = acme::start(domains, &config.tls, &config.data_dir, shutdown).await?;
                Ok(Some(Tls { acceptor: acceptor(resolver, &[acme::ACME_TLS_ALPN])?, keeper }))
            }
        }
    }
}

/// A server configuration around `resolver`: TLS 1.3 and 1.2, HTTP/1.1, plus `extra_alpn` (the ACME
/// challenge protocol when certificates come from ACME).
fn acceptor(
    resolver: Arc<dyn ResolvesServerCert>,
    extra_alpn: &[&[u8]],
) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let mut config = ServerConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = std::iter::once(HTTP_1_1).chain(extra_alpn.iter().copied()).map(<[u8]>::to_vec).collect();
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
