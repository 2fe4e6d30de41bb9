//! Command-line and environment configuration of the relay.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Who may create an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Registration {
    /// Anyone who reaches the relay.
    Open,
    /// The first account (the relay's administrator), then only people holding an invitation.
    Invite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The TeamFlow relay: accounts, the team REST API and sync for one team's desktop apps.
#[derive(Debug, Clone, Parser)]
#[command(name = "teamflow-relay", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "TEAMFLOW_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory holding the database and the relay's signing key; created if missing.
    #[arg(long, env = "TEAMFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// PostgreSQL, instead of the embedded SQLite in `--data-dir` (`postgres://user:password@host/database`):
    /// every table and the signing keys live there, so several instances can share it (with `--nats-url`;
    /// docs/scale-out.md).
    #[arg(long, env = "TEAMFLOW_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// NATS server through which relay instances sharing one database pass room traffic and revocations
    /// (`nats://host:4222`). The database is the PostgreSQL of `--database-url`, or, without it, the SQLite
    /// of one `--data-dir` that every instance opens (instances on one machine; docs/scale-out.md).
    #[arg(long, env = "TEAMFLOW_NATS_URL", value_name = "URL", hide_env_values = true)]
    pub nats_url: Option<String>,

    /// URL clients and webhook providers reach this relay at (default: http://BIND, or https:// when the
    /// relay serves TLS: https://BIND with certificate files, https://FIRST-ACME-DOMAIN with ACME).
    /// Also the `iss` of every access token.
    #[arg(long, env = "TEAMFLOW_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// An origin allowed to call the API from a browser (repeatable; none by default).
    #[arg(long = "cors-origin", env = "TEAMFLOW_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Who may sign up: `invite` (the first account, then only with an invitation) or `open` (anyone).
    #[arg(long, env = "TEAMFLOW_REGISTRATION", value_enum, default_value_t = Registration::Invite)]
    pub registration: Registration,

    /// Log line format.
    #[arg(long, env = "TEAMFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// A reverse proxy whose `X-Forwarded-For` is believed when rate limiting (repeatable).
    /// Without one, the peer address is used and the header ignored.
    #[arg(long = "trusted-proxy", env = "TEAMFLOW_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpAddr>,

    /// Serve `/metrics` on this address alone (e.g. a private interface for Prometheus) instead of on
    /// `--bind`.
    #[arg(long, env = "TEAMFLOW_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// A bearer token `/metrics` requires (`Authorization: Bearer <token>`). Without it and without
    /// `--metrics-bind`, `/metrics` on `--bind` answers loopback clients only (never a trusted proxy's).
    #[arg(long, env = "TEAMFLOW_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    #[command(flatten)]
    pub tls: TlsOptions,

    #[command(flatten)]
    pub limits: Limits,

    #[command(flatten)]
    pub p2p: P2pOptions,

    /// Whether stored webhook events are processed. Always on in the binary; tests turn it off to hold
    /// events in the acknowledged-but-unprocessed state a crash can leave them in.
    #[arg(skip = true)]
    pub process_webhooks: bool,

    /// How many room frames, and apart from them how many access notices, may wait to be published on NATS.
    /// Always [`crate::cluster::OUTBOX`] in the binary; tests set 0 to see what a full queue does.
    #[arg(skip = crate::cluster::OUTBOX)]
    pub nats_queue: usize,

    /// Told which documents the sync repo holds in memory, as they load and unload. Never set by the binary
    /// (`/metrics` exports their count); tests watch it to see a document unloaded.
    #[arg(skip)]
    pub documents_loaded: Option<crate::sync::LoadedWatch>,
}

/// The relay serving HTTPS and WSS itself: from certificate files, or from an ACME certificate authority.
/// Without either, it serves plain HTTP (for loopback, or behind a reverse proxy that terminates TLS).
#[derive(Debug, Clone, clap::Args)]
pub struct TlsOptions {
    /// PEM file with the certificate chain to serve (leaf first); needs `--tls-key`. Re-read when the file
    /// changes or the relay gets SIGHUP.
    #[arg(long = "tls-cert", env = "TEAMFLOW_TLS_CERT", value_name = "PATH", requires = "key")]
    pub cert: Option<PathBuf>,

    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    #[arg(long = "tls-key", env = "TEAMFLOW_TLS_KEY", value_name = "PATH", requires = "cert")]
    pub key: Option<PathBuf>,

