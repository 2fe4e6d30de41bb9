//! A certificate from PEM files, served until a renewed one replaces it.
//!
//! The files are re-read when either changes (the `notify` crate: inotify, kqueue, FSEvents or
//! ReadDirectoryChangesW, so a change is seen at once and nothing is polled) and on SIGHUP (unix). The
//! watch is on the *directories* holding them: certbot, cert-manager and friends replace files by renaming
//! or swapping symlinks, which a watch on the old file would never see. Changes are gathered for a short
//! quiet period first, so a certificate and key written one after the other load as one pair. A new pair
//! that does not load (unreadable, malformed, key not matching the certificate) is refused with an error in
//! the log, and the previous certificate keeps serving.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use notify::Watcher as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long the files must stay unchanged after an event before they are read.
const QUIET: Duration = Duration::from_millis(300);

/// Why a certificate pair could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path}: {message}")]
    Pem { path: PathBuf, message: String },
    #[error("{path} holds no usable private key: {message}")]
    Key { path: PathBuf, message: String },
    #[error("the key in {key} does not belong to the certificate in {cert}: {message}")]
    Mismatch { cert: PathBuf, key: PathBuf, message: String },
    #[error("cannot watch {path} for changes: {source}")]
    Watch { path: PathBuf, source: notify::Error },
}

/// The pair's bytes as last loaded, to tell a real change from a touched file.
#[derive(Debug, PartialEq, Eq)]
struct Loaded {
    cert: Vec<u8>,
    key: Vec<u8>,
}

/// Serves the current certificate to every handshake; [`CertFiles::reload`] swaps it.
#[derive(Debug)]
pub struct CertFiles {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Loaded)>,
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).0.clone())
    }
}

impl CertFiles {
    /// Loads the pair (an error stops the relay from starting) and spawns the task that reloads it on a
    /// file change (when `watch`) or SIGHUP, until `shutdown`.
    pub fn start(
        cert: &Path,
        key: &Path,
        watch: bool,
        shutdown: CancellationToken,
    ) -> Result<(Arc<CertFiles>, JoinHandle<()>), LoadError> {
        let (certified, loaded) = load(cert, key)?;
        let files = Arc::new(CertFiles {
            cert_path: cert.to_owned(),
            key_path: key.to_owned(),
            current: RwLock::new((certified, loaded)),
        });
        let changed = Arc::new(Notify::new());
        let watcher = if watch { Some(watch_dirs(&[cert, key], changed.clone())?) } else { None };
        let hangup = hangup_signal();
        let task = tokio::spawn(keep_fresh(files.clone(), changed, hangup, watcher, shutdown));
        tracing::info!(cert = %cert.display(), key = %key.display(), watch, "serving TLS with certificate files");
        Ok((files, task))
    }

    /// Reads the files again and serves them if they changed and load; otherwise keeps the current pair.
    /// Answers whether a new certificate is now served.
    pub fn reload(&self) -> Result<bool, LoadError> {
        let (cert, key) = read_pair(&self.cert_path, &self.key_path)?;
        if self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).1
            == (Loaded { cert: cert.clone(), key: key.clone() })
        {
            return Ok(false);
        }
        let (certified, loaded) = parse(&self.cert_path, &self.key_path, cert, key)?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = (certified, loaded);
        Ok(true)
    }

    fn reload_and_log(&self, why: &str) {
        match self.reload() {
            Ok(true) => tracing::info!(cert = %self.cert_path.display(), why, "serving the renewed TLS certificate"),
            Ok(false) => tracing::debug!(why, "TLS certificate files unchanged"),
            Err(e) => {
                tracing::error!(error = %e, why, "the new TLS certificate was refused; still serving the previous one")
            }
        }
    }
}

/// Reloads on every (quietened) file change and every SIGHUP until `shutdown`.
async fn keep_fresh(
    files: Arc<CertFiles>,
    changed: Arc<Notify>,
    mut hangup: Hangup,
    // Held so the watch lasts as long as this task.
    _watcher: Option<notify::RecommendedWatcher>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = changed.notified() => {
                // Let a burst of writes finish: wait until QUIET passes with no further event.
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = changed.notified() => {}
                        () = tokio::time::sleep(QUIET) => break,
                    }
                }
                files.reload_and_log("the certificate files changed");
            }
            () = hangup.recv() => files.reload_and_log("SIGHUP"),
        }
    }
}

