//! Device certificates for peer-to-peer sync: the relay vouches that a device's libp2p peer id belongs to
//! a user with these roles in these teams, for a short while. Peers exchange certificates right after
//! connecting and verify them with the relay's published key before any document stream opens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{Role, TeamId, UserId};

/// What a signature covers is prefixed with this, so a certificate signature can never be taken for any
/// other signature made with the same key (the relay's access tokens, say).
const DOMAIN: &[u8] = b"teamflow-device-certificate-v1\n";

/// What a device's proof of possession covers is prefixed with this, so the signature can be taken for no
/// other message signed with the device key (libp2p's own handshakes, say).
const POSSESSION_DOMAIN: &[u8] = b"teamflow-device-possession-v1\n";

/// `POST /api/devices/nonce`: a fresh, short-lived nonce for the signed-in user's next certificate request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceNonce {
    pub nonce: String,
    /// Unix seconds; a request carrying it later is refused.
    pub expires_at: i64,
}

/// `POST /api/devices/certificate`: certify this device's peer id for the signed-in user, proving the device
/// holds the key behind the peer id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CertificateRequest {
    /// The device's libp2p peer id (base58, e.g. `12D3KooW...`); an Ed25519 key's (identity multihash).
    pub peer_id: String,
    /// From `POST /api/devices/nonce`.
    pub nonce: String,
    /// The device key's signature over `possession_bytes(nonce, user, peer_id)`, base64url without padding.
    pub signature: String,
}

/// The bytes a device signs with its key to prove it holds it: the domain, the relay's nonce, the user and
/// the peer id, so a proof serves one user, one device and one nonce only.
pub fn possession_bytes(nonce: &str, user: UserId, peer_id: &str) -> Vec<u8> {
    let mut bytes = POSSESSION_DOMAIN.to_vec();
    for part in [nonce, &user.to_string(), peer_id] {
        bytes.extend_from_slice(part.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

/// `GET /api/devices/revocations?since=<seq>`: the revocations of the caller's teams after `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revocations {
    pub revocations: Vec<Revocation>,
    /// What to pass as `since` next time.
    pub next: i64,
}

/// Every certificate of `user_id` with an epoch below `epoch` is void: its user was removed from a team or
/// given a lower role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revocation {
    pub user_id: UserId,
    pub epoch: i64,
}

/// One team a certificate admits its device to, and in what role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamGrant {
    pub team_id: TeamId,
    pub role: Role,
}

/// What the relay signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertificateBody {
    pub user_id: UserId,
    pub peer_id: String,
    pub teams: Vec<TeamGrant>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds; peers refuse the certificate from then on.
    pub expires_at: i64,
    /// The user's certificate epoch when it was issued. A removal or a lower role raises the epoch, and
    /// peers refuse a certificate older than the newest epoch they know of for its user (from the relay's
    /// revocation feed, or from a newer certificate of the same user).
    pub epoch: i64,
}

impl CertificateBody {
    /// The bytes the signature covers: the domain prefix, then the body as JSON (field order is fixed by
    /// the struct, so both ends produce the same bytes).
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut bytes = DOMAIN.to_vec();
        // Serializing plain fields to a Vec cannot fail.
        bytes.extend(serde_json::to_vec(self).unwrap_or_default());
        bytes
    }
}

/// A certificate as the relay issues it and peers present it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceCertificate {
    pub body: CertificateBody,
    /// Ed25519 signature over `body.signing_bytes()`, base64url without padding.
    pub signature: String,
}

/// `GET /api/devices/relay`: what peers need to check certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayIdentity {
    /// The relay's Ed25519 public key, base64url without padding.
    pub certificate_key: String,
    /// The relay's libp2p node (circuit relay for devices that cannot reach each other directly); absent
    /// when the relay runs without one.
    #[serde(default)]
    pub libp2p: Option<RelayNode>,
}

/// Where the relay's libp2p node listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RelayNode {
    /// Its libp2p peer id (base58).
    pub peer_id: String,
    /// Multiaddrs to reach it on, without the `/p2p/<peer id>` suffix.
    pub addresses: Vec<String>,
}

/// `GET /api/teams/{team_id}/devices`: the devices of the team's members that hold a current certificate,
/// so teammates can find each other through the relay's circuit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamDevices {
    pub devices: Vec<TeamDevice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamDevice {
    pub user_id: UserId,
    pub peer_id: String,
    /// When its certificate expires (Unix seconds).
    pub expires_at: i64,
}

/// Why a peer refuses a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("the certificate is not signed by this relay")]
    BadSignature,
    #[error("the certificate expired")]
    Expired,
    #[error("the certificate belongs to another device")]
    WrongPeer,
    #[error("the certificate shares no team with this device")]
    NoSharedTeam,
    #[error("the relay key is malformed")]
    BadKey,
    #[error("the certificate was revoked (its user was removed or given a lower role)")]
    Revoked,
}

