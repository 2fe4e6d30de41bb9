//! One node per data directory: the node holds a lock on the directory's `node.lock` while it is open, so
//! a second TeamFlow on the same data (the app started again where the single-instance hand-over cannot
//! work, or `teamflow` beside the app) is refused with a clear error instead of writing the same store and
//! document files as the first.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::Duration;

use crate::NodeError;

/// The lock file, beside the database.
pub(crate) const LOCK_FILE: &str = "node.lock";

/// The directory's lock, held while this exists. The operating system lets go of it when this is dropped
/// or the process ends however it ends, so a crash leaves no stale lock to clear by hand.
#[derive(Debug)]
pub(crate) struct DataClaim {
    _lock: File,
}

/// How long a lock that seems taken is asked for again before the data is called in use. A process that
/// another thread of this one starts holds a copy of every open descriptor, and so of the lock, until it
/// runs its program: a claim let go in that moment is still held for it (6 to 7 claims in a hundred, let go
/// and taken again while another thread started processes in a loop; a CI run's command-line test met it
/// while other tests started PostgreSQL). A running TeamFlow holds it for longer: refused after 0.44 s.
const RETRIES_MS: [u64; 7] = [2, 5, 10, 20, 50, 100, 250];

/// Takes the lock of `data_dir` (which exists), or answers `InUse` when another node holds it.
pub(crate) async fn claim(data_dir: &Path) -> Result<DataClaim, NodeError> {
    for wait in RETRIES_MS {
        match try_claim(data_dir) {
            Err(NodeError::InUse { .. }) => tokio::time::sleep(Duration::from_millis(wait)).await,
            answer => return answer,
        }
    }
    try_claim(data_dir)
}

fn try_claim(data_dir: &Path) -> Result<DataClaim, NodeError> {
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

    #[tokio::test]
    async fn a_second_claim_is_refused_until_the_first_is_let_go() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = claim(dir.path()).await.expect("first claim");
        match claim(dir.path()).await {
            Err(NodeError::InUse { path }) => assert_eq!(path, dir.path()),
            other => panic!("a second claim was not refused: {other:?}"),
        }
        drop(first);
        claim(dir.path()).await.expect("claimed again once let go");
    }

    /// A claim let go while another thread starts processes is taken again (without asking again, about
    /// 300 of these 5,000 were refused).
    #[tokio::test]
    async fn a_claim_let_go_while_other_threads_start_processes_is_taken_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let starting = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::process::Command::new("true").status().expect("true");
                }
            })
        };
        let mut refused = 0;
        for _ in 0..5_000 {
            if claim(dir.path()).await.is_err() {
                refused += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        starting.join().expect("the starting thread");
        assert_eq!(refused, 0, "claims refused though nothing else held the directory");
    }
}
