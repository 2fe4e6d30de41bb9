//! The relay's signing keys in its database, shared by every instance on it and rotated without downtime.
//!
//! The oldest key is the relay's identity (it signs device certificates and derives the invitation secret):
//! on SQLite that is the key file in the data directory, which seeds the table; on PostgreSQL the first
//! instance to start makes it, under `Db::serialise`, so instances starting together agree. Every key signs
//! access tokens while it is the newest; a rotation adds a newer one, and each instance then accepts the
//! older key only for one access-token lifetime more (plus a minute for instances that have not reloaded
//! yet), so no token in use stops verifying. A key's `retired_at` ends it at once (a compromised key).

use std::time::Duration;

use super::{KeyError, SigningKeys};
use crate::db::{self, Db, Serial};

/// One row of `relay_keys`.
#[derive(Debug)]
pub struct StoredKey {
    pub kid: String,
    pub key: SigningKeys,
    /// Unix milliseconds.
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

fn decode(kid: String, der: &[u8], created_at: i64, retired_at: Option<i64>) -> Result<StoredKey, KeyError> {
    let key = SigningKeys::from_pkcs8_der(der).ok_or_else(|| KeyError::MalformedStored { kid: kid.clone() })?;
    Ok(StoredKey { kid, key, created_at, retired_at })
}

async fn insert(tx: &mut sqlx::Transaction<'static, sqlx::Any>, key: &SigningKeys) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO relay_keys (kid, private_key, created_at) VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING",
    )
    .bind(key.kid())
    .bind(key.pkcs8_der())
    .bind(db::now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Makes sure the database holds the relay's keys, and answers its identity key. `file_key` is the data
/// directory's key on SQLite (the identity, added to the table if it is not there); `None` on PostgreSQL,
/// where the oldest stored key is the identity and the first instance makes it.
pub async fn identity_key(db: &Db, file_key: Option<SigningKeys>) -> Result<SigningKeys, KeyError> {
    let mut tx = db.begin_write().await?;
    db.serialise(&mut tx, Serial::Keys).await?;
    if let Some(key) = file_key {
        insert(&mut tx, &key).await?;
        tx.commit().await?;
        return Ok(key);
    }
    let oldest: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT kid, private_key FROM relay_keys ORDER BY created_at, kid LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?;
    let key = match oldest {
        Some((kid, der)) => decode(kid, &der, 0, None)?.key,
        None => {
            let key = SigningKeys::generate();
            insert(&mut tx, &key).await?;
            tracing::info!(kid = %key.kid(), "generated the relay's identity key in the database");
            key
        }
    };
    tx.commit().await?;
    Ok(key)
}

/// Every stored key, oldest first.
pub async fn token_keys(db: &Db) -> Result<Vec<StoredKey>, KeyError> {
    let rows: Vec<(String, Vec<u8>, i64, Option<i64>)> =
        sqlx::query_as("SELECT kid, private_key, created_at, retired_at FROM relay_keys ORDER BY created_at, kid")
            .fetch_all(db.pool())
            .await?;
    rows.into_iter().map(|(kid, der, created, retired)| decode(kid, &der, created, retired)).collect()
}

/// Adds a new token-signing key, which every instance signs with once it has reloaded its keys (at once on
/// a token it does not know, and every minute). With `retire_others`, every older key stops verifying now
/// (their tokens are refused, so their holders refresh): for a key that leaked. Answers the new key's id.
pub async fn rotate(db: &Db, retire_others: bool) -> Result<String, KeyError> {
    let key = SigningKeys::generate();
    let mut tx = db.begin_write().await?;
    db.serialise(&mut tx, Serial::Keys).await?;
    // A key made in the same millisecond as the newest would not sort after it.
    let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(created_at) FROM relay_keys").fetch_one(&mut *tx).await?;
    let created_at = newest.map_or(db::now_ms(), |newest| newest.max(db::now_ms() - 1) + 1);
    sqlx::query("INSERT INTO relay_keys (kid, private_key, created_at) VALUES ($1, $2, $3)")
        .bind(key.kid())
        .bind(key.pkcs8_der())
        .bind(created_at)
        .execute(&mut *tx)
        .await?;
    if retire_others {
        sqlx::query("UPDATE relay_keys SET retired_at = $1 WHERE kid <> $2 AND retired_at IS NULL")
            .bind(db::now_ms())
            .bind(key.kid())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(key.kid())
}

/// Until when (Unix ms) a key verifies tokens, given the keys after it: for ever while it is the newest;
/// one token lifetime plus `RELOAD_GRACE` after a newer key appeared; not at all once retired (whatever the
/// clock of the machine that retired it said).
pub(crate) fn verifies_until(key: &StoredKey, successor: Option<&StoredKey>, token_ttl: Duration) -> Option<i64> {
    if key.retired_at.is_some() {
        return Some(i64::MIN);
    }
    let window = i64::try_from(token_ttl.saturating_add(RELOAD_GRACE).as_millis()).unwrap_or(i64::MAX);
    successor.map(|next| next.created_at.saturating_add(window))
}

/// How long an instance may go on signing with a key another instance has superseded: its reload period.
pub(crate) const RELOAD_GRACE: Duration = Duration::from_secs(60);
