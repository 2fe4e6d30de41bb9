//! Access tokens: short-lived EdDSA JWTs with `sub`, `iss`, `aud`, `exp` and `sid` (the sign-in, i.e. refresh
//! family, it was issued for) all required, so ending a sign-in ends exactly its tokens and connections. Each
//! token names its signing key (`kid`), so instances sharing the keys in the database verify each other's
//! tokens and keys rotate without signing anyone out (`keyring`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use teamflow_protocol::UserId;

use std::collections::HashMap;

use super::keyring::{StoredKey, verifies_until};
use super::{KeyError, SigningKeys};
use crate::db::Db;

/// Every access token names this audience; a token minted for another service is refused.
pub const AUDIENCE: &str = "teamflow";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    /// The session (refresh family) the token belongs to.
    #[serde(default)]
    pub sid: String,
}

/// What a verified access token says: whose it is, which sign-in it belongs to, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub user: UserId,
    pub session: String,
    /// Unix seconds.
    pub expires_at: u64,
}

impl AccessToken {
    /// How long until it expires (zero if it already has).
    pub fn remaining(&self) -> Duration {
        Duration::from_secs(self.expires_at.saturating_sub(unix_now()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
    /// Well-formed and unexpired, but its sign-in has ended (signed out, password changed, disabled).
    #[error("the access token's sign-in has ended")]
    Ended,
}

pub struct TokenService {
    ring: std::sync::RwLock<Ring>,
    /// Where the keys come from on a relay (reloaded from it); `None` for a service over one key.
    source: Option<Db>,
    /// When the keys were last reloaded because a token named a key this instance did not know: at most
    /// one such reload per `UNKNOWN_KID_RELOAD`, so made-up key ids cannot keep the database busy.
    unknown_reload: tokio::sync::Mutex<Option<std::time::Instant>>,
    reloading: tokio::sync::Mutex<()>,
    validation: Validation,
    issuer: String,
    ttl: Duration,
}

/// The keys one instance knows: the one it signs with and every one it still accepts.
struct Ring {
    signer: (String, EncodingKey),
    /// By key id: the key and until when (Unix ms) it verifies, `None` for as long as it is not superseded.
    verifiers: HashMap<String, (DecodingKey, Option<i64>)>,
    /// The identity key's id: tokens issued before keys had ids name no key and were signed with it.
    identity: String,
}

impl Ring {
    fn one(keys: &SigningKeys) -> Self {
        let kid = keys.kid();
        let decoding = DecodingKey::from_ed_der(&keys.public_key_bytes());
        Self {
            signer: (kid.clone(), EncodingKey::from_ed_der(&keys.pkcs8_der())),
            verifiers: HashMap::from([(kid.clone(), (decoding, None))]),
            identity: kid,
        }
    }

    /// `stored` oldest first, as `keyring::token_keys` answers; the newest signs.
    fn from_stored(stored: &[StoredKey], identity: String, ttl: Duration) -> Option<Self> {
        let newest = stored.last()?;
        let verifiers = stored
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let until = verifies_until(key, stored.get(i + 1), ttl);
                (key.kid.clone(), (DecodingKey::from_ed_der(&key.key.public_key_bytes()), until))
            })
            .collect();
        Some(Self {
            signer: (newest.kid.clone(), EncodingKey::from_ed_der(&newest.key.pkcs8_der())),
            verifiers,
            identity,
        })
    }
}

/// Seconds of clock difference tolerated on `exp`, either way.
const VALIDATION_LEEWAY: u64 = 5;

/// The shortest time between two reloads asked for by unknown key ids.
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(1);

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("issuer", &self.issuer).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn validation(issuer: &str) -> Validation {
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_required_spec_claims(&["sub", "iss", "aud", "exp"]);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[AUDIENCE]);
    validation.leeway = VALIDATION_LEEWAY;
    validation
}

impl TokenService {
    /// A service that signs and verifies with `keys` alone (tests, tools).
    pub fn new(keys: &SigningKeys, issuer: String, ttl: Duration) -> Self {
        Self {
            ring: std::sync::RwLock::new(Ring::one(keys)),
            source: None,
            unknown_reload: tokio::sync::Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
            validation: validation(&issuer),
            issuer,
            ttl,
        }
    }

