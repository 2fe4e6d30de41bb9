//! Rate limiting (tower_governor): per user when signed in, per peer address otherwise, and a tighter
//! per-address limit on sign-up, sign-in and refresh.
//!
//! `X-Forwarded-For` is believed only from a configured trusted proxy; anyone else could forge it.
//! IPv6 clients are counted by their /64: one subscriber usually holds a whole /64 and could otherwise
//! take a fresh address for every request.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use axum::response::{IntoResponse, Response};
use governor::clock::QuantaInstant;
use governor::middleware::NoOpMiddleware;
use teamflow_protocol::UserId;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;
use tower_governor::{GovernorError, GovernorLayer};

use crate::config::Config;
use crate::error::ApiError;
use crate::http::extract::VerifiedBearer;

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    User(UserId),
    Addr(IpAddr),
}

/// Derives the [`ClientKey`] of a request.
#[derive(Clone)]
pub struct ClientKeyExtractor {
    /// Count signed-in requests per user (from the token `verify_bearer` checked), else per address.
    by_user: bool,
    trusted_proxies: Arc<[IpAddr]>,
}

impl std::fmt::Debug for ClientKeyExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeyExtractor")
            .field("by_user", &self.by_user)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish()
    }
}

impl ClientKeyExtractor {
    fn client_addr(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_network(self.forwarded_client(peer, headers))
    }

    fn forwarded_client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        // The nearest hop not itself a trusted proxy is the client; anything further left is hearsay.
        let forwarded: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|ip| ip.trim().parse().ok())
            .collect();
        forwarded.into_iter().rev().find(|ip| !self.trusted_proxies.contains(ip)).unwrap_or(peer)
    }
}

impl KeyExtractor for ClientKeyExtractor {
    type Key = ClientKey;

    fn extract<T>(&self, req: &Request<T>) -> Result<Self::Key, GovernorError> {
        if self.by_user
            && let Some(user) = req.extensions().get::<VerifiedBearer>().and_then(VerifiedBearer::user)
        {
            return Ok(ClientKey::User(user));
        }
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
            .ok_or(GovernorError::UnableToExtractKey)?;
        Ok(ClientKey::Addr(self.client_addr(peer, req.headers())))
    }
}

/// The unit a client is counted as: an IPv4 address (an IPv4-mapped IPv6 one included), or an IPv6 /64.
pub fn client_network(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from_bits(v6.to_bits() & !((1u128 << 64) - 1))),
        },
    }
}

type Limiter = GovernorConfig<ClientKeyExtractor, NoOpMiddleware<QuantaInstant>>;
pub type Layer = GovernorLayer<ClientKeyExtractor, NoOpMiddleware<QuantaInstant>, Body>;

/// The relay's two limiters. Their state lives here so the relay can prune it while running.
#[derive(Clone)]
pub struct RateLimits {
    api: Arc<Limiter>,
    auth: Arc<Limiter>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

impl RateLimits {
    pub fn new(config: &Config) -> Result<Self, String> {
        let trusted: Arc<[IpAddr]> = config.trusted_proxies.clone().into();
        let limits = &config.limits;
        let api = GovernorConfigBuilder::default()
            .key_extractor(ClientKeyExtractor { by_user: true, trusted_proxies: trusted.clone() })
            .period(Duration::from_secs(1) / limits.rate_per_second)
            .burst_size(limits.rate_burst)
            .finish()
            .ok_or("the API rate limit must be positive")?;
        let auth = GovernorConfigBuilder::default()
            .key_extractor(ClientKeyExtractor { by_user: false, trusted_proxies: trusted })
            .period(Duration::from_secs(60) / limits.auth_rate_per_minute)
            .burst_size(limits.auth_rate_burst)
            .finish()
            .ok_or("the sign-in rate limit must be positive")?;
        Ok(Self { api: Arc::new(api), auth: Arc::new(auth) })
    }

    pub fn api_layer(&self) -> Layer {
        GovernorLayer::new(self.api.clone()).error_handler(refusal)
    }

    pub fn auth_layer(&self) -> Layer {
        GovernorLayer::new(self.auth.clone()).error_handler(refusal)
    }

    /// Forgets clients whose quota has refilled, so the limiter's memory tracks active clients only.
    pub fn prune(&self) {
        self.api.limiter().retain_recent();
        self.auth.limiter().retain_recent();
    }
}

fn refusal(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            ApiError::RateLimited { retry_after_secs: wait_time.max(1) }.into_response()
        }
        GovernorError::UnableToExtractKey => {
            ApiError::Internal("rate limiter found no peer address".into()).into_response()
        }
        GovernorError::Other { msg, .. } => ApiError::Internal(msg.unwrap_or_default()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extractor(trusted: &[&str]) -> ClientKeyExtractor {
        ClientKeyExtractor {
            by_user: false,
            trusted_proxies: trusted.iter().map(|s| s.parse().expect("ip")).collect::<Vec<_>>().into(),
        }
    }

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().expect("header"));
        h
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let peer: IpAddr = "203.0.113.9".parse().expect("ip");
        assert_eq!(extractor(&[]).client_addr(peer, &headers("1.2.3.4")), peer);
    }

    #[test]
    fn forwarded_for_from_a_trusted_proxy_names_the_nearest_untrusted_hop() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let x = extractor(&["10.0.0.1", "10.0.0.2"]);
        let spoofed_then_real = headers("6.6.6.6, 198.51.100.7, 10.0.0.2");
        assert_eq!(x.client_addr(proxy, &spoofed_then_real), "198.51.100.7".parse::<IpAddr>().expect("ip"));
        assert_eq!(x.client_addr(proxy, &HeaderMap::new()), proxy);
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let x = extractor(&[]);
        let key = |ip: &str| x.client_addr(ip.parse().expect("ip"), &HeaderMap::new());
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "one /64, one client");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::".parse::<IpAddr>().expect("ip"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"), "another /64 is another client");
        assert_eq!(key("::ffff:198.51.100.7"), "198.51.100.7".parse::<IpAddr>().expect("ip"));
        assert_eq!(key("198.51.100.7"), "198.51.100.7".parse::<IpAddr>().expect("ip"));
        let proxy = extractor(&["10.0.0.1"]);
        let forwarded = proxy.client_addr("10.0.0.1".parse().expect("ip"), &headers("2001:db8::5"));
        assert_eq!(forwarded, "2001:db8::".parse::<IpAddr>().expect("ip"), "forwarded addresses too");
    }
}
