//! Device certificates: the relay signs, for a signed-in user's device that proves it holds its key, that
//! its libp2p peer id belongs to that user with these roles in these teams, for `CERTIFICATE_TTL`. Devices
//! renew while online; a device that stays offline keeps syncing with peers until its certificate expires.
//!
//! Every certificate carries its user's epoch. Removing a member or lowering their role raises the epoch
//! in the same transaction and appends a row to the revocation feed (`GET /api/devices/revocations`),
//! which teammates' devices follow: they drop every certificate of that user older than the epoch, and a
//! newer certificate of a user voids the older ones wherever it is seen.
//!
//! Every certificate issued is recorded: teammates find each other's devices through that list, and the
//! relay's libp2p node lets only devices with a current, unrevoked certificate hold a reservation, and
//! connects only two devices whose certificates share a team.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use sqlx::AnyConnection;
use teamflow_protocol::api::devices::{
    CertificateBody, CertificateRequest, DeviceCertificate, DeviceNonce, RelayIdentity, RelayNode, Revocation,
    Revocations, TeamDevice, TeamDevices, TeamGrant, certificate, possession_bytes,
};
use teamflow_protocol::{Role, TeamId, UserId};

use crate::access::Membership;
use crate::auth::SigningKeys;
use crate::db::{Db, begin_write};
use crate::error::ApiError;

/// How long a certificate is good for: a device offline keeps syncing with teammates this long, and a
/// removed member's device offline from the relay's revocation feed is dropped at the latest after it.
pub const CERTIFICATE_TTL: Duration = Duration::from_secs(60 * 60);

/// Devices a user may hold current certificates for at once; renewing one of them always works.
pub const MAX_DEVICES_PER_USER: i64 = 16;

/// How long a nonce from `POST /api/devices/nonce` may be used.
const NONCE_TTL: Duration = Duration::from_secs(120);

/// The most revocations one answer of the feed carries; the device asks again from `next`.
const REVOCATIONS_PER_PAGE: i64 = 500;

/// What the relay's libp2p node knows of a certified device.
#[derive(Debug, Clone)]
struct Entry {
    user: UserId,
    expires_at: i64,
    epoch: i64,
    teams: Vec<TeamId>,
}

#[derive(Debug, Default)]
struct Devices {
    by_peer: HashMap<String, Entry>,
    /// Each user's current epoch, where raised: an entry below it is revoked.
    epochs: HashMap<UserId, i64>,
    /// Certificates recorded here since the last reload began, each with the number of its recording: a
    /// reload whose database read began before one may lack it, and keeps it.
    recent: HashMap<String, (u64, Entry)>,
    /// How many certificates were recorded here.
    recorded: u64,
}

/// The devices holding a current certificate, by libp2p peer id: read by the libp2p node on every
/// reservation and circuit, so kept in memory.
#[derive(Debug, Clone, Default)]
pub struct Certified(Arc<RwLock<Devices>>);

impl Certified {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Devices> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Devices> {
        self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn current(devices: &Devices, peer_id: &str, now: i64) -> Option<Entry> {
        let entry = devices.by_peer.get(peer_id)?;
        let floor = devices.epochs.get(&entry.user).copied().unwrap_or(0);
        (entry.expires_at > now && entry.epoch >= floor).then(|| entry.clone())
    }

    /// Whether `peer_id` holds a certificate valid at `now` and not revoked.
    pub fn holds(&self, peer_id: &str, now: i64) -> bool {
        Self::current(&self.read(), peer_id, now).is_some()
    }

    /// Whether both devices hold current certificates naming a common team: what a circuit between them
    /// needs.
    pub fn share_a_team(&self, a: &str, b: &str, now: i64) -> bool {
        let devices = self.read();
        let (Some(a), Some(b)) = (Self::current(&devices, a, now), Self::current(&devices, b, now)) else {
            return false;
        };
        a.teams.iter().any(|team| b.teams.contains(team))
    }

    fn record(&self, peer_id: &str, entry: Entry) {
        let mut devices = self.write();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // Expired entries go whenever a new one comes, so the map stays the size of the live devices.
        devices.by_peer.retain(|_, e| e.expires_at > now);
        devices.recorded += 1;
        let recorded = devices.recorded;
        devices.recent.insert(peer_id.to_owned(), (recorded, entry.clone()));
        devices.by_peer.insert(peer_id.to_owned(), entry);
    }