    /// The relay's service over the keys in `db` (`keyring`), whose identity key is `identity`.
    pub async fn from_database(
        db: Db,
        identity: &SigningKeys,
        issuer: String,
        ttl: Duration,
    ) -> Result<Self, KeyError> {
        let stored = super::keyring::token_keys(&db).await?;
        let ring = Ring::from_stored(&stored, identity.kid(), ttl).unwrap_or_else(|| Ring::one(identity));
        Ok(Self {
            ring: std::sync::RwLock::new(ring),
            source: Some(db),
            unknown_reload: tokio::sync::Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
            validation: validation(&issuer),
            issuer,
            ttl,
        })
    }

    /// Reads the keys from the database again (a rotation by any instance shows here).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let Some(db) = &self.source else { return Ok(()) };
        // One reload at a time, so a slow one that read the keys before a rotation cannot replace the ring
        // a later one built after it.
        let _one_at_a_time = self.reloading.lock().await;
        let stored = super::keyring::token_keys(db).await?;
        let identity = self.read_ring().identity.clone();
        if let Some(ring) = Ring::from_stored(&stored, identity, self.ttl) {
            *self.ring.write().unwrap_or_else(std::sync::PoisonError::into_inner) = ring;
        }
        Ok(())
    }

    /// Reloads the keys every half `RELOAD_GRACE` until `shutdown`, so a rotation made on another instance
    /// is signed with here well within the grace the superseded key is given.
    pub fn spawn_reload(
        self: std::sync::Arc<Self>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(super::keyring::RELOAD_GRACE / 2);
            every.tick().await;
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    _ = every.tick() => {}
                }
                if let Err(e) = self.reload().await {
                    tracing::warn!(error = %e, "could not reload the signing keys");
                }
            }
        })
    }

    fn read_ring(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        // A panic while the ring was written leaves a whole ring (it is replaced in one assignment).
        self.ring.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The id of the key tokens are signed with now.
    pub fn signing_kid(&self) -> String {
        self.read_ring().signer.0.clone()
    }

    /// A fresh access token for `user`'s sign-in `session`.
    pub fn issue(&self, user: UserId, session: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let now = unix_now();
        self.sign(&AccessClaims {
            sub: user.to_string(),
            iss: self.issuer.clone(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs(),
            sid: session.to_owned(),
        })
    }

    /// Signs arbitrary claims with the newest key, naming it. Tests use it to mint expired or odd tokens.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, jsonwebtoken::errors::Error> {
        let ring = self.read_ring();
        let header = Header { kid: Some(ring.signer.0.clone()), ..Header::new(Algorithm::EdDSA) };
        jsonwebtoken::encode(&header, claims, &ring.signer.1)
    }

    /// What a token says, if its signature (by a key this relay still accepts), issuer, audience and expiry
    /// all check out and it names a session. Whether that session has since ended is `LiveSessions::check`'s
    /// question. A token naming a key this instance does not know yet (another instance rotated) reloads
    /// the keys once and tries again.
    pub async fn verify(&self, token: &str) -> Result<AccessToken, TokenError> {
        match self.verify_known(token) {
            Err(Unknown::Kid) if self.reload_for_unknown_kid().await => self.verify_known(token),
            other => other,
        }
        .map_err(|e| match e {
            Unknown::Kid => TokenError::Invalid,
            Unknown::Token(e) => e,
        })
    }

    /// Reloads the keys unless that was done less than `UNKNOWN_KID_RELOAD` ago; answers whether it did.
    async fn reload_for_unknown_kid(&self) -> bool {
        if self.source.is_none() {
            return false;
        }
        let mut last = self.unknown_reload.lock().await;
        if last.is_some_and(|at| at.elapsed() < UNKNOWN_KID_RELOAD) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        match self.reload().await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not reload the signing keys");
                false
            }
        }
    }

    fn verify_known(&self, token: &str) -> Result<AccessToken, Unknown> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| Unknown::Token(TokenError::Invalid))?;
        let data = {
            let ring = self.read_ring();
            let kid = header.kid.as_ref().unwrap_or(&ring.identity);
            let (key, until) = ring.verifiers.get(kid).ok_or(Unknown::Kid)?;
            if until.is_some_and(|until| crate::db::now_ms() >= until) {
                return Err(Unknown::Token(TokenError::Invalid));
            }
            jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Unknown::Token(TokenError::Expired),
                _ => Unknown::Token(TokenError::Invalid),
            })?
        };
        let claims = data.claims;
        // No token this relay issues lives longer than its lifetime: one that claims to was minted elsewhere
        // (with a leaked key, say) and must not outlive the key's retirement on a long-lived connection.
        let latest_exp = unix_now().saturating_add(self.ttl.as_secs()).saturating_add(VALIDATION_LEEWAY);
        if claims.exp > latest_exp {
            return Err(Unknown::Token(TokenError::Invalid));
        }
        if claims.sid.is_empty() {
            return Err(Unknown::Token(TokenError::Invalid));
        }
        let user = claims.sub.parse().map_err(|_| Unknown::Token(TokenError::Invalid))?;
        Ok(AccessToken { user, session: claims.sid, expires_at: claims.exp })
    }
}

