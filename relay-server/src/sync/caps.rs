//! Per-user caps on what live connections may hold on the relay: connections (document sync and realtime
//! rooms counted apart), documents open through sync, and sync frames per second. One user, however many
//! sockets they open, cannot grow the relay's memory or CPU past these.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultKeyedRateLimiter, Quota};
use samod::DocumentId;
use teamflow_protocol::UserId;

use crate::error::ApiError;

/// A count per user with a ceiling.
#[derive(Debug)]
pub struct PerUser {
    max: usize,
    counts: Mutex<HashMap<UserId, usize>>,
}

impl PerUser {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max, counts: Mutex::default() })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, usize>> {
        self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes one for `user` if under the ceiling.
    pub fn try_take(&self, user: UserId) -> bool {
        let mut counts = self.counts();
        let count = counts.entry(user).or_default();
        if *count >= self.max {
            return false;
        }
        *count += 1;
        true
    }

    /// Gives back `n` taken for `user`.
    pub fn give_back(&self, user: UserId, n: usize) {
        let mut counts = self.counts();
        if let Some(count) = counts.get_mut(&user) {
            *count = count.saturating_sub(n);
            if *count == 0 {
                counts.remove(&user);
            }
        }
    }

    /// One connection of `user`, held until the returned slot drops; refused with 429 over the ceiling.
    pub fn connection(self: &Arc<Self>, user: UserId, what: &'static str) -> Result<Slot, ApiError> {
        if !self.try_take(user) {
            tracing::info!(%user, what, "per-user connection cap reached");
            return Err(ApiError::RateLimited { retry_after_secs: 5 });
        }
        Ok(Slot { owner: self.clone(), user })
    }
}

/// One connection counted against its user until dropped.
#[derive(Debug)]
pub struct Slot {
    owner: Arc<PerUser>,
    user: UserId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.owner.give_back(self.user, 1);
    }
}

/// The documents each user holds open through sync, on any number of connections. The ceiling is on
/// distinct documents (what the relay keeps loaded for them), so a device that reconnects while its old
/// connection is still closing is not refused the documents it had open.
#[derive(Debug)]
pub struct OpenDocuments {
    max: usize,
    /// Per user, per document, how many connections hold it open.
    open: Mutex<HashMap<UserId, HashMap<DocumentId, usize>>>,
}

impl OpenDocuments {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max, open: Mutex::default() })
    }

    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, HashMap<DocumentId, usize>>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Opens `document` for one more of `user`'s connections: one already open on another counts once, a
    /// new one only under the ceiling.
    pub fn try_open(&self, user: UserId, document: &DocumentId) -> bool {
        let mut open = self.open();
        let documents = open.entry(user).or_default();
        if let Some(connections) = documents.get_mut(document) {
            *connections += 1;
            return true;
        }
        if documents.len() >= self.max {
            if documents.is_empty() {
                open.remove(&user);
            }
            return false;
        }
        documents.insert(document.clone(), 1);
        true
    }

    /// Closes the documents one of `user`'s connections held open.
    pub fn close<'a>(&self, user: UserId, documents: impl IntoIterator<Item = &'a DocumentId>) {
        let mut open = self.open();
        let Some(held) = open.get_mut(&user) else { return };
        for document in documents {
            if let Some(connections) = held.get_mut(document) {
                *connections -= 1;
                if *connections == 0 {
                    held.remove(document);
                }
            }
        }
        if held.is_empty() {
            open.remove(&user);
        }
    }
}

/// The caps, as configured.
#[derive(Debug, Clone, Copy)]
pub struct CapsConfig {
    pub sync_connections_per_user: usize,
    pub ws_connections_per_user: usize,
    pub sync_documents_per_user: usize,
    pub sync_frames_per_second: u32,
    pub sync_frame_burst: u32,
}

/// The relay's per-user caps on live connections, shared by every socket.
#[derive(Debug, Clone)]
pub struct Caps {
    pub sync_connections: Arc<PerUser>,
    pub ws_connections: Arc<PerUser>,
    pub(super) documents: Arc<OpenDocuments>,
    pub(super) frames: Arc<DefaultKeyedRateLimiter<UserId>>,
}

impl Caps {
    pub fn new(config: CapsConfig) -> Self {
        let rate = NonZeroU32::new(config.sync_frames_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(config.sync_frame_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            sync_connections: PerUser::new(config.sync_connections_per_user),
            ws_connections: PerUser::new(config.ws_connections_per_user),
            documents: OpenDocuments::new(config.sync_documents_per_user),
            frames: Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_holds_at_most_the_ceiling_and_gets_slots_back_on_drop() {
        let per_user = PerUser::new(2);
        let (alice, bob) = (UserId::new(), UserId::new());
        let first = per_user.connection(alice, "test").expect("first");
        let _second = per_user.connection(alice, "test").expect("second");
        assert!(per_user.connection(alice, "test").is_err(), "a third is refused");
        assert!(per_user.connection(bob, "test").is_ok(), "others are counted apart");
        drop(first);
        assert!(per_user.connection(alice, "test").is_ok(), "a closed connection frees its slot");
    }

    #[test]
    fn a_document_open_on_several_of_a_users_connections_counts_once() {
        let documents = OpenDocuments::new(2);
        let (alice, bob) = (UserId::new(), UserId::new());
        let [one, two, three]: [DocumentId; 3] = std::array::from_fn(|_| {
            DocumentId::try_from(uuid::Uuid::new_v4().as_bytes().to_vec()).expect("a document id")
        });
        // The old connection, still closing, holds one; the new one opens one again, then two.
        assert!(documents.try_open(alice, &one));
        assert!(documents.try_open(alice, &one), "already open: counted once");
        assert!(documents.try_open(alice, &two));
        assert!(!documents.try_open(alice, &three), "a third distinct document is over the ceiling");
        assert!(documents.try_open(bob, &three), "others are counted apart");
        // The old connection closes: one is still open on the new one.
        documents.close(alice, [&one]);
        assert!(!documents.try_open(alice, &three), "one and two are still open");
        documents.close(alice, [&one, &two]);
        assert!(documents.try_open(alice, &three), "closed everywhere, the room is back");
        documents.close(alice, [&three]);
        documents.close(bob, [&three]);
        assert!(documents.open().is_empty(), "nothing kept for users with nothing open");
    }
}
