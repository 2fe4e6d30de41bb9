//! Which database a relay runs on: the embedded SQLite in its data directory (the default), or a PostgreSQL
//! shared by every instance (`--database-url`, docs/scale-out.md), and the checks of the URLs that say so.

/// The database behind a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `relay.db` in the data directory; one relay process.
    Sqlite,
    /// A PostgreSQL server shared by any number of relay instances.
    Postgres,
}

/// Why a database or NATS URL is refused. The URL itself is never repeated: it may carry a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("{flag} is not a URL")]
    NotAUrl { flag: &'static str },
    #[error("{flag} must start with {expected}, not {scheme}://")]
    Scheme { flag: &'static str, expected: &'static str, scheme: String },
    #[error("{flag} names no host")]
    NoHost { flag: &'static str },
}

fn check(flag: &'static str, url: &str, schemes: &[&str], expected: &'static str) -> Result<(), UrlError> {
    let parsed = url::Url::parse(url).map_err(|_| UrlError::NotAUrl { flag })?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(UrlError::Scheme { flag, expected, scheme: parsed.scheme().to_owned() });
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(UrlError::NoHost { flag });
    }
    Ok(())
}

/// The backend `--database-url` selects: none means the embedded SQLite.
pub fn backend(database_url: Option<&str>) -> Result<Backend, UrlError> {
    match database_url {
        None => Ok(Backend::Sqlite),
        Some(url) => {
            check("--database-url", url, &["postgres", "postgresql"], "postgres://").map(|()| Backend::Postgres)
        }
    }
}

/// Checks a `--nats-url` (`nats://` or `tls://`, as NATS clients take them).
pub fn check_nats_url(url: &str) -> Result<(), UrlError> {
    check("--nats-url", url, &["nats", "tls"], "nats:// or tls://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_select_a_backend_and_bad_ones_are_refused_without_echoing_them() {
        assert_eq!(backend(None), Ok(Backend::Sqlite));
        assert_eq!(backend(Some("postgres://relay:secret@db.internal:5432/teamflow")), Ok(Backend::Postgres));
        assert_eq!(backend(Some("postgresql://db/teamflow")), Ok(Backend::Postgres));
        let wrong = backend(Some("mysql://relay:hunter2@db/teamflow")).expect_err("mysql is not supported");
        assert_eq!(wrong, UrlError::Scheme { flag: "--database-url", expected: "postgres://", scheme: "mysql".into() });
        assert!(!wrong.to_string().contains("hunter2"), "{wrong}");
        assert_eq!(backend(Some("db.internal/teamflow")), Err(UrlError::NotAUrl { flag: "--database-url" }));
        assert_eq!(backend(Some("postgres:///teamflow")), Err(UrlError::NoHost { flag: "--database-url" }));
    }

    #[test]
    fn nats_urls_are_checked() {
        assert!(check_nats_url("nats://127.0.0.1:4222").is_ok());
        assert!(check_nats_url("tls://nats.internal:4222").is_ok());
        assert_eq!(
            check_nats_url("http://nats.internal"),
            Err(UrlError::Scheme { flag: "--nats-url", expected: "nats:// or tls://", scheme: "http".into() })
        );
    }
}
