//! One node per data directory: the node holds a lock on the directory's `node.lock` while it is open, so
//! a second TeamFlow on the same data (the app started again where the single-instance hand-over cannot
//! work, or `teamflow` beside the app) is refused with a clear error instead of writing the same store and
//! document files as the first.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::NodeError;

/// The lock file, beside the database.
pub(crate) const LOCK_FILE: &str = "node.lock";

/// The directory's lock, held while this exists. The operating system lets go of it when this is dropped
/// or the process ends however it ends, so a crash leaves no stale lock to clear by hand.
#[derive(Debug)]
pub(crate) struct DataClaim {
    _lock: File,
}

/// Takes the lock of `data_dir` (which exists), or answers `InUse` when another node holds it.
pub(crate) fn claim(data_dir: &Path) -> Result<DataClaim, NodeError> {
    let path = data_dir.join(LOCK_FILE);
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let failed = |source| NodeError::DataLock { path: data_dir.to_owned(), source };
    let file = options.open(&path).map_err(failed)?;
    match file.try_lock() {
        Ok(()) => Ok(DataClaim { _lock: file }),
        Err(TryLockError::WouldBlock) => Err(NodeError::InUse { path: data_dir.to_owned() }),
        // Some network and FUSE file systems have no locks: the data opens as it did before there were any.
        Err(TryLockError::Error(source)) if source.kind() == std::io::ErrorKind::Unsupported => {
            tracing::warn!(path = %path.display(), "this file system has no locks: a second TeamFlow on this data is not refused");
            Ok(DataClaim { _lock: file })
        }
        Err(TryLockError::Error(source)) => Err(failed(source)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_is_refused_until_the_first_is_let_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = claim(dir.path()).expect("first claim");
        match claim(dir.path()) {
            Err(NodeError::InUse { path }) => assert_eq!(path, dir.path()),
            other => panic!("a second claim was not refused: {other:?}"),
        }
        drop(first);
        claim(dir.path()).expect("claimed again once let go");
    }
}
