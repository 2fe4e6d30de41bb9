//! The relay's Ed25519 signing key: generated on first start, kept in the data directory (on SQLite; a
//! relay on PostgreSQL keeps its keys in the database, see `keyring`).
//!
//! It signs access tokens today and device certificates later, so it must survive restarts:
//! losing it signs everyone out.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, spki::der::pem::LineEnding};

const KEY_FILE: &str = "relay-signing-key.pem";
const P2P_KEY_FILE: &str = "relay-p2p-key.pem";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} does not hold an Ed25519 PKCS#8 private key")]
    Malformed { path: PathBuf },
    #[error("the database's signing keys: {0}")]
    Database(#[from] sqlx::Error),
    #[error("the database's signing key {kid} is not an Ed25519 PKCS#8 private key")]
    MalformedStored { kid: String },
}

pub struct SigningKeys {
    key: SigningKey,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeys").field("public", &self.public_key_bytes()).finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// Loads the key from `data_dir`, or creates one (readable only by this user) if there is none.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, KeyError> {
        Self::load_or_create_file(&data_dir.join(KEY_FILE))
    }

    /// The relay's libp2p identity key, in its own file: a key for one purpose only.
    pub fn load_or_create_p2p(data_dir: &Path) -> Result<Self, KeyError> {
        Self::load_or_create_file(&data_dir.join(P2P_KEY_FILE))
    }

    fn load_or_create_file(path: &Path) -> Result<Self, KeyError> {
        let path = path.to_owned();
        match fs::read_to_string(&path) {
            Ok(pem) => {
                let key = SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::Malformed { path })?;
                Ok(Self { key })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SigningKey::generate(&mut rand::rngs::OsRng);
                write_private(&path, &key)?;
                tracing::info!(path = %path.display(), "generated a new relay key");
                Ok(Self { key })
            }
            Err(source) => Err(KeyError::Io { path, source }),
        }
    }

    /// A fresh key, for a database that holds none yet (PostgreSQL) or a rotation.
    pub fn generate() -> Self {
        Self { key: SigningKey::generate(&mut rand::rngs::OsRng) }
    }

    /// A key stored as PKCS#8 DER (the database's `relay_keys`).
    pub(crate) fn from_pkcs8_der(der: &[u8]) -> Option<Self> {
        SigningKey::from_pkcs8_der(der).ok().map(|key| Self { key })
    }

    /// The key's id in tokens (`kid`): the first 12 bytes of the SHA-256 of its public key, base64url. The
    /// same key has the same id on every instance and after every restart.
    pub fn kid(&self) -> String {
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(self.public_key_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..12])
    }

    /// PKCS#8 DER of the private key, as `jsonwebtoken` wants it.
    pub(crate) fn pkcs8_der(&self) -> Vec<u8> {
        self.key.to_pkcs8_der().map(|doc| doc.as_bytes().to_vec()).unwrap_or_default()
    }

    /// Signs `message` (device certificates; access tokens are signed through `jsonwebtoken`).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer as _;
        self.key.sign(message).to_bytes()
    }

    /// The private key's 32 bytes, to build the libp2p identity from.
    pub(crate) fn secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    pub fn public_key_bytes(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }
}

/// Writes the key to a temporary file and renames it into place, so a crash never leaves half a key.
fn write_private(path: &Path, key: &SigningKey) -> Result<(), KeyError> {
    let io = |source| KeyError::Io { path: path.to_owned(), source };
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|_| KeyError::Malformed { path: path.to_owned() })?;
    let tmp = path.with_extension("pem.tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io)?;
    file.write_all(pem.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = SigningKeys::load_or_create(dir.path()).expect("create");
        let again = SigningKeys::load_or_create(dir.path()).expect("load");
        assert_eq!(first.public_key_bytes(), again.public_key_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(KEY_FILE)).expect("stat").permissions().mode();
            assert_eq!(mode & 0o077, 0, "key readable by others: {mode:o}");
        }
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(KEY_FILE), "not a key").expect("write");
        assert!(matches!(SigningKeys::load_or_create(dir.path()), Err(KeyError::Malformed { .. })));
    }
}
