//! TLS for tests: a private CA made at test time (rcgen), server certificates it signs, and clients that
//! trust it and nothing else. Every client here checks certificates; none can be told not to.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A certificate authority for one test.
pub struct TestCa {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa").finish_non_exhaustive()
    }
}

/// A server certificate and its key, as PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// The leaf, to compare with what a handshake presents.
    pub der: CertificateDer<'static>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        Self { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    pub fn der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// A server certificate for `names` (DNS names or IP addresses), told apart by `serial` and its
    /// subject's common name.
    pub fn issue(&self, names: &[&str], common_name: &str, serial: u64) -> Issued {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).expect("server params");
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.serial_number = Some(SerialNumber::from(serial));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.cert, &self.key).expect("server certificate");
        Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem(), der: cert.der().clone() }
    }

    /// A certificate for the loopback relay: `127.0.0.1`, `::1` and `localhost`.
    pub fn issue_loopback(&self, common_name: &str, serial: u64) -> Issued {
        self.issue(&["127.0.0.1", "::1", "localhost"], common_name, serial)
    }
}

impl Issued {
    /// Writes `cert.pem` and `key.pem` into `dir` (created if missing); answers their paths.
    pub fn write(&self, dir: &Path) -> (PathBuf, PathBuf) {
        std::fs::create_dir_all(dir).expect("certificate directory");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&key, &self.key_pem).expect("write key");
        std::fs::write(&cert, &self.cert_pem).expect("write certificate");
        (cert, key)
    }
}

/// The roots in a PEM file (Pebble's root, Caddy's local CA).
pub fn roots_from_pem(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes()).collect::<Result<Vec<_>, _>>().expect("PEM certificates")
}

/// A rustls client configuration (ring, TLS 1.2 and 1.3) trusting exactly `roots`.
pub fn client_config(roots: &[CertificateDer<'static>]) -> rustls::ClientConfig {
    let mut store = RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).expect("a usable root");
    }
    rustls::ClientConfig::builder_with_provider(teamflow_relay::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(store)
        .with_no_client_auth()
}

/// A reqwest client trusting exactly `roots`.
pub fn https_client(roots: &[CertificateDer<'static>]) -> reqwest::Client {
    reqwest::Client::builder().tls_backend_preconfigured(client_config(roots)).build().expect("HTTPS client")
}

/// A tokio-tungstenite connector trusting exactly `roots`.
pub fn wss_connector(roots: &[CertificateDer<'static>]) -> tokio_tungstenite::Connector {
    tokio_tungstenite::Connector::Rustls(Arc::new(client_config(roots)))
}

/// A bare TLS handshake with `addr` for `name`, checked against `roots`.
pub async fn handshake(
    addr: std::net::SocketAddr,
    name: &str,
    roots: &[CertificateDer<'static>],
) -> std::io::Result<TlsStream<TcpStream>> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(roots)));
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(name.to_owned()).map_err(std::io::Error::other)?;
    connector.connect(name, tcp).await
}

/// The leaf certificate a fresh handshake with `addr` presents.
pub async fn served_leaf(
    addr: std::net::SocketAddr,
    name: &str,
    roots: &[CertificateDer<'static>],
) -> CertificateDer<'static> {
    let stream = handshake(addr, name, roots).await.expect("TLS handshake");
    stream.get_ref().1.peer_certificates().and_then(|chain| chain.first()).expect("a certificate").clone().into_owned()
}