    /// Where the record stands, before a reload reads the database.
    fn mark(&self) -> u64 {
        self.read().recorded
    }

    /// Takes what a reload read from the database, whose read began at `mark`. What happened here since
    /// is kept: a certificate recorded after the read began (it committed after, or just before, the read,
    /// which may lack it), and epochs raised (they only rise). Without this, a certificate issued here
    /// would be refused by the circuit until the next reload.
    fn replace(&self, mut read: Devices, mark: u64) {
        let mut devices = self.write();
        devices.recent.retain(|_, (recorded, _)| *recorded > mark);
        for (peer_id, (_, entry)) in &devices.recent {
            let newer = read.by_peer.get(peer_id).is_none_or(|stored| stored.expires_at < entry.expires_at);
            if newer {
                read.by_peer.insert(peer_id.clone(), entry.clone());
            }
        }
        for (user, epoch) in &devices.epochs {
            let floor = read.epochs.entry(*user).or_default();
            *floor = (*floor).max(*epoch);
        }
        read.by_peer.retain(|_, e| read.epochs.get(&e.user).is_none_or(|floor| e.epoch >= *floor));
        read.recent = std::mem::take(&mut devices.recent);
        read.recorded = devices.recorded;
        *devices = read;
    }

    /// Learns that `user`'s epoch is now `epoch`: their older certificates stop counting.
    fn raise(&self, user: UserId, epoch: i64) {
        let mut devices = self.write();
        let floor = devices.epochs.entry(user).or_default();
        *floor = (*floor).max(epoch);
        let floor = *floor;
        devices.by_peer.retain(|_, e| e.user != user || e.epoch >= floor);
    }
}

/// The devices whose certificates are still current, and the users' epochs, as the database has them.
async fn read_devices(db: &Db) -> Result<Devices, sqlx::Error> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let rows: Vec<(String, String, i64, i64, String)> = sqlx::query_as(
        "SELECT peer_id, user_id, expires_at, epoch, teams FROM device_certificates WHERE expires_at > $1",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let epochs: Vec<(String, i64)> =
        sqlx::query_as("SELECT user_id, epoch FROM device_epochs").fetch_all(db.pool()).await?;
    let mut devices = Devices::default();
    for (peer_id, user, expires_at, epoch, teams) in rows {
        let (Ok(user), Ok(teams)) = (user.parse(), serde_json::from_str(&teams)) else { continue };
        devices.by_peer.insert(peer_id, Entry { user, expires_at, epoch, teams });
    }
    devices.epochs = epochs.into_iter().filter_map(|(user, epoch)| Some((user.parse().ok()?, epoch))).collect();
    // A certificate of an epoch its user has since left is void.
    devices.by_peer.retain(|_, e| devices.epochs.get(&e.user).is_none_or(|floor| e.epoch >= *floor));
    Ok(devices)
}

/// Holds the relay's key for certificates and the record of certified devices.
#[derive(Debug)]
pub struct CertificateIssuer {
    keys: SigningKeys,
    certified: Certified,
    /// Authenticates the nonces the relay hands out (they live two minutes).
    nonce_key: [u8; 32],
    /// The relay's libp2p node as published, once it listens.
    node: RwLock<Option<RelayNode>>,
}

impl CertificateIssuer {
    /// Loads the devices whose certificates are still current, and the users' epochs.
    pub async fn load(keys: SigningKeys, db: &Db) -> Result<Self, sqlx::Error> {
        let certified = Certified(Arc::new(RwLock::new(read_devices(db).await?)));
        // Derived from the relay's key, as the invitation secret is: every instance sharing the key takes
        // the nonces any of them hands out (the nonce and the certificate request may reach different ones).
        let signature = keys.sign(b"teamflow-device-nonce-v1");
        let nonce_key = Sha256::digest(signature).into();
        Ok(Self { keys, certified, nonce_key, node: RwLock::new(None) })
    }

