//! Webhook signature checks, on the raw body before any parsing, compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::error::ApiError;

/// How far a Slack request's timestamp may be from our clock, either way.
pub const SLACK_MAX_SKEW_SECS: i64 = 5 * 60;

fn hmac_sha256(secret: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable_key())
}

fn unreachable_key() -> ! {
    unreachable!("HMAC takes keys of any length")
}

/// GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. The SHA-1 header alone is refused.
pub fn github(secret: &str, signature_256: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    let hex = signature_256.and_then(|s| s.strip_prefix("sha256=")).ok_or(ApiError::InvalidSignature)?;
    let expected = hex::decode(hex).map_err(|_| ApiError::InvalidSignature)?;
    let mut mac = hmac_sha256(secret);
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| ApiError::InvalidSignature)
}

/// Slack v0: `X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)>`, with the
/// timestamp within five minutes of `now` (Unix seconds), so a captured request cannot be replayed later.
pub fn slack(
    secret: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), ApiError> {
    let timestamp = timestamp.ok_or(ApiError::InvalidSignature)?;
    let sent: i64 = timestamp.parse().map_err(|_| ApiError::InvalidSignature)?;
    // The timestamp is the sender's choice: an extreme one must not overflow, only fail.
    let skew = now.checked_sub(sent).and_then(i64::checked_abs).ok_or(ApiError::InvalidSignature)?;
    if skew > SLACK_MAX_SKEW_SECS {
        return Err(ApiError::InvalidSignature);
    }
    let hex = signature.and_then(|s| s.strip_prefix("v0=")).ok_or(ApiError::InvalidSignature)?;
    let expected = hex::decode(hex).map_err(|_| ApiError::InvalidSignature)?;
    let mut mac = hmac_sha256(secret);
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| ApiError::InvalidSignature)
}

/// Trello: `X-Trello-Webhook: <base64 HMAC-SHA1(secret, body + callback URL)>`, the URL exactly as registered.
pub fn trello(secret: &str, callback_url: &str, signature: Option<&str>, body: &[u8]) -> Result<(), ApiError> {
    let expected =
        STANDARD.decode(signature.ok_or(ApiError::InvalidSignature)?).map_err(|_| ApiError::InvalidSignature)?;
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable_key());
    mac.update(body);
    mac.update(callback_url.as_bytes());
    mac.verify_slice(&expected).map_err(|_| ApiError::InvalidSignature)
}

/// Signatures for tests and tools that play the provider.
pub mod sign {
    use super::*;

    pub fn github(secret: &str, body: &[u8]) -> String {
        let mut mac = hmac_sha256(secret);
        mac.update(body);
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    }

    pub fn slack(secret: &str, timestamp: &str, body: &[u8]) -> String {
        let mut mac = hmac_sha256(secret);
        mac.update(format!("v0:{timestamp}:").as_bytes());
        mac.update(body);
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }

    pub fn trello(secret: &str, callback_url: &str, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable_key());
        mac.update(body);
        mac.update(callback_url.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GITHUB_SECRET: &str = "It's a Secret to Everybody";
    const GITHUB_SIGNATURE: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_documented_vector_verifies_and_any_one_byte_change_fails() {
        assert!(github(GITHUB_SECRET, Some(GITHUB_SIGNATURE), b"Hello, World!").is_ok());
        assert!(github(GITHUB_SECRET, Some(GITHUB_SIGNATURE), b"Hello, World?").is_err());
        assert!(github("It's a Secret to Everybodz", Some(GITHUB_SIGNATURE), b"Hello, World!").is_err());
        let mut header = GITHUB_SIGNATURE.to_owned();
        header.replace_range(10..11, "8");
        assert!(github(GITHUB_SECRET, Some(&header), b"Hello, World!").is_err());
        assert!(github(GITHUB_SECRET, None, b"Hello, World!").is_err(), "no SHA-256 header: refused");
        assert!(github(GITHUB_SECRET, Some("sha1=01020304"), b"Hello, World!").is_err());
        assert_eq!(sign::github(GITHUB_SECRET, b"Hello, World!"), GITHUB_SIGNATURE);
    }

    // Slack's request-signing documentation example.
    const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TIMESTAMP: &str = "1531420618";
    const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_vector_verifies_and_tampering_or_staleness_fails() {
        let now = 1_531_420_618 + 30;
        let check = |secret: &str, ts: &str, sig: &str, body: &str, now: i64| {
            slack(secret, Some(ts), Some(sig), body.as_bytes(), now).is_ok()
        };
        assert!(check(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY, now));
        assert!(!check(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_SIGNATURE, &SLACK_BODY.replace("foobar", "foobaz"), now));
        assert!(!check("8f742231b10e8888abcd99yyyzzz85a6", SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY, now));
        assert!(!check(SLACK_SECRET, "1531420619", SLACK_SIGNATURE, SLACK_BODY, now), "the timestamp is signed");
        assert!(!check(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY, 1_531_420_618 + 301), "stale");
        assert!(!check(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_SIGNATURE, SLACK_BODY, 1_531_420_618 - 301), "future");
        assert!(slack(SLACK_SECRET, None, Some(SLACK_SIGNATURE), SLACK_BODY.as_bytes(), now).is_err());
        for extreme in [i64::MIN.to_string(), i64::MAX.to_string(), "-1".into(), "99999999999999999999".into()] {
            assert!(!check(SLACK_SECRET, &extreme, SLACK_SIGNATURE, SLACK_BODY, now), "{extreme}: refused, no panic");
            assert!(!check(SLACK_SECRET, &extreme, SLACK_SIGNATURE, SLACK_BODY, i64::MIN), "{extreme} at i64::MIN");
        }
        assert_eq!(sign::slack(SLACK_SECRET, SLACK_TIMESTAMP, SLACK_BODY.as_bytes()), SLACK_SIGNATURE);
    }

    #[test]
    fn trello_signs_over_the_exact_callback_url() {
        let url = "https://relay.example.com/api/webhooks/trello/abc";
        let body = br#"{"action":{"id":"1"}}"#;
        let signature = sign::trello("app-secret", url, body);
        assert!(trello("app-secret", url, Some(&signature), body).is_ok());
        assert!(trello("app-secret", &format!("{url}/"), Some(&signature), body).is_err(), "a trailing slash differs");
        assert!(trello("app-secreT", url, Some(&signature), body).is_err());
        assert!(trello("app-secret", url, Some(&signature), br#"{"action":{"id":"2"}}"#).is_err());
        assert!(trello("app-secret", url, Some("not base64!"), body).is_err());
        assert!(trello("app-secret", url, None, body).is_err());
    }
}