    /// A domain to obtain a certificate for from the ACME CA (repeatable; one certificate names them all).
    /// The CA checks the relay answers for it on port 443 (TLS-ALPN-01), so `--bind` must be reachable there.
    #[arg(
        long = "acme-domain",
        env = "TEAMFLOW_ACME_DOMAINS",
        value_delimiter = ',',
        value_name = "DOMAIN",
        conflicts_with = "cert"
    )]
    pub acme_domains: Vec<String>,

    /// Contact address given to the ACME CA for the account (recommended).
    #[arg(long = "acme-email", env = "TEAMFLOW_ACME_EMAIL", value_name = "EMAIL")]
    pub acme_email: Option<String>,

    /// The ACME CA's directory URL.
    #[arg(long = "acme-directory", env = "TEAMFLOW_ACME_DIRECTORY", value_name = "URL",
        default_value = LETS_ENCRYPT_DIRECTORY)]
    pub acme_directory: String,

    /// A PEM file of extra CA certificates the ACME client trusts for the directory's HTTPS, on top of the
    /// system's: for a private ACME CA or a test server such as Pebble. It adds trust; it never removes a check.
    #[arg(long = "acme-ca", env = "TEAMFLOW_ACME_CA", value_name = "PATH")]
    pub acme_ca: Option<PathBuf>,

    /// Whether the certificate files are watched for changes. Always on in the binary; tests turn it off to
    /// check the SIGHUP path alone.
    #[arg(skip = true)]
    pub watch_files: bool,
}

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Where the relay's certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode<'a> {
    /// Plain HTTP.
    Off,
    Files {
        cert: &'a std::path::Path,
        key: &'a std::path::Path,
    },
    Acme {
        domains: &'a [String],
    },
}

impl TlsOptions {
    pub fn mode(&self) -> TlsMode<'_> {
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => TlsMode::Files { cert, key },
            _ if !self.acme_domains.is_empty() => TlsMode::Acme { domains: &self.acme_domains },
            _ => TlsMode::Off,
        }
    }

    /// Whether the relay serves HTTPS itself.
    pub fn enabled(&self) -> bool {
        self.mode() != TlsMode::Off
    }

    fn validate(&self) -> Result<(), String> {
        if self.cert.is_some() != self.key.is_some() {
            return Err("--tls-cert and --tls-key go together".into());
        }
        if self.cert.is_some() && !self.acme_domains.is_empty() {
            return Err(
                "choose either certificate files (--tls-cert/--tls-key) or ACME (--acme-domain), not both".into()
            );
        }
        if self.acme_domains.is_empty() && (self.acme_email.is_some() || self.acme_ca.is_some()) {
            return Err("--acme-email and --acme-ca need --acme-domain".into());
        }
        for domain in &self.acme_domains {
            let valid = !domain.is_empty()
                && domain.len() <= 253
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                });
            if !valid || domain.parse::<IpAddr>().is_ok() {
                return Err(format!("--acme-domain must be a DNS name, got {domain:?}"));
            }
        }
        if !self.acme_domains.is_empty() && !self.acme_directory.starts_with("https://") {
            return Err(format!("--acme-directory must be an https:// URL, got {:?}", self.acme_directory));
        }
        Ok(())
    }
}

/// The relay's libp2p node: a circuit relay for teammates' devices that cannot reach each other directly.
#[derive(Debug, Clone, clap::Args)]
pub struct P2pOptions {
    /// Run without the libp2p node (devices then sync directly only on a shared network, or through
    /// `/sync`).
    #[arg(long = "no-p2p", env = "TEAMFLOW_NO_P2P")]
    pub disabled: bool,

