//! Access tokens: short-lived EdDSA JWTs with `sub`, `iss`, `aud`, `exp` and `sid` (the sign-in, i.e. refresh
//! family, it was issued for) all required, so ending a sign-in ends exactly its tokens and connections.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use teamflow_protocol::UserId;

use super::SigningKeys;

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
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").field("issuer", &self.issuer).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl TokenService {
    pub fn new(keys: &SigningKeys, issuer: String, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["sub", "iss", "aud", "exp"]);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_ed_der(&keys.pkcs8_der()),
            decoding: DecodingKey::from_ed_der(&keys.public_key_bytes()),
            validation,
            issuer,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
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

    /// Signs arbitrary claims with the relay's key. Tests use it to mint expired or odd tokens.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, jsonwebtoken::errors::Error> {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.encoding)
    }

    /// What a token says, if its signature, issuer, audience and expiry all check out and it names a
    /// session. Whether that session has since ended is `LiveSessions::check`'s question.
    pub fn verify(&self, token: &str) -> Result<AccessToken, TokenError> {
        let data =
            jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        let claims = data.claims;
        if claims.sid.is_empty() {
            return Err(TokenError::Invalid);
        }
        let user = claims.sub.parse().map_err(|_| TokenError::Invalid)?;
        Ok(AccessToken { user, session: claims.sid, expires_at: claims.exp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(dir: &std::path::Path, issuer: &str) -> TokenService {
        let keys = SigningKeys::load_or_create(dir).expect("keys");
        TokenService::new(&keys, issuer.to_owned(), Duration::from_secs(900))
    }

    #[test]
    fn issued_tokens_verify_to_their_user() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = service(dir.path(), "relay");
        let user = UserId::new();
        let token = tokens.issue(user, "s1").expect("issue");
        let verified = tokens.verify(&token).expect("valid");
        assert_eq!((verified.user, verified.session.as_str()), (user, "s1"));
    }

    #[test]
    fn expired_forged_and_misdirected_tokens_are_refused() {
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
        assert_eq!(tokens.verify(&expired), Err(TokenError::Expired));
        let wrong_iss = tokens.sign(&claims("elsewhere", AUDIENCE, now + 60)).expect("sign");
        assert_eq!(tokens.verify(&wrong_iss), Err(TokenError::Invalid));
        let wrong_aud = tokens.sign(&claims("relay", "other-app", now + 60)).expect("sign");
        assert_eq!(tokens.verify(&wrong_aud), Err(TokenError::Invalid));

        let other_dir = tempfile::tempdir().expect("tempdir");
        let forger = service(other_dir.path(), "relay");
        let forged = forger.issue(UserId::new(), "s1").expect("issue");
        let no_session = tokens.sign(&AccessClaims { sid: String::new(), ..claims("relay", AUDIENCE, now + 60) });
        assert_eq!(tokens.verify(&no_session.expect("sign")), Err(TokenError::Invalid));
        assert_eq!(tokens.verify(&forged), Err(TokenError::Invalid));

        for garbage in ["", "a.b.c", "not a token", "eyJhbGciOiJub25lIn0.e30."] {
            assert_eq!(tokens.verify(garbage), Err(TokenError::Invalid), "{garbage:?}");
        }
    }

    #[test]
    fn a_token_without_exp_is_refused() {
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
            &tokens.encoding,
        )
        .expect("sign");
        assert_eq!(tokens.verify(&token), Err(TokenError::Invalid));
    }
}
