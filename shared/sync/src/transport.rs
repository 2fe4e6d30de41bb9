//! How the desktop side reaches a relay: the address policy (HTTPS unless told otherwise; plain HTTP only to
//! loopback and private addresses) and the one TLS configuration every client uses (REST, the rooms socket,
//! the sync dialer): rustls, the operating system's roots, plus the CA named by `TEAMFLOW_CA_CERT`.
//! Certificate checks are never switched off; there is no way to ask for that.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use url::{Host, Url};

/// The environment variable naming one extra CA (a PEM file) to trust, for a relay with a private certificate.
pub const CA_CERT_ENV: &str = "TEAMFLOW_CA_CERT";

/// Why a relay address or the TLS set-up was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("enter your team's relay address")]
    Empty,
    #[error("{0} is not a relay address")]
    Malformed(String),
    #[error("{0} is not an http or https address")]
    Scheme(String),
    #[error(
        "refusing plain http:// to {0}: passwords, tokens, chat and documents would cross the network unencrypted; \
         use https:// (plain http is only for loopback and private addresses)"
    )]
    InsecurePublic(String),
    #[error("the CA certificate in {path} (from {CA_CERT_ENV}) cannot be used: {reason}")]
    CaCert { path: PathBuf, reason: String },
    #[error("TLS set-up failed: {0}")]
    Tls(String),
}

/// A relay's address as typed (`relay.example.com`, `https://relay.example.com:8443/`), made canonical: a
/// scheme (https when none is given), no path, no trailing slash. Plain `http://` is accepted only for
/// loopback and private addresses (a name counts as public unless it is `localhost`).
pub fn relay_url(input: &str) -> Result<String, TransportError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(TransportError::Empty);
    }
    let with_scheme = if trimmed.contains("://") { trimmed.to_owned() } else { format!("https://{trimmed}") };
    let url = Url::parse(&with_scheme).map_err(|_| TransportError::Malformed(input.to_owned()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TransportError::Scheme(input.to_owned()));
    }
    let host = url.host().ok_or_else(|| TransportError::Malformed(input.to_owned()))?;
    if !url.path().trim_end_matches('/').is_empty() || url.query().is_some() || url.fragment().is_some() {
        return Err(TransportError::Malformed(input.to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TransportError::Malformed(input.to_owned()));
    }
    if url.scheme() == "http" && !is_local(&host) {
        return Err(TransportError::InsecurePublic(host.to_string()));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Loopback, private (RFC 1918), link-local, unique-local (fc00::/7) or shared (100.64/10, CGNAT) addresses,
/// and `localhost`: networks where plain HTTP does not cross the internet.
fn is_local(host: &Host<&str>) -> bool {
    let ip = match host {
        Host::Domain(name) => return name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost"),
        Host::Ipv4(v4) => IpAddr::V4(*v4),
        Host::Ipv6(v6) => IpAddr::V6(*v6),
    };
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The TLS configuration for every connection to a relay, built once per process: the operating system's
/// verifier and roots (so a company CA installed on the machine works), plus `TEAMFLOW_CA_CERT` if set.
pub fn client_config() -> Result<Arc<ClientConfig>, TransportError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, TransportError>> = OnceLock::new();
    CONFIG.get_or_init(|| build_client_config(std::env::var_os(CA_CERT_ENV).map(PathBuf::from))).clone()
}

/// The TLS configuration of `client_config`, trusting the CA in `ca_cert` (a PEM file) besides the operating
/// system's roots: for a program told which CA to trust other than through `TEAMFLOW_CA_CERT`.
pub fn client_config_with_ca(ca_cert: &std::path::Path) -> Result<Arc<ClientConfig>, TransportError> {
    build_client_config(Some(ca_cert.to_owned()))
}

fn build_client_config(extra_ca: Option<PathBuf>) -> Result<Arc<ClientConfig>, TransportError> {
    let extra_roots = match extra_ca {
        Some(path) => read_ca(&path)?,
        None => Vec::new(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra_roots, provider.clone())
        .map_err(|e| TransportError::Tls(e.to_string()))?;
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TransportError::Tls(e.to_string()))?
        // Named "dangerous" because it replaces rustls's own verifier; the platform verifier checks
        // everything (chain, names, validity), it is not a way around the checks.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read_ca(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let failed = |reason: String| TransportError::CaCert { path: path.clone(), reason };
    let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(format!("not a PEM certificate: {e}")))?;
    if certificates.is_empty() {
        return Err(failed("no certificate in the file".into()));
    }
    Ok(certificates)
}

/// Bytes a sync WebSocket reads from its connection at a time, at both ends. tungstenite's default, 128 KiB,
/// is zeroed before every read: with sync messages of a few hundred bytes (a keystroke, its acknowledgement)
/// that was 4% of the relay's CPU with 16 people typing into one document (docs/benchmarks.md). A larger
/// message, such as a whole document the first time it is fetched, simply takes more reads.
pub const READ_BUFFER_BYTES: usize = 16 * 1024;

/// A WebSocket to the relay: TLS per `client_config` for `wss://`, the access token in the `Authorization`
/// header (never in the URL, where proxies and logs keep it), and TCP_NODELAY (frames are small and
/// latency-bound).
pub async fn connect_websocket(url: &str, token: &str) -> Result<WebSocket, WebSocketError> {
    connect_websocket_with(url, token, None).await
}

/// `connect_websocket` with a TLS configuration of the caller's instead of `client_config`'s.
pub async fn connect_websocket_with(
    url: &str,
    token: &str,
    tls: Option<Arc<ClientConfig>>,
) -> Result<WebSocket, WebSocketError> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request()?;
    let bearer = tokio_tungstenite::tungstenite::http::HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|e| WebSocketError::HttpFormat(e.into()))?;
    request.headers_mut().insert(tokio_tungstenite::tungstenite::http::header::AUTHORIZATION, bearer);
    let tls = match tls {
        Some(tls) => tls,
        None => client_config().map_err(|e| WebSocketError::Io(std::io::Error::other(e)))?,
    };
    let connector = tokio_tungstenite::Connector::Rustls(tls);
    let config =
        tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let (socket, _) =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(config), true, Some(connector)).await?;
    Ok(socket)
}

