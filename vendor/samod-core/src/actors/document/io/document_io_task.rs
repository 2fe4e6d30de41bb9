use crate::{PeerId, io::StorageTask};

#[derive(Debug)]
pub enum DocumentIoTask {
    Storage(StorageTask),
    /// Resolve sharing permissions before any document sync is processed.
    CheckSharePolicy {
        peer_id: PeerId,
    },
    /// Ask the share policy again, now, about a peer whose current decision
    /// denies it: a request arrived that the decision would refuse, and the
    /// decision may be older than the peer's access (see
    /// `SharePolicy::recheck` in samod). Answered with a
    /// [`DocumentIoResult::CheckSharePolicy`](super::DocumentIoResult).
    RecheckSharePolicy {
        peer_id: PeerId,
    },
}