impl DeviceCertificate {
    /// Checks that the relay whose key is `relay_key` signed this certificate, that it is still valid at
    /// `now` (Unix seconds), and that it was presented by `peer_id`. Answers the certified body.
    pub fn verify(&self, relay_key: &[u8; 32], peer_id: &str, now: i64) -> Result<&CertificateBody, CertificateError> {
        let key = VerifyingKey::from_bytes(relay_key).map_err(|_| CertificateError::BadKey)?;
        let signature = URL_SAFE_NO_PAD
            .decode(&self.signature)
            .ok()
            .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
            .map(|bytes| Signature::from_bytes(&bytes))
            .ok_or(CertificateError::BadSignature)?;
        key.verify_strict(&self.body.signing_bytes(), &signature).map_err(|_| CertificateError::BadSignature)?;
        if now >= self.body.expires_at {
            return Err(CertificateError::Expired);
        }
        if self.body.peer_id != peer_id {
            return Err(CertificateError::WrongPeer);
        }
        Ok(&self.body)
    }

    /// The teams both certificates admit their devices to (what two peers may sync), with this one's role.
    pub fn shared_teams<'a>(&'a self, other: &CertificateBody) -> impl Iterator<Item = &'a TeamGrant> {
        self.body.teams.iter().filter(|mine| other.teams.iter().any(|theirs| theirs.team_id == mine.team_id))
    }
}

/// Decodes a relay key published as base64url.
pub fn decode_key(encoded: &str) -> Result<[u8; 32], CertificateError> {
    URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(CertificateError::BadKey)
}

/// Signs `body` with `sign` (the relay's Ed25519 signing function).
pub fn certificate(body: CertificateBody, sign: impl FnOnce(&[u8]) -> [u8; 64]) -> DeviceCertificate {
    let signature = URL_SAFE_NO_PAD.encode(sign(&body.signing_bytes()));
    DeviceCertificate { body, signature }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer as _, SigningKey};

    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn body(peer: &str, teams: &[TeamId]) -> CertificateBody {
        CertificateBody {
            user_id: UserId::new(),
            peer_id: peer.into(),
            teams: teams.iter().map(|&team_id| TeamGrant { team_id, role: Role::Member }).collect(),
            issued_at: 1_000,
            expires_at: 2_000,
            epoch: 0,
        }
    }

    #[test]
    fn a_certificate_verifies_only_with_its_relay_its_peer_and_in_time() {
        let relay = key(1);
        let team = TeamId::new();
        let cert = certificate(body("peer-a", &[team]), |m| relay.sign(m).to_bytes());
        let public = relay.verifying_key().to_bytes();
        assert_eq!(cert.verify(&public, "peer-a", 1_500).expect("valid").teams.len(), 1);
        assert_eq!(
            cert.verify(&key(2).verifying_key().to_bytes(), "peer-a", 1_500),
            Err(CertificateError::BadSignature)
        );
        assert_eq!(cert.verify(&public, "peer-b", 1_500), Err(CertificateError::WrongPeer));
        assert_eq!(cert.verify(&public, "peer-a", 2_000), Err(CertificateError::Expired));
    }

    #[test]
    fn any_change_to_a_signed_certificate_breaks_it() {
        let relay = key(1);
        let public = relay.verifying_key().to_bytes();
        let cert = certificate(body("peer-a", &[TeamId::new()]), |m| relay.sign(m).to_bytes());
        let mut promoted = cert.clone();
        promoted.body.teams[0].role = Role::Owner;
        assert_eq!(promoted.verify(&public, "peer-a", 1_500), Err(CertificateError::BadSignature));
        let mut extended = cert.clone();
        extended.body.expires_at = i64::MAX;
        assert_eq!(extended.verify(&public, "peer-a", 1_500), Err(CertificateError::BadSignature));
        let mut garbage = cert;
        garbage.signature = "not base64!".into();
        assert_eq!(garbage.verify(&public, "peer-a", 1_500), Err(CertificateError::BadSignature));
    }

    #[test]
    fn shared_teams_are_the_intersection() {
        let (a, b, c) = (TeamId::new(), TeamId::new(), TeamId::new());
        let relay = key(1);
        let mine = certificate(body("p", &[a, b]), |m| relay.sign(m).to_bytes());
        let theirs = body("q", &[b, c]);
        assert_eq!(mine.shared_teams(&theirs).map(|g| g.team_id).collect::<Vec<_>>(), vec![b]);
        assert_eq!(mine.shared_teams(&body("r", &[c])).count(), 0);
        assert_eq!(decode_key("short"), Err(CertificateError::BadKey));
    }
}
