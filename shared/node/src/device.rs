//! This device's identity for peer-to-peer sync: a persistent Ed25519 key (its libp2p peer id), kept in
//! the node's data directory, and the relay's certificate for it, renewed while online and kept for use
//! offline until it expires.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libp2p::identity::Keypair;
use reqwest::Method;
use teamflow_protocol::api::devices::{CertificateRequest, DeviceCertificate, DeviceNonce, possession_bytes};

use crate::{Node, NodeError};

const KEY_FILE: &str = "device.key";
const CERTIFICATE_KEY: &str = "device:certificate";

/// Loads the device key from `data_dir`, creating it (readable only by this user) on first use.
pub(crate) fn load_or_create_key(data_dir: &Path) -> Result<Keypair, NodeError> {
    let path = data_dir.join(KEY_FILE);
    let failed = |source: std::io::Error| NodeError::Credentials { path: path.clone(), source };
    match std::fs::read(&path) {
        Ok(mut secret) => Keypair::ed25519_from_bytes(&mut secret)
            .map_err(|e| NodeError::Corrupt(format!("device key {}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret: [u8; 32] = rand::random();
            write_private(&path, &secret).map_err(failed)?;
            Keypair::ed25519_from_bytes(&mut secret).map_err(|e| NodeError::Corrupt(e.to_string()))
        }
        Err(e) => Err(failed(e)),
    }
}

/// Writes beside and renames into place, with the file readable by this user only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let partial: PathBuf = path.with_extension("partial");
    {
        use std::io::Write as _;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(partial, path)
}

impl Node {
    /// This device's libp2p peer id (base58), the same across restarts.
    pub fn device_peer_id(&self) -> String {
        self.device_key.public().to_peer_id().to_base58()
    }

    /// This device's key, for the peer-to-peer swarm.
    pub fn device_keypair(&self) -> Keypair {
        self.device_key.clone()
    }

    /// The relay's certificate for this device: the kept one while it has more than half its life left,
    /// else a fresh one from the relay; while the relay is unreachable, the kept one until it expires.
    pub async fn device_certificate(&self) -> Result<DeviceCertificate, NodeError> {
        self.certificate(false).await
    }

    /// A fresh certificate from the relay now (the kept one only while the relay is unreachable): after
    /// the relay's revocation feed named this user, whose kept certificate no teammate accepts any more.
    pub(crate) async fn renew_device_certificate(&self) -> Result<DeviceCertificate, NodeError> {
        self.certificate(true).await
    }

    async fn certificate(&self, renew: bool) -> Result<DeviceCertificate, NodeError> {
        let user = self.user().await.ok_or(NodeError::SignedOut)?;
        let peer_id = self.device_peer_id();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // A kept certificate the relay's current key does not verify (an older format, a new relay key)
        // would be refused by every teammate: renew it.
        let relay_key = self.relay_certificate_key().await.ok();
        let kept = self.kept_view::<DeviceCertificate>(CERTIFICATE_KEY).await?.filter(|c| {
            c.body.peer_id == peer_id
                && c.body.user_id == user.id
                && relay_key.is_none_or(|key| c.verify(&key, &peer_id, now).is_ok())
        });
        // One that names other teams or roles than this device last read (a team created, joined or left,
        // a role changed) is renewed too: teammates share with a device only the teams its certificate
        // names, so a new team's documents would not sync device to device until the half-life.
        let grants_current = match &kept {
            Some(kept) => self.grants_match_teams(&kept.body.teams).await?,
            None => false,
        };
        if !renew
            && grants_current
            && let Some(kept) = &kept
            && now < kept.body.issued_at + (kept.body.expires_at - kept.body.issued_at) / 2
        {
            return Ok(kept.clone());
        }
        let asked = self.asking();
        match self.fresh_certificate(user.id, peer_id).await {
            Ok(fresh) => {
                // Not a team's: kept whatever was forgotten meanwhile.
                self.keep_view(CERTIFICATE_KEY, &fresh, asked).await?;
                Ok(fresh)
            }
            Err(NodeError::Api(e)) if e.is_transient() => match kept {
                Some(kept) if now < kept.body.expires_at => Ok(kept),
                _ => Err(NodeError::NotCached(e)),
            },
            Err(e) => Err(e),
        }
    }

    /// Whether `grants` are the teams and roles the device last read of this account (its cached list;
    /// with none cached, there is nothing to compare and the grants stand).
    async fn grants_match_teams(
        &self,
        grants: &[teamflow_protocol::api::devices::TeamGrant],
    ) -> Result<bool, NodeError> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT json FROM cached_teams").fetch_all(&self.db).await?;
        if rows.is_empty() {
            return Ok(true);
        }
        let mut known = Vec::with_capacity(rows.len());
        for json in &rows {
            let team: teamflow_protocol::api::auth::TeamMembership =
                serde_json::from_str(json).map_err(NodeError::corrupt)?;
            known.push((team.id, team.role));
        }
        let mut granted: Vec<_> = grants.iter().map(|g| (g.team_id, g.role)).collect();
        known.sort_by_key(|(team, _)| team.to_string());
        granted.sort_by_key(|(team, _)| team.to_string());
        Ok(known == granted)
    }

    /// Asks the relay for a certificate, proving this device holds its key: a signature over a fresh nonce.
    async fn fresh_certificate(
        &self,
        user: teamflow_protocol::UserId,
        peer_id: String,
    ) -> Result<DeviceCertificate, NodeError> {
        let nonce: DeviceNonce = self.authed(Method::POST, "/api/devices/nonce", None::<&()>).await?;
        let proof = self
            .device_key
            .sign(&possession_bytes(&nonce.nonce, user, &peer_id))
            .map_err(|e| NodeError::Corrupt(format!("device key cannot sign: {e}")))?;
        let request = CertificateRequest { peer_id, nonce: nonce.nonce, signature: URL_SAFE_NO_PAD.encode(proof) };
        self.authed(Method::POST, "/api/devices/certificate", Some(&request)).await
    }

    /// The relay's certificate key (the last known one while offline), to check peers' certificates.
    pub async fn relay_certificate_key(&self) -> Result<[u8; 32], NodeError> {
        certificate_key(&self.relay_identity().await?)
    }
}

/// The relay's certificate key out of what it publishes.
pub(crate) fn certificate_key(
    identity: &teamflow_protocol::api::devices::RelayIdentity,
) -> Result<[u8; 32], NodeError> {
    teamflow_protocol::api::devices::decode_key(&identity.certificate_key)
        .map_err(|e| NodeError::Corrupt(format!("relay key: {e}")))
}
