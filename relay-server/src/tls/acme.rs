//! Certificates from an ACME certificate authority (Let's Encrypt by default), through `rustls-acme`.
//!
//! The challenge is TLS-ALPN-01, answered on the relay's own port: the CA connects to the domain on port
//! 443 offering only the `acme-tls/1` protocol, the resolver answers with the challenge certificate, and
//! the listener closes such connections after the handshake. The account key and the certificate are
//! cached in `<data-dir>/acme/` (readable by the relay's user only), so a restart serves the cached
//! certificate at once and orders a new one only when it nears expiry (a third of its lifetime left).
//! Until the first certificate arrives, handshakes fail: clients see a connection error, not a wrong
//! certificate.
//!
//! The ACME client checks the CA's HTTPS certificate like any other client of ours: the system's roots,
//! plus the PEM file of `--acme-ca` if given (a private ACME CA, or a test server such as Pebble).

use std::path::Path;
use std::sync::Arc;

use futures::StreamExt as _;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls_acme::caches::DirCache;
use rustls_acme::{AcmeConfig, EventOk};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::TlsError;
use crate::config::TlsOptions;

/// The ALPN protocol of TLS-ALPN-01 challenges.
pub const ACME_TLS_ALPN: &[u8] = rustls_acme::acme::ACME_TLS_ALPN_NAME;

/// The cache directory under the data directory.
pub const CACHE_DIR: &str = "acme";

/// Starts obtaining (or loads the cached) certificate for `domains`; answers the resolver handshakes use
/// and the task that renews it until `shutdown`.
pub async fn start(
    domains: &[String],
    options: &TlsOptions,
    data_dir: &Path,
    shutdown: CancellationToken,
) -> Result<(Arc<rustls_acme::ResolvesServerCertAcme>, JoinHandle<()>), TlsError> {
    let cache = data_dir.join(CACHE_DIR);
    create_private_dir(&cache).map_err(|e| TlsError::Acme(format!("cannot create {}: {e}", cache.display())))?;
    let client = Arc::new(
        rustls::ClientConfig::builder_with_provider(super::crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots(options.acme_ca.as_deref())?)
            .with_no_client_auth(),
    );
    let mut config = AcmeConfig::new_with_client_config(domains, client)
        .directory(&options.acme_directory)
        .cache(DirCache::new(cache.clone()));
    if let Some(email) = &options.acme_email {
        config = config.contact_push(format!("mailto:{email}"));
    }
    let mut state = config.state();
    let resolver = state.resolver();
    tracing::info!(?domains, directory = %options.acme_directory, cache = %cache.display(), "serving TLS with ACME certificates");
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                event = state.next() => match event {
                    Some(Ok(EventOk::DeployedNewCert)) => tracing::info!("serving a new certificate from the ACME CA"),
                    Some(Ok(EventOk::DeployedCachedCert)) => tracing::info!("serving the cached ACME certificate"),
                    Some(Ok(event)) => tracing::debug!(?event, "ACME"),
                    // rustls-acme retries with a growing backoff after an error; the previous certificate,
                    // if any, keeps serving meanwhile.
                    Some(Err(e)) => tracing::error!(error = %e, "ACME: obtaining or renewing the certificate failed; will retry"),
                    None => return,
                },
            }
        }
    });
    Ok((resolver, task))
}

/// The system's roots plus the certificates in `extra`.
fn roots(extra: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(error = %e, "loading the system's CA certificates");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    tracing::debug!(added, ignored, "system CA certificates for the ACME client");
    if let Some(path) = extra {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| TlsError::Acme(format!("--acme-ca {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(TlsError::Acme(format!("--acme-ca {} holds no PEM certificate", path.display())));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| TlsError::Acme(format!("--acme-ca {}: {e}", path.display())))?;
        }
    }
    if roots.is_empty() {
        return Err(TlsError::Acme(
            "no CA certificates to check the ACME server with: install the system's (ca-certificates) or pass --acme-ca"
                .into(),
        ));
    }
    Ok(roots)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