    /// Multiaddrs the libp2p node listens on (repeatable).
    #[arg(long = "p2p-listen", env = "TEAMFLOW_P2P_LISTEN", value_delimiter = ',',
        default_values_t = ["/ip4/0.0.0.0/tcp/4001".to_owned(), "/ip4/0.0.0.0/udp/4001/quic-v1".to_owned()])]
    pub listen: Vec<String>,

    /// Multiaddrs to publish instead of the listening ones, e.g. a public address forwarded to this host
    /// (repeatable).
    #[arg(long = "p2p-external", env = "TEAMFLOW_P2P_EXTERNAL", value_delimiter = ',')]
    pub external: Vec<String>,

    /// Bytes one relayed connection may carry before it is closed (peers open a new one and sync resumes).
    #[arg(long = "p2p-circuit-bytes", env = "TEAMFLOW_P2P_CIRCUIT_BYTES", default_value_t = 1 << 30)]
    pub circuit_bytes: u64,

    /// Seconds one relayed connection may last before it is closed (peers open a new one).
    #[arg(long = "p2p-circuit-secs", env = "TEAMFLOW_P2P_CIRCUIT_SECS", default_value_t = 60 * 60)]
    pub circuit_secs: u64,

    /// Relayed connections open at once, all devices together.
    #[arg(long = "p2p-max-circuits", env = "TEAMFLOW_P2P_MAX_CIRCUITS", default_value_t = 512)]
    pub max_circuits: usize,

    /// Devices that may be reachable through the relay at once.
    #[arg(long = "p2p-max-reservations", env = "TEAMFLOW_P2P_MAX_RESERVATIONS", default_value_t = 2048)]
    pub max_reservations: usize,

    /// libp2p connections at once.
    #[arg(long = "p2p-max-connections", env = "TEAMFLOW_P2P_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: u32,
}

/// Tunable limits; the defaults suit a team's relay on a small machine.
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// Sustained API requests per second for each user (or address, when signed out).
    #[arg(long, env = "TEAMFLOW_RATE_PER_SECOND", default_value_t = 50)]
    pub rate_per_second: u32,

    /// Requests a user may burst above the sustained rate.
    #[arg(long, env = "TEAMFLOW_RATE_BURST", default_value_t = 200)]
    pub rate_burst: u32,

    /// Sign-up, sign-in and refresh attempts per minute for each address.
    #[arg(long, env = "TEAMFLOW_AUTH_RATE_PER_MINUTE", default_value_t = 20)]
    pub auth_rate_per_minute: u32,

    /// Sign-up, sign-in and refresh attempts an address may burst.
    #[arg(long, env = "TEAMFLOW_AUTH_RATE_BURST", default_value_t = 20)]
    pub auth_rate_burst: u32,

    /// Largest accepted JSON request body, in bytes.
    #[arg(long, env = "TEAMFLOW_MAX_BODY_BYTES", default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,

    /// Webhook deliveries received at once (they are unauthenticated until their signature checks); more
    /// are answered 503 with Retry-After.
    #[arg(long, env = "TEAMFLOW_MAX_WEBHOOK_RECEIVES", default_value_t = 8)]
    pub max_webhook_receives: usize,

    /// Largest realtime frame a client may send, in bytes.
    #[arg(long, env = "TEAMFLOW_WS_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub ws_max_frame_bytes: usize,

    /// Frames queued for one realtime client before it counts as not reading and is disconnected.
    #[arg(long, env = "TEAMFLOW_WS_QUEUE", default_value_t = 256)]
    pub ws_queue: usize,

    /// Seconds between heartbeats; a client silent for two of them is disconnected.
    #[arg(long, env = "TEAMFLOW_WS_HEARTBEAT_SECS", default_value_t = 20)]
    pub ws_heartbeat_secs: u64,

    /// Largest document-sync frame a client may send, in bytes (a whole document can travel in one).
    #[arg(long, env = "TEAMFLOW_SYNC_MAX_FRAME_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub sync_max_frame_bytes: usize,

    /// Seconds a sync frame may wait to be written before the peer counts as not reading and is cut off.
    #[arg(long, env = "TEAMFLOW_SYNC_WRITE_TIMEOUT_SECS", default_value_t = 30)]
    pub sync_write_timeout_secs: u64,

    /// Sustained realtime frames per second a client may send.
    #[arg(long, env = "TEAMFLOW_WS_MESSAGES_PER_SECOND", default_value_t = 20)]
    pub ws_messages_per_second: u32,

    /// Realtime frames a client may burst; going this far past the limit closes the connection.
    #[arg(long, env = "TEAMFLOW_WS_MESSAGE_BURST", default_value_t = 40)]
    pub ws_message_burst: u32,

    /// Lifetime of an access token, in seconds.
    #[arg(
        long = "access-token-ttl",
        alias = "access-token-ttl-secs",
        env = "TEAMFLOW_ACCESS_TOKEN_TTL",
        default_value_t = 900
    )]
    pub access_token_ttl_secs: u64,

    /// Lifetime of a refresh token family, in days.
    #[arg(long, env = "TEAMFLOW_REFRESH_TOKEN_DAYS", default_value_t = 30)]
    pub refresh_token_days: u32,

    /// Document-sync connections one user may hold at once (all their devices together).
    #[arg(long, env = "TEAMFLOW_SYNC_CONNECTIONS_PER_USER", default_value_t = 16)]
    pub sync_connections_per_user: usize,

    /// Realtime (`/api/ws`) connections one user may hold at once.
    #[arg(long, env = "TEAMFLOW_WS_CONNECTIONS_PER_USER", default_value_t = 16)]
    pub ws_connections_per_user: usize,

    /// Distinct documents one user may have open through document sync at once (one open on several of
    /// the user's connections counts once); past it, further documents are answered unavailable.
    #[arg(long, env = "TEAMFLOW_SYNC_DOCUMENTS_PER_USER", default_value_t = 10_000)]
    pub sync_documents_per_user: usize,

    /// Sustained document-sync frames per second one user may send; faster senders are read more slowly.
    #[arg(long, env = "TEAMFLOW_SYNC_FRAMES_PER_SECOND", default_value_t = 500)]
    pub sync_frames_per_second: u32,

    /// Document-sync frames one user may send in a burst above the sustained rate.
    #[arg(long, env = "TEAMFLOW_SYNC_FRAME_BURST", default_value_t = 5_000)]
    pub sync_frame_burst: u32,

    /// Milliseconds a document may sit unused (no connected device has it open) before the relay drops it
    /// from memory; it loads again from the database when next asked for. 0 keeps every document in memory
    /// until shutdown.
    #[arg(long, env = "TEAMFLOW_SYNC_UNLOAD_IDLE_MS", default_value_t = 60_000)]
    pub sync_unload_idle_ms: u64,
    /// The shortest time, in milliseconds, between two rounds of sync messages from one document: a
    /// document edited again within it of its last round sends each peer one message for all of it once
    /// the time is up (at most this much later), so with many people typing into one document each gets
    /// one message per interval instead of one per keystroke. A document edited less often sends at once.
    /// 0 sends every change at once.
    #[arg(long, env = "TEAMFLOW_SYNC_INTERVAL_MS", default_value_t = 10)]
    pub sync_interval_ms: u64,
}