/// Watches the directories holding `paths`, waking `changed` on any event touching one of the paths (or,
/// for symlink swaps, anything in those directories: a reload of unchanged files costs one read).
fn watch_dirs(paths: &[&Path], changed: Arc<Notify>) -> Result<notify::RecommendedWatcher, LoadError> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
        // Reads (ours included) change nothing; a file closed after writing does.
        Ok(event) if event.kind.is_access() && event.kind != CLOSED_AFTER_WRITING => {}
        Ok(_) => changed.notify_one(),
        Err(e) => tracing::warn!(error = %e, "watching the TLS certificate files failed"),
    })
    .map_err(|source| LoadError::Watch { path: paths[0].to_owned(), source })?;
    let mut dirs: Vec<PathBuf> = paths.iter().map(|p| directory_of(p)).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        watcher
            .watch(&dir, notify::RecursiveMode::NonRecursive)
            .map_err(|source| LoadError::Watch { path: dir.clone(), source })?;
    }
    Ok(watcher)
}

const CLOSED_AFTER_WRITING: notify::EventKind =
    notify::EventKind::Access(notify::event::AccessKind::Close(notify::event::AccessMode::Write));

fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// SIGHUP on unix; never on other systems.
struct Hangup(#[cfg(unix)] Option<tokio::signal::unix::Signal>);

fn hangup_signal() -> Hangup {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(signal) => Hangup(Some(signal)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; certificate files reload only on change");
                Hangup(None)
            }
        }
    }
    #[cfg(not(unix))]
    Hangup()
}

impl Hangup {
    async fn recv(&mut self) {
        #[cfg(unix)]
        if let Some(signal) = &mut self.0
            && signal.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}

fn read_pair(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), LoadError> {
    let read = |path: &Path| std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_owned(), source });
    Ok((read(cert)?, read(key)?))
}

/// Reads and checks a certificate chain and its key.
fn load(cert: &Path, key: &Path) -> Result<(Arc<CertifiedKey>, Loaded), LoadError> {
    let (cert_pem, key_pem) = read_pair(cert, key)?;
    parse(cert, key, cert_pem, key_pem)
}

fn parse(
    cert: &Path,
    key: &Path,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
) -> Result<(Arc<CertifiedKey>, Loaded), LoadError> {
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LoadError::Pem { path: cert.to_owned(), message: e.to_string() })?;
    if chain.is_empty() {
        return Err(LoadError::NoCertificate { path: cert.to_owned() });
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| LoadError::Key { path: key.to_owned(), message: e.to_string() })?;
    let provider = super::crypto_provider();
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| LoadError::Key { path: key.to_owned(), message: e.to_string() })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| LoadError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        message: e.to_string(),
    })?;
    Ok((Arc::new(certified), Loaded { cert: cert_pem, key: key_pem }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let cert =
            rcgen::CertificateParams::new(vec![name.to_owned()]).expect("params").self_signed(&key).expect("cert");
        (cert.pem(), key.serialize_pem())
    }

    fn write(dir: &Path, (cert, key): &(String, String)) -> (PathBuf, PathBuf) {
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert).expect("write cert");
        std::fs::write(&k, key).expect("write key");
        (c, k)
    }

    fn served(files: &CertFiles) -> Vec<u8> {
        files.current.read().expect("lock").0.cert[0].to_vec()
    }

    #[tokio::test]
    async fn a_bad_pair_is_refused_and_the_previous_certificate_stays() {
        let dir = tempfile::tempdir().expect("dir");
        let first = pair("one.test");
        let (cert, key) = write(dir.path(), &first);
        let stop = CancellationToken::new();
        let (files, task) = CertFiles::start(&cert, &key, false, stop.clone()).expect("start");
        let original = served(&files);
        assert!(!files.reload().expect("unchanged"), "the same files are not a new certificate");

        // A key from another pair, garbage, and a missing file: each refused, the first certificate stays.
        let other = pair("two.test");
        std::fs::write(&key, &other.1).expect("write");
        assert!(matches!(files.reload(), Err(LoadError::Mismatch { .. })));
        std::fs::write(&cert, "not a certificate").expect("write");
        assert!(matches!(files.reload(), Err(LoadError::NoCertificate { .. })));
        std::fs::remove_file(&cert).expect("remove");
        assert!(matches!(files.reload(), Err(LoadError::Read { .. })));
        assert_eq!(served(&files), original);

        write(dir.path(), &other);
        assert!(files.reload().expect("reload"));
        assert_ne!(served(&files), original);
        stop.cancel();
        task.await.expect("task");
    }

    #[test]
    fn a_bad_pair_at_start_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, key) = write(dir.path(), &pair("one.test"));
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").expect("write");
        assert!(load(&cert, &key).is_err());
        assert!(matches!(load(&dir.path().join("missing.pem"), &key), Err(LoadError::Read { .. })));
    }
}
