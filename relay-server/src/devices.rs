//! Device certificates: the relay signs, for a signed-in user's device, that its libp2p peer id belongs to
//! that user with these roles in these teams, for `CERTIFICATE_TTL`. Devices renew while online; a device
//! that stays offline keeps syncing with peers until its certificate expires.
//!
//! Every certificate issued is recorded: teammates find each other's devices through that list, and the
//! relay's libp2p node lets only certified devices hold a reservation or open a circuit.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::SqlitePool;
use teamflow_protocol::UserId;
use teamflow_protocol::api::devices::{
    CertificateBody, DeviceCertificate, RelayIdentity, RelayNode, TeamDevice, TeamDevices, TeamGrant, certificate,
};

use crate::access::Membership;
use crate::auth::SigningKeys;
use crate::error::ApiError;

/// How long a certificate is good for: long enough to work through a day offline, short enough that a
/// removed member's devices drop out soon.
pub const CERTIFICATE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The devices holding a current certificate, by libp2p peer id, with when it expires (Unix seconds): read
/// by the libp2p node on every reservation and circuit, so kept in memory.
#[derive(Debug, Clone, Default)]
pub struct Certified(Arc<RwLock<HashMap<String, i64>>>);

impl Certified {
    /// Whether `peer_id` holds a certificate valid at `now`.
    pub fn holds(&self, peer_id: &str, now: i64) -> bool {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(peer_id).is_some_and(|e| *e > now)
    }

    fn record(&self, peer_id: &str, expires_at: i64) {
        let mut certified = self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // Expired entries go whenever a new one comes, so the map stays the size of the live devices.
        certified.retain(|_, expires| *expires > now);
        certified.insert(peer_id.to_owned(), expires_at);
    }
}

/// Holds the relay's key for certificates and the record of certified devices.
#[derive(Debug)]
pub struct CertificateIssuer {
    keys: SigningKeys,
    certified: Certified,
    /// The relay's libp2p node as published, once it listens.
    node: RwLock<Option<RelayNode>>,
}

impl CertificateIssuer {
    /// Loads the devices whose certificates are still current.
    pub async fn load(keys: SigningKeys, db: &SqlitePool) -> Result<Self, sqlx::Error> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT peer_id, expires_at FROM device_certificates WHERE expires_at > ?")
                .bind(now)
                .fetch_all(db)
                .await?;
        let certified = Certified(Arc::new(RwLock::new(rows.into_iter().collect())));
        Ok(Self { keys, certified, node: RwLock::new(None) })
    }

    /// The live record of certified devices, for the libp2p node.
    pub fn certified(&self) -> Certified {
        self.certified.clone()
    }

    /// Publishes where the relay's libp2p node listens.
    pub fn set_node(&self, node: RelayNode) {
        *self.node.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(node);
    }

    /// What peers need to check certificates and to reach the relay's libp2p node.
    pub fn identity(&self) -> RelayIdentity {
        RelayIdentity {
            certificate_key: URL_SAFE_NO_PAD.encode(self.keys.public_key_bytes()),
            libp2p: self.node.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
        }
    }

    /// Certifies `peer_id` as a device of `user`, with the user's teams and roles as they are now.
    pub async fn issue(&self, db: &SqlitePool, user: UserId, peer_id: &str) -> Result<DeviceCertificate, ApiError> {
        validate_peer_id(peer_id)?;
        let me = crate::accounts::me(db, user).await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let ttl = i64::try_from(CERTIFICATE_TTL.as_secs()).unwrap_or(i64::MAX);
        let body = CertificateBody {
            user_id: user,
            peer_id: peer_id.to_owned(),
            teams: me.teams.into_iter().map(|t| TeamGrant { team_id: t.id, role: t.role }).collect(),
            issued_at: now,
            expires_at: now.saturating_add(ttl),
        };
        // Recorded before it is handed out, so the device can use the relay's circuit as soon as it has it.
        sqlx::query(
            "INSERT INTO device_certificates (peer_id, user_id, expires_at) VALUES (?, ?, ?)
             ON CONFLICT (peer_id) DO UPDATE SET user_id = excluded.user_id, expires_at = excluded.expires_at",
        )
        .bind(peer_id)
        .bind(user.to_string())
        .bind(body.expires_at)
        .execute(db)
        .await?;
        self.certified.record(peer_id, body.expires_at);
        Ok(certificate(body, |message| self.keys.sign(message)))
    }
}

/// The certified devices of the members of the caller's team.
pub async fn team_devices(db: &SqlitePool, member: &Membership) -> Result<TeamDevices, ApiError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT d.user_id, d.peer_id, d.expires_at FROM device_certificates d
         JOIN team_members m ON m.user_id = d.user_id
         WHERE m.team_id = ? AND d.expires_at > ? ORDER BY d.user_id, d.peer_id",
    )
    .bind(member.team().to_string())
    .bind(now)
    .fetch_all(db)
    .await?;
    let devices = rows
        .into_iter()
        .filter_map(|(user_id, peer_id, expires_at)| {
            Some(TeamDevice { user_id: user_id.parse().ok()?, peer_id, expires_at })
        })
        .collect();
    Ok(TeamDevices { devices })
}

/// A libp2p peer id as text: base58btc of a multihash (`12D3KooW...` for Ed25519 keys, `Qm...` for
/// SHA-256 ones), so 2 to 128 characters of the base58 alphabet that decode to a plausible multihash.
fn validate_peer_id(peer_id: &str) -> Result<(), ApiError> {
    let problem = "a libp2p peer id in base58 (like 12D3KooW...)";
    if peer_id.len() < 2 || peer_id.len() > 128 {
        return Err(ApiError::field("peer_id", problem));
    }
    let bytes = bs58::decode(peer_id).into_vec().map_err(|_| ApiError::field("peer_id", problem))?;
    // A multihash: code, digest length, digest.
    match bytes.as_slice() {
        [_, len, digest @ ..] if usize::from(*len) == digest.len() && !digest.is_empty() => Ok(()),
        _ => Err(ApiError::field("peer_id", problem)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_must_be_base58_multihashes() {
        // An Ed25519 libp2p peer id (identity multihash of the protobuf-encoded public key).
        assert!(validate_peer_id("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA").is_ok());
        for bad in ["", "x", "0OIl", "12D3KooW!", &"1".repeat(129), "2222"] {
            assert!(validate_peer_id(bad).is_err(), "{bad:?} accepted");
        }
    }
}