impl Limits {
    /// The shortest time between a document's rounds of sync messages; `None`: no wait.
    pub fn sync_interval(&self) -> Option<Duration> {
        (self.sync_interval_ms > 0).then(|| Duration::from_millis(self.sync_interval_ms))
    }

    /// How long an unused document stays in memory; `None`: until shutdown.
    pub fn sync_unload_idle(&self) -> Option<Duration> {
        (self.sync_unload_idle_ms > 0).then(|| Duration::from_millis(self.sync_unload_idle_ms))
    }
}

impl Config {
    /// A configuration with every default, serving from `data_dir`; for tests and embedding.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let mut config = Config::parse_from(["teamflow-relay"]);
        config.data_dir = data_dir.into();
        config
    }

    pub fn validate(&self) -> Result<(), String> {
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!("--public-url must start with http:// or https://, got {url:?}"));
        }
        self.tls.validate()?;
        crate::db::backend::backend(self.database_url.as_deref()).map_err(|e| e.to_string())?;
        // Without --database-url, instances share the SQLite of one --data-dir: nothing here can tell
        // whether the others use the same directory, so only the URL is checked.
        if let Some(nats) = &self.nats_url {
            crate::db::backend::check_nats_url(nats).map_err(|e| e.to_string())?;
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err("--metrics-token must be at least 16 characters".into());
        }
        if self.metrics_bind.is_some_and(|m| m == self.bind && m.port() != 0) {
            return Err("--metrics-bind must differ from --bind".into());
        }
        if let Some(url) = &self.public_url
            && self.tls.enabled()
            && !url.starts_with("https://")
        {
            return Err(format!("the relay serves TLS, so --public-url must start with https://, got {url:?}"));
        }
        let l = &self.limits;
        if l.rate_per_second == 0 || l.rate_burst == 0 || l.auth_rate_per_minute == 0 || l.auth_rate_burst == 0 {
            return Err("rate limits must be greater than zero".into());
        }
        if l.sync_write_timeout_secs == 0
            || l.ws_queue == 0
            || l.ws_heartbeat_secs == 0
            || l.ws_messages_per_second == 0
            || l.ws_message_burst == 0
            || l.sync_connections_per_user == 0
            || l.ws_connections_per_user == 0
            || l.sync_documents_per_user == 0
            || l.sync_frames_per_second == 0
            || l.sync_frame_burst == 0
        {
            return Err("realtime limits must be greater than zero".into());
        }
        if l.ws_max_frame_bytes < 1024 || l.sync_max_frame_bytes < 1024 {
            return Err("--ws-max-frame-bytes and --sync-max-frame-bytes must be at least 1024".into());
        }
        if l.max_webhook_receives == 0 {
            return Err("--max-webhook-receives must be greater than zero".into());
        }
        if l.max_body_bytes < 1024 {
            return Err("--max-body-bytes must be at least 1024".into());
        }
        if !(10..=86_400).contains(&l.access_token_ttl_secs) {
            return Err("--access-token-ttl must be between 10 and 86400 seconds".into());
        }
        if !(1..=365).contains(&l.refresh_token_days) {
            return Err("--refresh-token-days must be between 1 and 365".into());
        }
        let p = &self.p2p;
        if !p.disabled && p.listen.is_empty() {
            return Err("--p2p-listen needs at least one address (or pass --no-p2p)".into());
        }
        if p.circuit_bytes < 1024 * 1024 || p.circuit_secs < 60 || p.max_circuits == 0 || p.max_reservations == 0 {
            return Err("--p2p-circuit-bytes must be at least 1 MiB, --p2p-circuit-secs at least 60, and the p2p maxima above zero".into());
        }
        Ok(())
    }

    /// The public URL without a trailing slash, falling back to the address actually bound.
    pub fn public_url(&self, bound: SocketAddr) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        match self.tls.mode() {
            TlsMode::Off => format!("http://{bound}"),
            TlsMode::Files { .. } => format!("https://{bound}"),
            TlsMode::Acme { domains } => match bound.port() {
                443 => format!("https://{}", domains[0]),
                port => format!("https://{}:{port}", domains[0]),
            },
        }
    }

    /// Whether the public URL is only the address bound, and that address one no webhook provider on the
    /// internet can use (all interfaces, loopback, a private network's): webhook URLs would then name it.
    /// Said at start-up.
    pub fn public_url_is_guessed(&self, bound: SocketAddr) -> bool {
        let internal = match bound.ip() {
            std::net::IpAddr::V4(ip) => {
                ip.is_unspecified() || ip.is_loopback() || ip.is_private() || ip.is_link_local()
            }
            std::net::IpAddr::V6(ip) => {
                ip.is_unspecified() || ip.is_loopback() || ip.is_unique_local() || ip.is_unicast_link_local()
            }
        };
        self.public_url.is_none() && !matches!(self.tls.mode(), TlsMode::Acme { .. }) && internal
    }

    /// The `iss` of access tokens: stable across restarts even when bound to port 0.
    pub fn issuer(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => "teamflow-relay".to_owned(),
        }
    }

    pub fn access_token_ttl(&self) -> Duration {
        Duration::from_secs(self.limits.access_token_ttl_secs)
    }

    pub fn refresh_token_ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.limits.refresh_token_days) * 86_400)
    }

    /// Argon2 hashing uses ~19 MiB and a core each; more at once than cores only queues.
    pub fn max_concurrent_hashes(&self) -> usize {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_ones() {
        let config = Config::parse_from(["teamflow-relay"]);
        assert_eq!(config.bind, "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!(config.data_dir, PathBuf::from("./data"));
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.limits.sync_interval(), Some(Duration::from_millis(10)), "docs/sync.md's default");
        assert!(config.validate().is_ok());
        let off = Config::parse_from(["teamflow-relay", "--sync-interval-ms", "0"]);
        assert_eq!(off.limits.sync_interval(), None, "0 sends every change at once");
    }

    #[test]
    fn flags_parse_and_bad_values_are_refused() {
        let config = Config::parse_from([
            "teamflow-relay",
            "--cors-origin",
            "http://a.test",
            "--cors-origin",
            "http://b.test",
            "--public-url",
            "https://relay.example.com/",
            "--log-format",
            "json",
        ]);
        assert_eq!(config.cors_origins.len(), 2);
        assert_eq!(config.issuer(), "https://relay.example.com");
        assert_eq!(config.log_format, LogFormat::Json);

        let bad = Config::parse_from(["teamflow-relay", "--public-url", "relay.example.com"]);
        assert!(bad.validate().is_err());
        assert!(Config::try_parse_from(["teamflow-relay", "--tls-cert", "c.pem"]).is_err(), "a cert needs its key");
        assert!(Config::try_parse_from(["teamflow-relay", "--log-format", "xml"]).is_err());
        assert!(Config::try_parse_from(["teamflow-relay", "--bind", "nowhere"]).is_err());
    }

    #[test]
    fn tls_flags_choose_the_mode_and_the_default_public_url() {
        let bound: SocketAddr = "0.0.0.0:8443".parse().expect("addr");
        let plain = Config::parse_from(["teamflow-relay"]);
        assert_eq!(plain.tls.mode(), TlsMode::Off);
        assert_eq!(plain.public_url(bound), "http://0.0.0.0:8443");
        assert!(plain.public_url_is_guessed(bound));
        assert!(plain.public_url_is_guessed("127.0.0.1:8080".parse().expect("addr")));
        for internal in ["10.0.0.5:8443", "192.168.1.2:80", "[fd00::1]:8443", "[::]:8443"] {
            assert!(plain.public_url_is_guessed(internal.parse().expect("addr")), "{internal}: no provider reaches it");
        }
        assert!(!plain.public_url_is_guessed("203.0.113.9:8443".parse().expect("addr")), "a public address is");

        let files = Config::parse_from(["teamflow-relay", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
        assert!(files.validate().is_ok());
        assert_eq!(files.public_url(bound), "https://0.0.0.0:8443");
        let mut http = files.clone();
        http.public_url = Some("http://relay.example.com".into());
        assert!(http.validate().is_err(), "a TLS relay cannot advertise http://");
        assert!(!http.public_url_is_guessed(bound), "told its public URL");

        let acme = Config::parse_from([
            "teamflow-relay",
            "--acme-domain",
            "relay.example.com",
            "--acme-domain",
            "teamflow.example.com",
            "--acme-email",
            "ops@example.com",
        ]);
        assert!(acme.validate().is_ok());
        assert_eq!(acme.tls.acme_directory, LETS_ENCRYPT_DIRECTORY);
        assert_eq!(acme.public_url(bound), "https://relay.example.com:8443");
        assert_eq!(acme.public_url("0.0.0.0:443".parse().expect("addr")), "https://relay.example.com");
        assert!(!acme.public_url_is_guessed(bound), "named by its ACME domain");

        assert!(
            Config::try_parse_from(["teamflow-relay", "--tls-cert", "c", "--tls-key", "k", "--acme-domain", "a.test"])
                .is_err(),
            "files and ACME exclude each other"
        );
        for bad in ["127.0.0.1", "-x.test", "a..test", "under_score.test"] {
            let config = Config::parse_from(["teamflow-relay", &format!("--acme-domain={bad}")]);
            assert!(config.validate().is_err(), "{bad}");
        }
        let orphan = Config::parse_from(["teamflow-relay", "--acme-email", "ops@example.com"]);
        assert!(orphan.validate().is_err(), "ACME settings without a domain are a mistake");
        let plain_directory =
            Config::parse_from(["teamflow-relay", "--acme-domain", "a.test", "--acme-directory", "http://ca.test/dir"]);
        assert!(plain_directory.validate().is_err());
    }

    /// The flags and variables an operator reads about, against the ones the relay takes: README's table
    /// names only real ones, and every flag is documented somewhere (the table, or the guide it belongs to).
    #[test]
    fn the_documented_flags_are_the_relays_flags() {
        use clap::CommandFactory;
        let readme = include_str!("../../README.md");
        let table = readme.split("## Relay options").nth(1).and_then(|rest| rest.split("\n## ").next()).expect("table");
        let command = Config::command();
        // Names, not aliases: the README gives each flag's own name.
        let longs: std::collections::HashSet<&str> = command.get_arguments().filter_map(|arg| arg.get_long()).collect();
        let envs: std::collections::HashSet<&str> =
            command.get_arguments().filter_map(|arg| arg.get_env()?.to_str()).collect();
        let named = |prefix: &'static str| {
            table
                .split('`')
                .skip(1)
                .step_by(2)
                .filter(move |code| code.starts_with(prefix) && !code.contains('*'))
                .map(|code| code.trim_start_matches("--").split([' ', '=']).next().unwrap_or_default().to_owned())
        };
        let flags: Vec<String> = named("--").collect();
        assert!(flags.len() > 30, "the table was read: {flags:?}");
        for flag in &flags {
            assert!(longs.contains(flag.as_str()), "README names --{flag}, which the relay does not take");
        }
        let variables: Vec<String> = named("TEAMFLOW_").collect();
        assert!(variables.len() > 30, "the variables were read: {variables:?}");
        for env in &variables {
            assert!(envs.contains(env.as_str()), "README names {env}, which the relay does not read");
        }

        let guides = [
            readme,
            include_str!("../../docs/sync.md"),
            include_str!("../../docs/realtime.md"),
            include_str!("../../docs/deploy.md"),
            include_str!("../../docs/scale-out.md"),
            include_str!("../../docs/p2p.md"),
        ]
        .concat();
        // `--name` followed by something that cannot continue a flag's name (`--foo` is not documented by
        // `--foo-bar`).
        let documented = |long: &str| {
            let flag = format!("--{long}");
            guides.match_indices(&flag).any(|(at, _)| {
                guides[at + flag.len()..].chars().next().is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'))
            })
        };
        for long in longs.iter().filter(|long| !matches!(**long, "help" | "version")) {
            assert!(documented(long), "--{long} is documented nowhere");
        }
        let ttl = Config::try_parse_from(["teamflow-relay", "--access-token-ttl", "60"]).expect("the documented flag");
        assert_eq!(ttl.limits.access_token_ttl_secs, 60);
    }

    /// README's numeric defaults are the relay's: a row's flags and its defaults, in the same order
    /// (`--rate-per-second`, `--rate-burst` | ... | 50, 200).
    #[test]
    fn the_documented_numeric_defaults_are_the_relays() {
        use clap::CommandFactory;
        let readme = include_str!("../../README.md");
        let table = readme.split("## Relay options").nth(1).and_then(|rest| rest.split("\n## ").next()).expect("table");
        let command = Config::command();
        let mut compared = 0;
        for row in table.lines().filter(|line| line.starts_with("| `--")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (flags, defaults) = (cells[1], cells[3]);
            let flags: Vec<&str> =
                flags.split(", ").map(|flag| flag.trim_matches('`').trim_start_matches("--")).collect();
            let defaults: Vec<&str> = defaults.split(", ").collect();
            if flags.len() != defaults.len() {
                continue;
            }
            for (flag, documented) in flags.iter().zip(defaults) {
                let Ok(documented) = documented.parse::<u64>() else { continue };
                let arg = command.get_arguments().find(|arg| arg.get_long() == Some(*flag)).expect("a flag");
                let default = arg.get_default_values().first().and_then(|value| value.to_str()?.parse::<u64>().ok());
                assert_eq!(default, Some(documented), "README's default for --{flag}");
                compared += 1;
            }
        }
        assert!(compared >= 25, "the defaults were read: {compared}");
    }

    #[test]
    fn database_and_nats_urls_are_checked_and_nats_goes_with_either_database() {
        let none = Config::parse_from(["teamflow-relay"]);
        assert_eq!((none.database_url.as_deref(), none.nats_url.as_deref()), (None, None));
        let both = Config::parse_from([
            "teamflow-relay",
            "--database-url",
            "postgres://relay@db.internal/teamflow",
            "--nats-url",
            "nats://nats.internal:4222",
        ]);
        assert!(both.validate().is_ok());
        let sqlite_url = Config::parse_from(["teamflow-relay", "--database-url", "sqlite://relay.db"]);
        let error = sqlite_url.validate().expect_err("only PostgreSQL is taken");
        assert!(error.contains("postgres://"), "{error}");
        // Instances sharing one data directory's SQLite.
        let shared_data_dir = Config::parse_from(["teamflow-relay", "--nats-url", "nats://nats.internal:4222"]);
        assert!(shared_data_dir.validate().is_ok());
        let bad_nats = Config::parse_from(["teamflow-relay", "--nats-url", "redis://nats.internal:6379"]);
        let error = bad_nats.validate().expect_err("not a NATS URL");
        assert!(error.contains("nats://"), "{error}");
    }
}
