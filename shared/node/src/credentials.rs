//! Where the refresh token lives between runs: the OS keychain when one answers, else a file only the user
//! can read.
//!
//! The keychain is the `keyring` crate: Keychain on macOS, Credential Manager on Windows, the Secret
//! Service (GNOME Keyring, KWallet) on Linux. Where none runs (a server, a container, CI) every keychain
//! call fails at once and the token goes to `credentials` in the data directory instead, mode 0600, written
//! atomically. Each write tries the keychain again, so a keychain that appears later is used from then on,
//! and the file is deleted as soon as the keychain holds the token.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::NodeError;

const FILE: &str = "credentials";
/// The keychain service name; the account is derived from the data directory, so two nodes on one machine
/// (two profiles, or tests) keep separate tokens.
const SERVICE: &str = "dev.teamflow.node";

/// Where the refresh token is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum CredentialStore {
    /// The operating system's keychain.
    Keychain,
    /// The fallback: a file in the data directory readable only by the user.
    File,
}

pub(crate) struct Credentials {
    dir: PathBuf,
    /// `None` when the platform has no keychain at all.
    keychain: Option<Arc<keyring::Entry>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Credentials {
    pub(crate) fn new(dir: &Path) -> Self {
        let account = format!("refresh-token {}", dir.display());
        let keychain = match keyring::Entry::new(SERVICE, &account) {
            Ok(entry) => Some(Arc::new(entry)),
            Err(e) => {
                tracing::info!(error = %e, "no keychain on this platform; keeping credentials in a private file");
                None
            }
        };
        Self { dir: dir.to_owned(), keychain }
    }

    #[cfg(test)]
    fn with_keychain(dir: &Path, entry: keyring::Entry) -> Self {
        Self { dir: dir.to_owned(), keychain: Some(Arc::new(entry)) }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Runs a keychain call off the async threads (the Secret Service is a blocking D-Bus round trip).
    async fn keychain<T: Send + 'static>(
        &self,
        call: impl FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
    ) -> Option<keyring::Result<T>> {
        let entry = self.keychain.clone()?;
        match tokio::task::spawn_blocking(move || call(&entry)).await {
            Ok(result) => Some(result),
            Err(e) => Some(Err(keyring::Error::PlatformFailure(Box::new(e)))),
        }
    }

    /// The stored refresh token and where it was found.
    pub(crate) async fn load(&self) -> Result<Option<(String, CredentialStore)>, NodeError> {
        match self.keychain(|entry| entry.get_password()).await {
            Some(Ok(token)) if !token.is_empty() => return Ok(Some((token, CredentialStore::Keychain))),
            Some(Ok(_) | Err(keyring::Error::NoEntry)) | None => {}
            Some(Err(e)) => tracing::debug!(error = %e, "keychain unavailable; reading the credentials file"),
        }
        let path = self.path();
        match fs::read_to_string(&path) {
            Ok(token) if !token.trim().is_empty() => Ok(Some((token.trim().to_owned(), CredentialStore::File))),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Keeps `refresh_token`, in the keychain if it answers, else in the private file.
    pub(crate) async fn store(&self, refresh_token: &str) -> Result<CredentialStore, NodeError> {
        let token = refresh_token.to_owned();
        match self.keychain(move |entry| entry.set_password(&token)).await {
            Some(Ok(())) => {
                // A token left in the file from a time without a keychain must not outlive this one.
                remove_file(&self.path())?;
                return Ok(CredentialStore::Keychain);
            }
            Some(Err(e)) => tracing::debug!(error = %e, "keychain unavailable; using the credentials file"),
            None => {}
        }
        write_private(&self.path(), refresh_token)?;
        Ok(CredentialStore::File)
    }

    /// Forgets the token wherever it is. Idempotent.
    pub(crate) async fn remove(&self) -> Result<(), NodeError> {
        match self.keychain(|entry| entry.delete_credential()).await {
            Some(Ok(()) | Err(keyring::Error::NoEntry)) | None => {}
            // Unreachable keychain: nothing can be stored there either, so nothing is left behind.
            Some(Err(e)) => tracing::debug!(error = %e, "keychain unavailable while signing out"),
        }
        remove_file(&self.path())
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Credentials { path: path.to_owned(), source }
}

fn write_private(path: &Path, contents: &str) -> Result<(), NodeError> {
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    file.write_all(contents.as_bytes()).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

fn remove_file(path: &Path) -> Result<(), NodeError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock_entry() -> keyring::Entry {
        keyring::Entry::new_with_credential(Box::new(keyring::mock::MockCredential::default()))
    }

    fn mock(entry: &Credentials) -> &keyring::mock::MockCredential {
        entry.keychain.as_ref().and_then(|e| e.get_credential().downcast_ref()).expect("a mock keychain")
    }

    fn assert_private(path: &Path) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path).expect("stat").permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
    }

    #[tokio::test]
    async fn without_a_keychain_tokens_round_trip_through_a_private_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let credentials = Credentials { dir: dir.path().to_owned(), keychain: None };
        assert_eq!(credentials.load().await.expect("load"), None);
        assert_eq!(credentials.store("secret-token").await.expect("store"), CredentialStore::File);
        assert_private(&dir.path().join(FILE));
        assert_eq!(credentials.load().await.expect("load"), Some(("secret-token".into(), CredentialStore::File)));
        credentials.remove().await.expect("remove");
        credentials.remove().await.expect("remove again");
        assert_eq!(credentials.load().await.expect("load"), None);
    }

    // keyring's own in-memory credential stands in for the OS keychain here; the real Secret Service cannot
    // run in this environment (no session bus).
    #[tokio::test]
    async fn a_working_keychain_holds_the_token_and_replaces_an_older_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_private(&dir.path().join(FILE), "old-file-token").expect("old file");
        let credentials = Credentials::with_keychain(dir.path(), mock_entry());
        assert_eq!(credentials.store("keychain-token").await.expect("store"), CredentialStore::Keychain);
        assert!(!dir.path().join(FILE).exists(), "the file copy must go once the keychain has the token");
        assert_eq!(credentials.load().await.expect("load"), Some(("keychain-token".into(), CredentialStore::Keychain)));
        credentials.remove().await.expect("remove");
        assert_eq!(credentials.load().await.expect("load"), None);
    }

    #[tokio::test]
    async fn a_keychain_that_fails_falls_back_to_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let credentials = Credentials::with_keychain(dir.path(), mock_entry());
        mock(&credentials).set_error(keyring::Error::NoStorageAccess("locked".into()));
        assert_eq!(credentials.store("file-token").await.expect("store"), CredentialStore::File);
        assert_private(&dir.path().join(FILE));
        mock(&credentials).set_error(keyring::Error::PlatformFailure("no secret service".into()));
        assert_eq!(credentials.load().await.expect("load"), Some(("file-token".into(), CredentialStore::File)));
        mock(&credentials).set_error(keyring::Error::PlatformFailure("no secret service".into()));
        credentials.remove().await.expect("remove");
        assert_eq!(credentials.load().await.expect("load"), None);
    }
}