/// Why `verify_known` refused: a key this instance does not know (worth a reload), or anything else.
enum Unknown {
    Kid,
    Token(TokenError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(dir: &std::path::Path, issuer: &str) -> TokenService {
        let keys = SigningKeys::load_or_create(dir).expect("keys");
        TokenService::new(&keys, issuer.to_owned(), Duration::from_secs(900))
    }

    #[tokio::test]
    async fn issued_tokens_verify_to_their_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = service(dir.path(), "relay");
        let user = UserId::new();
        let token = tokens.issue(user, "s1").expect("issue");
        let verified = tokens.verify(&token).await.expect("valid");
        assert_eq!((verified.user, verified.session.as_str()), (user, "s1"));
    }

    #[tokio::test]
    async fn expired_forged_and_misdirected_tokens_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = service(dir.path(), "relay");
        let now = unix_now();
        let claims = |iss: &str, aud: &str, exp: u64| AccessClaims {
            sub: UserId::new().to_string(),
            iss: iss.into(),
            aud: aud.into(),
            iat: now,
            exp,
            sid: "s1".into(),
        };
        let expired = tokens.sign(&claims("relay", AUDIENCE, now - 3600)).expect("sign");
        assert_eq!(tokens.verify(&expired).await, Err(TokenError::Expired));
        let wrong_iss = tokens.sign(&claims("elsewhere", AUDIENCE, now + 60)).expect("sign");
        assert_eq!(tokens.verify(&wrong_iss).await, Err(TokenError::Invalid));
        let wrong_aud = tokens.sign(&claims("relay", "other-app", now + 60)).expect("sign");
        assert_eq!(tokens.verify(&wrong_aud).await, Err(TokenError::Invalid));

        let other_dir = tempfile::tempdir().expect("tempdir");
        let forger = service(other_dir.path(), "relay");
        let forged = forger.issue(UserId::new(), "s1").expect("issue");
        let no_session = tokens.sign(&AccessClaims { sid: String::new(), ..claims("relay", AUDIENCE, now + 60) });
        assert_eq!(tokens.verify(&no_session.expect("sign")).await, Err(TokenError::Invalid));
        assert_eq!(tokens.verify(&forged).await, Err(TokenError::Invalid));