/// A WebSocket to the relay, plain or TLS.
pub type WebSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
/// Why a WebSocket to the relay could not be opened.
pub type WebSocketError = tokio_tungstenite::tungstenite::Error;

/// When `error` (or anything it wraps) is a TLS certificate failure, what it says: the relay's certificate
/// is not trusted, expired, or for another name. Other failures (refused, timed out) answer `None`.
pub fn certificate_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return certificate_message(tls);
        }
        // An io::Error hides its payload from `source()` (it answers the payload's own source), and the
        // TLS connectors wrap the rustls error in one or two of them: step into the payload instead.
        next = match current.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
    }
    None
}

fn certificate_message(error: &rustls::Error) -> Option<String> {
    use rustls::CertificateError as Why;
    let rustls::Error::InvalidCertificate(why) = error else { return None };
    let reason = match why {
        Why::UnknownIssuer => "it is signed by an authority this computer does not trust".to_owned(),
        Why::Expired | Why::ExpiredContext { .. } => "it has expired".to_owned(),
        Why::NotValidYet | Why::NotValidYetContext { .. } => {
            "it is not valid yet (check this computer's clock)".to_owned()
        }
        Why::NotValidForName | Why::NotValidForNameContext { .. } => "it was issued for another name".to_owned(),
        Why::Revoked => "it has been revoked".to_owned(),
        other => format!("{other:?}"),
    };
    Some(format!(
        "the relay's certificate is not trusted: {reason} (if the relay uses a private CA, set {CA_CERT_ENV} to its PEM file)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_hosts_mean_https_and_addresses_are_made_canonical() {
        assert_eq!(relay_url(" relay.example.com/ ").expect("url"), "https://relay.example.com");
        assert_eq!(relay_url("relay.example.com:8443").expect("url"), "https://relay.example.com:8443");
        assert_eq!(relay_url("HTTPS://Relay.Example.com").expect("url"), "https://relay.example.com");
        assert_eq!(relay_url("http://127.0.0.1:8080/").expect("url"), "http://127.0.0.1:8080");
        assert_eq!(relay_url("http://localhost:8080").expect("url"), "http://localhost:8080");
    }

    #[test]
    fn plain_http_only_to_loopback_and_private_addresses() {
        for local in [
            "http://127.0.0.1",
            "http://10.1.2.3:8080",
            "http://172.16.0.1",
            "http://192.168.1.20",
            "http://169.254.1.1",
            "http://100.64.0.1",
            "http://[::1]:8080",
            "http://[fd00::1]",
            "http://[fe80::1]",
        ] {
            assert!(relay_url(local).is_ok(), "{local} is local");
        }
        for public in ["http://relay.example.com", "http://8.8.8.8", "http://172.32.0.1", "http://[2001:db8::1]"] {
            assert!(matches!(relay_url(public), Err(TransportError::InsecurePublic(_))), "{public} is public");
        }
        let message = relay_url("http://relay.example.com").expect_err("refused").to_string();
        assert!(message.contains("unencrypted"), "{message}");
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        assert_eq!(relay_url("   "), Err(TransportError::Empty));
        assert!(matches!(relay_url("ftp://relay"), Err(TransportError::Scheme(_))));
        assert!(matches!(relay_url("https://"), Err(TransportError::Malformed(_))));
        assert!(matches!(relay_url("https://relay.example.com/api"), Err(TransportError::Malformed(_))));
        assert!(matches!(relay_url("https://user:pw@relay.example.com"), Err(TransportError::Malformed(_))));
        assert!(matches!(relay_url("https://relay example.com"), Err(TransportError::Malformed(_))));
    }

    #[test]
    fn certificate_failures_are_found_however_deeply_io_errors_wrap_them() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let wrapped = std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        let found = certificate_failure(&wrapped).expect("found");
        assert!(found.contains("not trusted") && found.contains(CA_CERT_ENV), "{found}");
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(certificate_failure(&refused), None, "other failures are not certificate failures");
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_an_error_naming_it() {
        let missing = build_client_config(Some(PathBuf::from("/nonexistent/ca.pem"))).expect_err("missing");
        assert!(matches!(missing, TransportError::CaCert { .. }), "{missing}");
        let dir = std::env::temp_dir().join(format!("teamflow-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate").expect("write");
        let refused = build_client_config(Some(empty.clone())).expect_err("empty");
        assert!(refused.to_string().contains("empty.pem"), "{refused}");
        std::fs::remove_dir_all(dir).ok();
        assert!(build_client_config(None).is_ok(), "the OS roots alone work");
    }
}
