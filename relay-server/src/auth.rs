//! Authentication primitives: the relay's signing keys (a file, and the shared set in the database), access
//! tokens (JWT) and password hashing.
//!
//! Account flows built on them (register, login, refresh rotation) live in `accounts`.

pub(crate) mod keyring;
mod keys;
mod password;
mod tokens;

pub use keyring::{StoredKey, identity_key, rotate, token_keys};
pub use keys::{KeyError, SigningKeys};
pub use password::{PasswordHasher, QUEUE_TIMEOUT as HASH_QUEUE_TIMEOUT};
pub use tokens::{AUDIENCE, AccessClaims, AccessToken, TokenError, TokenService};