        for garbage in ["", "a.b.c", "not a token", "eyJhbGciOiJub25lIn0.e30."] {
            assert_eq!(tokens.verify(garbage).await, Err(TokenError::Invalid), "{garbage:?}");
        }
    }

    #[tokio::test]
    async fn a_token_without_exp_is_refused() {
        #[derive(Serialize)]
        struct NoExp {
            sub: String,
            iss: String,
            aud: String,
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = service(dir.path(), "relay");
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::EdDSA),
            &NoExp { sub: UserId::new().to_string(), iss: "relay".into(), aud: AUDIENCE.into() },
            &tokens.read_ring().signer.1,
        )
        .expect("sign");
        assert_eq!(tokens.verify(&token).await, Err(TokenError::Invalid));
    }

    async fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::sqlite(&dir.path().join("relay.db")).await.expect("open");
        db.migrate().await.expect("migrate");
        (dir, db)
    }

    fn claims() -> AccessClaims {
        AccessClaims {
            sub: UserId::new().to_string(),
            iss: "relay".into(),
            aud: AUDIENCE.into(),
            iat: unix_now(),
            exp: unix_now() + 60,
            sid: "s1".into(),
        }
    }

    #[tokio::test]
    async fn tokens_name_their_key_and_a_token_from_before_key_ids_verifies_with_the_identity_key() {
        let (dir, db) = database().await;
        let identity = SigningKeys::load_or_create(dir.path()).expect("key");
        let identity = super::super::identity_key(&db, Some(identity)).await.expect("identity");
        let tokens =
            TokenService::from_database(db, &identity, "relay".into(), Duration::from_secs(900)).await.expect("tokens");
        let token = tokens.issue(UserId::new(), "s1").expect("issue");
        let header = jsonwebtoken::decode_header(&token).expect("header");
        assert_eq!(header.kid.as_deref(), Some(identity.kid().as_str()));
        let encoding = EncodingKey::from_ed_der(&identity.pkcs8_der());
        let unnamed = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims(), &encoding).expect("sign");
        assert!(tokens.verify(&unnamed).await.is_ok(), "a token without a kid is the identity key's");
        let made_up = Header { kid: Some("made-up".into()), ..Header::new(Algorithm::EdDSA) };
        let named_elsewhere = jsonwebtoken::encode(&made_up, &claims(), &encoding).expect("sign");
        assert_eq!(tokens.verify(&named_elsewhere).await, Err(TokenError::Invalid), "an unknown kid is refused");
    }

    #[tokio::test]
    async fn a_rotation_by_another_instance_is_picked_up_and_old_tokens_verify_until_the_key_is_retired() {
        let (dir, db) = database().await;
        let identity = SigningKeys::load_or_create(dir.path()).expect("key");
        let identity = super::super::identity_key(&db, Some(identity)).await.expect("identity");
        let ttl = Duration::from_secs(900);
        let a = TokenService::from_database(db.clone(), &identity, "relay".into(), ttl).await.expect("a");
        let b = TokenService::from_database(db.clone(), &identity, "relay".into(), ttl).await.expect("b");
        let before = a.issue(UserId::new(), "s1").expect("issue");

        let kid = super::super::rotate(&db, false).await.expect("rotate");
        assert_ne!(kid, identity.kid());
        a.reload().await.expect("reload");
        assert_eq!(a.signing_kid(), kid, "the newest key signs once reloaded");
        let after = a.issue(UserId::new(), "s2").expect("issue");
        assert_eq!(b.signing_kid(), identity.kid(), "b has not reloaded");
        assert!(b.verify(&after).await.is_ok(), "b reloads on the unknown kid and accepts the new key");
        assert_eq!(b.signing_kid(), kid);
        assert!(b.verify(&before).await.is_ok(), "the superseded key verifies for a token lifetime more");
        let identity_again = super::super::identity_key(&db, None).await.expect("identity");
        assert_eq!(identity_again.kid(), identity.kid(), "a rotation leaves the identity key alone");

        super::super::rotate(&db, true).await.expect("rotate, retiring the others");
        b.reload().await.expect("reload");
        assert_eq!(b.verify(&before).await, Err(TokenError::Invalid), "a retired key verifies nothing");
        assert_eq!(b.verify(&after).await, Err(TokenError::Invalid));
    }

    #[tokio::test]
    async fn a_token_claiming_a_longer_life_than_the_relay_gives_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = service(dir.path(), "relay");
        let far = AccessClaims { exp: unix_now() + 900 + 3_600, ..claims() };
        assert_eq!(tokens.verify(&tokens.sign(&far).expect("sign")).await, Err(TokenError::Invalid));
        let forever = AccessClaims { exp: u64::MAX, ..claims() };
        assert_eq!(tokens.verify(&tokens.sign(&forever).expect("sign")).await, Err(TokenError::Invalid));
        let within = AccessClaims { exp: unix_now() + 900, ..claims() };
        assert!(tokens.verify(&tokens.sign(&within).expect("sign")).await.is_ok());
    }

    #[test]
    fn a_superseded_key_verifies_for_one_token_lifetime_and_the_reload_grace() {
        let key = |created_at, retired_at| StoredKey {
            kid: String::new(),
            key: SigningKeys::generate(),
            created_at,
            retired_at,
        };
        let ttl = Duration::from_secs(900);
        let grace = i64::try_from(super::super::keyring::RELOAD_GRACE.as_millis()).expect("ms");
        assert_eq!(verifies_until(&key(0, None), None, ttl), None);
        assert_eq!(verifies_until(&key(0, None), Some(&key(1_000, None)), ttl), Some(1_000 + 900_000 + grace));
        assert_eq!(verifies_until(&key(0, Some(5)), Some(&key(1_000, None)), ttl), Some(i64::MIN));
        assert_eq!(verifies_until(&key(0, Some(i64::MAX)), None, ttl), Some(i64::MIN), "retired is retired");
        let far = key(i64::MAX - 10, None);
        assert_eq!(verifies_until(&key(0, None), Some(&far), Duration::MAX), Some(i64::MAX), "no overflow");
    }
}
