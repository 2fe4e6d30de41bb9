//! Where the refresh token lives between runs.
//!
//! This slice keeps it in a file readable only by the user (`credentials` in the data directory, mode
//! 0600, written atomically). The OS keychain (the `keyring` crate, with this file as the fallback where no
//! secret service runs) is the next step; see the notes on the issue.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::NodeError;

const FILE: &str = "credentials";

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Credentials { path: path.to_owned(), source }
}

pub(crate) fn load(dir: &Path) -> Result<Option<String>, NodeError> {
    let path = path(dir);
    match fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => Ok(Some(token.trim().to_owned())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&path)(e)),
    }
}

pub(crate) fn store(dir: &Path, refresh_token: &str) -> Result<(), NodeError> {
    let path = path(dir);
    let tmp = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(io(&tmp))?;
    file.write_all(refresh_token.as_bytes()).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))
}

pub(crate) fn remove(dir: &Path) -> Result<(), NodeError> {
    let path = path(dir);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_privately_and_removal_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("load"), None);
        store(dir.path(), "secret-token").expect("store");
        assert_eq!(load(dir.path()).expect("load").as_deref(), Some("secret-token"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path(dir.path())).expect("stat").permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
        remove(dir.path()).expect("remove");
        remove(dir.path()).expect("remove again");
        assert_eq!(load(dir.path()).expect("load"), None);
    }
}
