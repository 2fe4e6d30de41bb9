//! Files only their owner reads: the relay's and the node's data directories (0700) and the SQLite
//! databases in them (0600), whatever the process umask.
//!
//! SQLite creates a database's `-wal` and `-shm` files with the main file's mode, so the main file is created
//! 0600 before SQLite first opens it; an existing one (and its companions) is narrowed to 0600.

use std::io;
use std::path::Path;

/// Creates `dir` (and missing parents) and makes it 0700.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    restrict(dir, 0o700)
}

/// Makes sure the SQLite database at `path` exists and it, its `-wal` and its `-shm` are 0600.
pub fn private_database(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    drop(options.open(path)?);
    restrict(path, 0o600)?;
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        match restrict(Path::new(&companion), 0o600) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

#[cfg(unix)]
fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn restrict(path: &Path, _mode: u32) -> io::Result<()> {
    // Elsewhere the user profile's ACLs already keep other users out; only check the path is there.
    std::fs::metadata(path).map(|_| ())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn directories_are_0700_and_databases_0600_even_when_they_existed() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("data");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        private_dir(&dir).expect("private dir");
        assert_eq!(mode(&dir), 0o700);
        let db = dir.join("x.db");
        private_database(&db).expect("create");
        assert_eq!(mode(&db), 0o600);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::write(dir.join("x.db-wal"), b"").expect("wal");
        std::fs::set_permissions(dir.join("x.db-wal"), std::fs::Permissions::from_mode(0o644)).expect("chmod");
        private_database(&db).expect("narrow");
        assert_eq!((mode(&db), mode(&dir.join("x.db-wal"))), (0o600, 0o600));
    }
}
