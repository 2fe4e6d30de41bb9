//! Authentication primitives: the relay's signing key, access tokens (JWT) and password hashing.
//!
//! Account flows built on them (register, login, refresh rotation) live in `accounts`.

mod keys;
mod password;
mod tokens;

pub use keys::{KeyError, SigningKeys};
pub use password::{PasswordHasher, QUEUE_TIMEOUT as HASH_QUEUE_TIMEOUT};
pub use tokens::{AUDIENCE, AccessClaims, AccessToken, TokenError, TokenService};