    /// Reads the record again from the database: certificates issued and epochs raised by other instances
    /// sharing it show here (and what this instance recorded meanwhile stays).
    pub async fn reload(&self, db: &Db) -> Result<(), sqlx::Error> {
        let mark = self.certified.mark();
        let devices = read_devices(db).await?;
        self.certified.replace(devices, mark);
        Ok(())
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

    /// A nonce for `user`'s next certificate request: its expiry, 16 random bytes and a MAC over both and
    /// the user, so the relay keeps no state for it.
    pub fn nonce(&self, user: UserId) -> DeviceNonce {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let expires_at = now.saturating_add(i64::try_from(NONCE_TTL.as_secs()).unwrap_or(i64::MAX));
        let random: [u8; 16] = rand::random();
        let mut bytes = expires_at.to_be_bytes().to_vec();
        bytes.extend_from_slice(&random);
        let mac = self.nonce_mac(user, &bytes);
        bytes.extend_from_slice(&mac);
        DeviceNonce { nonce: URL_SAFE_NO_PAD.encode(bytes), expires_at }
    }

    fn nonce_mac(&self, user: UserId, bytes: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.nonce_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(user.to_string().as_bytes());
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// Whether `nonce` is one this relay gave `user` and has not expired.
    fn nonce_is_valid(&self, user: UserId, nonce: &str, now: i64) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        let Some((signed, mac)) = bytes.split_at_checked(24) else { return false };
        let Ok(expires_at) = <[u8; 8]>::try_from(&signed[..8]).map(i64::from_be_bytes) else { return false };
        let mut check = <Hmac<Sha256> as Mac>::new_from_slice(&self.nonce_key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        check.update(user.to_string().as_bytes());
        check.update(signed);
        now < expires_at && check.verify_slice(mac).is_ok()
    }

    /// Certifies the device of the request as a device of `user`, with the user's teams, roles and epoch as
    /// they are now. The device must prove it holds the key behind its peer id (a signature over a nonce
    /// from this relay); a peer id once bound to a user is never bound to another; a user holds at most
    /// `MAX_DEVICES_PER_USER` current certificates.
    pub async fn issue(
        &self,
        db: &Db,
        user: UserId,
        request: &CertificateRequest,
    ) -> Result<DeviceCertificate, ApiError> {
        let peer_id = request.peer_id.as_str();
        let device_key = validate_peer_id(peer_id)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if !self.nonce_is_valid(user, &request.nonce, now) {
            return Err(ApiError::field("nonce", "not a current nonce from POST /api/devices/nonce for this account"));
        }
        let signature = URL_SAFE_NO_PAD.decode(&request.signature).unwrap_or_default();
        if !device_key.verify(&possession_bytes(&request.nonce, user, peer_id), &signature) {
            return Err(ApiError::field("signature", "not the device key's signature over the nonce"));
        }
        let ttl = i64::try_from(CERTIFICATE_TTL.as_secs()).unwrap_or(i64::MAX);
        let mut tx = begin_write(db).await?;
        // The account's lock: its device count below, and its deletion, are decided one at a time.
        if !db.lock_user(&mut tx, &user.to_string()).await? {
            return Err(ApiError::Unauthorized("the account no longer exists"));
        }
        let bound: Option<String> = sqlx::query_scalar("SELECT user_id FROM device_certificates WHERE peer_id = $1")
            .bind(peer_id)
            .fetch_optional(&mut *tx)
            .await?;
        match bound {
            Some(owner) if owner != user.to_string() => {
                return Err(ApiError::Conflict("this device is bound to another account; it needs a key of its own"));
            }
            Some(_) => {}
            None => {
                let current: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM device_certificates WHERE user_id = $1 AND expires_at > $2",
                )
                .bind(user.to_string())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                if current >= MAX_DEVICES_PER_USER {
                    return Err(ApiError::Conflict("too many devices hold certificates for this account"));
                }
            }
        }
        let epoch = epoch_of(&mut tx, user).await?;
        let grants: Vec<(String, String)> =
            sqlx::query_as("SELECT team_id, role FROM team_members WHERE user_id = $1 ORDER BY team_id")
                .bind(user.to_string())
                .fetch_all(&mut *tx)
                .await?;
        let teams = grants
            .into_iter()
            .map(|(team, role)| {
                let team_id = team.parse().map_err(|e| ApiError::Internal(format!("team id in database: {e}")))?;
                let role = Role::parse(&role).ok_or_else(|| ApiError::Internal(format!("role in database: {role}")))?;
                Ok(TeamGrant { team_id, role })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let body = CertificateBody {
            user_id: user,
            peer_id: peer_id.to_owned(),
            teams,
            issued_at: now,
            expires_at: now.saturating_add(ttl),
            epoch,
        };
        let team_ids: Vec<TeamId> = body.teams.iter().map(|g| g.team_id).collect();
        let teams_json = serde_json::to_string(&team_ids).map_err(|e| ApiError::Internal(e.to_string()))?;
        // Recorded before it is handed out, so the device can use the relay's circuit as soon as it has it.
        let recorded = sqlx::query(
            "INSERT INTO device_certificates (peer_id, user_id, expires_at, epoch, teams) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (peer_id) DO UPDATE SET expires_at = excluded.expires_at, epoch = excluded.epoch,
                 teams = excluded.teams
             WHERE device_certificates.user_id = excluded.user_id",
        )
        .bind(peer_id)
        .bind(user.to_string())
        .bind(body.expires_at)
        .bind(epoch)
        .bind(&teams_json)
        .execute(&mut *tx)
        .await?;
        // Two accounts proving the same key at once both found it unbound; the first to write keeps it.
        if recorded.rows_affected() != 1 {
            return Err(ApiError::Conflict("this device is bound to another account; it needs a key of its own"));
        }
        tx.commit().await?;
        self.certified.record(peer_id, Entry { user, expires_at: body.expires_at, epoch, teams: team_ids });
        Ok(certificate(body, |message| self.keys.sign(message)))
    }

    /// Catches the circuit's record up with `user`'s epoch after a committed membership change (the
    /// relay's libp2p node calls it for every change on the access feed).
    pub async fn refresh(&self, db: &Db, user: UserId) -> Result<(), sqlx::Error> {
        let epoch: Option<i64> = sqlx::query_scalar("SELECT epoch FROM device_epochs WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(db.pool())
            .await?;
        if let Some(epoch) = epoch {
            self.certified.raise(user, epoch);
        }
        Ok(())
    }
}

impl CertificateIssuer {
    /// Reloads every user's epoch (after the access feed lagged and changes may have been missed).
    pub async fn refresh_all(&self, db: &Db) -> Result<(), sqlx::Error> {
        let epochs: Vec<(String, i64)> =
            sqlx::query_as("SELECT user_id, epoch FROM device_epochs").fetch_all(db.pool()).await?;
        for (user, epoch) in epochs {
            if let Ok(user) = user.parse() {
                self.certified.raise(user, epoch);
            }
        }
        Ok(())
    }
}

/// The user's current certificate epoch.
async fn epoch_of(tx: &mut AnyConnection, user: UserId) -> Result<i64, sqlx::Error> {
    let epoch: Option<i64> = sqlx::query_scalar("SELECT epoch FROM device_epochs WHERE user_id = $1")
        .bind(user.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    Ok(epoch.unwrap_or(0))
}

/// Inside the transaction that removes `user` from `team` or lowers their role there: raises the user's
/// epoch, voiding every certificate issued before, and tells the team's devices through the feed.
pub(crate) async fn revoke(tx: &mut AnyConnection, user: UserId, team: TeamId) -> Result<(), sqlx::Error> {
    let epoch: i64 = sqlx::query_scalar(
        "INSERT INTO device_epochs (user_id, epoch) VALUES ($1, 1)
         ON CONFLICT (user_id) DO UPDATE SET epoch = device_epochs.epoch + 1 RETURNING epoch",
    )
    .bind(user.to_string())
    .fetch_one(&mut *tx)
    .await?;
    crate::db::serialise_in(&mut *tx, crate::db::Serial::Revocations).await?;
    sqlx::query("INSERT INTO device_revocations (user_id, team_id, epoch, revoked_at) VALUES ($1, $2, $3, $4)")
        .bind(user.to_string())
        .bind(team.to_string())
        .bind(epoch)
        .bind(time::OffsetDateTime::now_utc().unix_timestamp())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The revocations after `since` that `user`'s devices must know of: those of the teams the user is in, and
/// the user's own (so their devices renew at once). Rows older than a certificate's lifetime are left out:
/// every certificate they void has expired.
pub async fn revocations(db: &Db, user: UserId, since: i64) -> Result<Revocations, ApiError> {
    let ttl = i64::try_from(CERTIFICATE_TTL.as_secs()).unwrap_or(i64::MAX);
    let oldest = time::OffsetDateTime::now_utc().unix_timestamp().saturating_sub(ttl);
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(
        "SELECT r.seq, r.user_id, r.epoch FROM device_revocations r
         WHERE r.seq > $1 AND r.revoked_at >= $2
           AND (r.user_id = $3 OR r.team_id IN (SELECT team_id FROM team_members WHERE user_id = $3))
         ORDER BY r.seq LIMIT $4",
    )
    .bind(since)
    .bind(oldest)
    .bind(user.to_string())
    .bind(REVOCATIONS_PER_PAGE)
    .fetch_all(db.pool())
    .await?;
    let next = rows.last().map_or(since, |(seq, _, _)| *seq);
    let revocations = rows
        .into_iter()
        .filter_map(|(_, user, epoch)| Some(Revocation { user_id: user.parse().ok()?, epoch }))
        .collect();
    Ok(Revocations { revocations, next })
}

/// The devices of the members of the caller's team holding a current, unrevoked certificate.
pub async fn team_devices(db: &Db, member: &Membership) -> Result<TeamDevices, ApiError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT d.user_id, d.peer_id, d.expires_at FROM device_certificates d
         JOIN team_members m ON m.user_id = d.user_id
         LEFT JOIN device_epochs e ON e.user_id = d.user_id
         WHERE m.team_id = $1 AND d.expires_at > $2 AND d.epoch >= COALESCE(e.epoch, 0)
         ORDER BY d.user_id, d.peer_id",
    )
    .bind(member.team().to_string())
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let devices = rows
        .into_iter()
        .filter_map(|(user_id, peer_id, expires_at)| {
            Some(TeamDevice { user_id: user_id.parse().ok()?, peer_id, expires_at })
        })
        .collect();
    Ok(TeamDevices { devices })
}

/// A libp2p peer id as text whose key can check a signature: base58btc of an identity multihash of the
/// public key (`12D3KooW...` for Ed25519 keys). Answers that key.
fn validate_peer_id(peer_id: &str) -> Result<libp2p::identity::PublicKey, ApiError> {
    let problem = "a libp2p peer id of an Ed25519 key in base58 (like 12D3KooW...)";
    if peer_id.len() < 2 || peer_id.len() > 128 {
        return Err(ApiError::field("peer_id", problem));
    }
    let bytes = bs58::decode(peer_id).into_vec().map_err(|_| ApiError::field("peer_id", problem))?;
    // An identity multihash (code 0) carries the key itself: code, digest length, the protobuf-encoded key.
    // A hashed peer id (`Qm...`) names a key the relay cannot check a proof of possession against.
    match bytes.as_slice() {
        [0, len, key @ ..] if usize::from(*len) == key.len() && !key.is_empty() => {
            libp2p::identity::PublicKey::try_decode_protobuf(key).map_err(|_| ApiError::field("peer_id", problem))
        }
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
        let hashed = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";
        for bad in ["", "x", "0OIl", "12D3KooW!", &"1".repeat(129), "2222", hashed] {
            assert!(validate_peer_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    /// A reload reads the database, then replaces the record: a certificate issued here between the two
    /// (committed after the read) must not drop out until the next reload, nor a raised epoch fall back.
    #[test]
    fn a_reload_keeps_what_was_recorded_here_after_its_read_began() {
        let certified = Certified::default();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let (alice, bob) = (UserId::new(), UserId::new());
        let entry = |user, epoch| Entry { user, expires_at: now + 3600, epoch, teams: Vec::new() };
        certified.record("bob-laptop", entry(bob, 0));

        let mark = certified.mark();
        // The read: it has bob's laptop, and none of what follows.
        let mut read = Devices::default();
        read.by_peer.insert("bob-laptop".into(), entry(bob, 0));
        certified.record("alice-phone", entry(alice, 0));
        certified.raise(bob, 1);
        certified.replace(read, mark);
        assert!(certified.holds("alice-phone", now), "issued here after the read began: kept");
        assert!(!certified.holds("bob-laptop", now), "bob's epoch was raised here: it stays raised");

        // A reload whose read began after the issue takes the database's word: the certificate is gone there.
        let mark = certified.mark();
        certified.replace(Devices::default(), mark);
        assert!(!certified.holds("alice-phone", now), "a later read without it removes it");
    }
}
