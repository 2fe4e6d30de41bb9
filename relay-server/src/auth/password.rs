//! Password hashing with argon2id, off the async runtime and bounded in concurrency.
//!
//! A bounded pool: `limit` hasher threads (about one per core; each hash takes ~19 MiB), the rest queue,
//! and a request that waits longer than the queue timeout is answered 503 with `Retry-After` instead of
//! piling up behind a burst. The threads are the pool's own, not the runtime's blocking pool: there every
//! hash could land on a fresh thread, and the allocator kept a 19 MiB arena for each (docs/benchmarks.md).

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHasher as _};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Hashes and verifies passwords. Each hash takes ~19 MiB and tens of milliseconds of a core, so at most
/// `limit` run at once; the rest wait their turn instead of exhausting memory under a sign-up flood.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    queue_timeout: Duration,
    /// The hasher threads take their work from here; they end when the last clone is dropped.
    jobs: SyncSender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// How long a sign-in waits for a hasher before it is told to come back.
pub const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

impl PasswordHasher {
    /// Starts `limit` hasher threads.
    pub fn new(limit: usize, queue_timeout: Duration) -> std::io::Result<Self> {
        let limit = limit.max(1);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(limit);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..limit {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("password-hasher-{i}")).spawn(move || hasher_thread(&queue))?;
        }
        Ok(Self { permits: Arc::new(Semaphore::new(limit)), queue_timeout, jobs })
    }

    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        self.blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| ApiError::Internal(format!("argon2 hash: {e}")))
        })
        .await
    }

    /// Checks `password` against a stored hash. With `None` (no such user) it still spends the time of a
    /// real check, so response timing does not reveal which emails have accounts.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        self.blocking(move || {
            let stored = stored.as_deref().unwrap_or_else(|| dummy_hash());
            let parsed =
                PasswordHash::new(stored).map_err(|e| ApiError::Internal(format!("stored hash unreadable: {e}")))?;
            Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let busy = ApiError::Busy { retry_after_secs: self.queue_timeout.as_secs().max(1) };
        let _permit = tokio::time::timeout(self.queue_timeout, self.permits.acquire())
            .await
            .map_err(|_| busy)?
            .map_err(|_| ApiError::Internal("password hasher closed".into()))?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if answer.send(work()).is_err() {
                tracing::debug!("a password check's caller left before its answer");
            }
        });
        // A permit per thread, so with one held there is room in the queue.
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => ApiError::Busy { retry_after_secs: 1 },
            TrySendError::Disconnected(_) => ApiError::Internal("password hashers stopped".into()),
        })?;
        answered.await.map_err(|_| ApiError::Internal("a password hasher thread ended".into()))?
    }
}

fn hasher_thread(queue: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for a job, never while running one.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// A hash of a random, discarded secret: nothing a user types can match it.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        let secret = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(secret.as_str().as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_only_their_password() {
        let hasher = PasswordHasher::new(2, QUEUE_TIMEOUT).expect("hashers");
        let hash = hasher.hash("correct horse".into()).await.expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(hasher.verify("correct horse".into(), Some(hash.clone())).await.expect("verify"));
        assert!(!hasher.verify("wrong horse".into(), Some(hash)).await.expect("verify"));
        assert!(!hasher.verify("correct horse".into(), None).await.expect("verify"));
    }

    #[tokio::test]
    async fn a_sign_in_that_waits_too_long_for_a_hasher_is_told_to_come_back() {
        let hasher = PasswordHasher::new(1, Duration::from_millis(1)).expect("hashers");
        // Hold the only hasher, as a burst would, so the next request queues.
        let held = hasher.permits.clone().acquire_owned().await.expect("permit");
        let refused = hasher.hash("correct horse".into()).await.expect_err("no hasher free");
        assert!(matches!(refused, ApiError::Busy { retry_after_secs: 1 }), "{refused:?}");
        let response = axum::response::IntoResponse::into_response(refused);
        assert_eq!(response.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
        drop(held);
        assert!(hasher.hash("correct horse".into()).await.is_ok(), "free again after the burst");
    }
}
