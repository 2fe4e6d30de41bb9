//! Device certificates: the relay signs, for a signed-in user's device, that its libp2p peer id belongs to
//! that user with these roles in these teams, for `CERTIFICATE_TTL`. Devices renew while online; a device
//! that stays offline keeps syncing with peers until its certificate expires.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::SqlitePool;
use teamflow_protocol::UserId;
use teamflow_protocol::api::devices::{CertificateBody, DeviceCertificate, RelayIdentity, TeamGrant, certificate};

use crate::auth::SigningKeys;
use crate::error::ApiError;

/// How long a certificate is good for: long enough to work through a day offline, short enough that a
/// removed member's devices drop out soon.
pub const CERTIFICATE_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Holds the relay's key for certificates.
#[derive(Debug)]
pub struct CertificateIssuer {
    keys: SigningKeys,
}

impl CertificateIssuer {
    pub fn new(keys: SigningKeys) -> Self {
        Self { keys }
    }

    /// What peers need to check certificates.
    pub fn identity(&self) -> RelayIdentity {
        RelayIdentity { certificate_key: URL_SAFE_NO_PAD.encode(self.keys.public_key_bytes()) }
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
        Ok(certificate(body, |message| self.keys.sign(message)))
    }
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
