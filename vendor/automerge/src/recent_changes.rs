//! The latest changes added to a document, kept as they were built or received.
//!
//! A document keeps its history as operations and change metadata, not as encoded changes, and builds
//! a change again from them whenever one is asked for (`get_changes`, the changes of a sync message).
//! The changes asked for are nearly always the latest: a store writing what was just committed (one
//! change, or every change of a batch applied in one go), a sync server forwarding what it just
//! received to every other peer. Keeping the latest as they are saves building each of them again,
//! once per store write and once per peer.

use std::collections::VecDeque;

use crate::{Change, ChangeHash};

/// How many of the latest changes are kept unless the application asks for more
/// (`Automerge::keep_recent_changes`).
const RECENT_CHANGES: usize = 32;

/// How many bytes of changes are kept at most, unless more changes are (then 256 bytes a change); a
/// larger change is not kept at all.
const RECENT_CHANGE_BYTES: usize = 256 * 1024;
const BYTES_PER_CHANGE: usize = 256;

#[derive(Debug, Clone)]
pub(crate) struct RecentChanges {
    /// At most how many changes, and how many bytes of them, are kept.
    limits: (usize, usize),
    changes: VecDeque<Change>,
    bytes: usize,
}

impl Default for RecentChanges {
    fn default() -> Self {
        Self {
            limits: (RECENT_CHANGES, RECENT_CHANGE_BYTES),
            changes: VecDeque::new(),
            bytes: 0,
        }
    }
}

impl RecentChanges {
    /// Keeps a copy of `change` (just added to the document's history), forgetting the oldest beyond the
    /// limits. A copy rather than the change itself: its bytes then take no more memory than they need.
    pub(crate) fn push(&mut self, change: &Change) {
        let len = change.raw_bytes().len();
        if len > self.limits.1 {
            return;
        }
        self.changes.push_back(change.clone());
        self.bytes += len;
        self.trim();
    }

    /// The changes with these hashes, in this order, if every one of them is kept.
    ///
    /// Asked-for changes are nearly always the latest, in the order they were added: each is looked for
    /// first where the one before it was followed, then from the newest back.
    pub(crate) fn get_all(&self, hashes: &[ChangeHash]) -> Option<Vec<Change>> {
        if hashes.len() > self.changes.len() {
            return None;
        }
        let mut found = Vec::with_capacity(hashes.len());
        let mut next = None;
        for hash in hashes {
            let at = match next {
                Some(at) if self.changes.get(at).is_some_and(|c: &Change| c.hash() == *hash) => at,
                _ => self.changes.iter().rposition(|c| c.hash() == *hash)?,
            };
            found.push(self.changes[at].clone());
            next = Some(at + 1);
        }
        Some(found)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.changes.len()
    }

    /// Keeps at least the latest `changes` changes (never fewer than the default), dropping the
    /// oldest now if that is fewer than are kept.
    pub(crate) fn keep(&mut self, changes: usize) {
        let most = changes.max(RECENT_CHANGES);
        self.limits = (
            most,
            most.saturating_mul(BYTES_PER_CHANGE).max(RECENT_CHANGE_BYTES),
        );
        self.trim();
    }

    fn trim(&mut self) {
        let (most, most_bytes) = self.limits;
        while self.changes.len() > most || self.bytes > most_bytes {
            match self.changes.pop_front() {
                Some(old) => self.bytes -= old.raw_bytes().len(),
                None => break,
            }
        }
    }

    /// Smaller limits, for tests that go past them.
    #[cfg(test)]
    pub(crate) fn with_limits(changes: usize, bytes: usize) -> Self {
        Self {
            limits: (changes, bytes),
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op_set2::change::collector::ChangeCollector;
    use crate::transaction::Transactable;
    use crate::{Automerge, AutomergeError, ObjType, ReadDoc, ROOT};

    /// The changes history builds again, byte for byte.
    fn built(doc: &Automerge, since: &[ChangeHash]) -> Vec<Vec<u8>> {
        ChangeCollector::exclude_hashes(&doc.ops, &doc.change_graph, since)
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    }

    fn bytes(changes: &[Change]) -> Vec<Vec<u8>> {
        changes.iter().map(|c| c.raw_bytes().to_vec()).collect()
    }

    /// Limits small enough for a test to go past them quickly.
    const MOST: usize = 32;
    const MOST_BYTES: usize = 16 * 1024;

    fn small() -> Automerge {
        let mut doc = Automerge::new();
        doc.recent_changes = RecentChanges::with_limits(MOST, MOST_BYTES);
        doc
    }

    /// On the document that made the changes and on one that received them: what `get_changes`,
    /// `get_changes_by_hashes` and `get_change_by_hash` answer from the kept changes is what the
    /// history builds, for the latest change, the latest few, and more than are kept.
    fn check_against_history(made: &Automerge, heads: &[Vec<ChangeHash>]) -> Automerge {
        let mut received = small();
        received.apply_changes(made.get_changes(&[])).unwrap();
        assert_eq!(received.get_heads(), made.get_heads());
        for doc in [made, &received] {
            assert!(doc.recent_changes.len() <= MOST);
            for since in heads.iter().rev().take(MOST + 4) {
                let changes = doc.get_changes(since);
                assert_eq!(bytes(&changes), built(doc, since));
                let hashes: Vec<ChangeHash> = changes.iter().map(|c| c.hash()).collect();
                assert_eq!(
                    bytes(&doc.get_changes_by_hashes(hashes).unwrap()),
                    built(doc, since)
                );
            }
        }
        received
    }

    #[test]
    fn kept_changes_are_the_changes_history_builds() {
        let mut made = small();
        let text = made
            .transact::<_, _, AutomergeError>(|tx| tx.put_object(ROOT, "text", ObjType::Text))
            .unwrap()
            .result;
        let mut heads = vec![made.get_heads()];
        for i in 0..(MOST + 8) {
            made.transact::<_, _, AutomergeError>(|tx| {
                tx.splice_text(&text, 0, 0, &"ab".repeat(i + 1))?;
                tx.put(ROOT, format!("k{i}"), i as i64)
            })
            .unwrap();
            heads.push(made.get_heads());
        }
        let received = check_against_history(&made, &heads);
        for doc in [&made, &received] {
            assert_eq!(doc.recent_changes.len(), MOST);
            let latest = doc.get_changes(&heads[heads.len() - 5]);
            let hashes: Vec<ChangeHash> = latest.iter().map(|c| c.hash()).collect();
            assert_eq!(hashes.len(), 4);
            assert!(doc.recent_changes.get_all(&hashes).is_some());
            assert_eq!(doc.text(&text).unwrap(), made.text(&text).unwrap());
        }

        // A change larger than the byte limit is not kept, and is still answered.
        let big = "x".repeat(MOST_BYTES + 1);
        made.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "big", big.as_str()))
            .unwrap();
        heads.push(made.get_heads());
        made.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "after", 1))
            .unwrap();
        heads.push(made.get_heads());
        let received = check_against_history(&made, &heads);
        for doc in [&made, &received] {
            let big_change = doc.get_changes(&heads[heads.len() - 3]).remove(0);
            assert!(doc.recent_changes.get_all(&[big_change.hash()]).is_none());
            assert_eq!(
                doc.get_change_by_hash(&big_change.hash())
                    .unwrap()
                    .raw_bytes(),
                big_change.raw_bytes()
            );
        }
    }

    /// Asked to keep a batch, a document keeps thousands of keystrokes committed in one go (a paste, a
    /// replay) for the store to write without building any again; asked for less, it keeps less.
    #[test]
    fn a_batch_of_keystrokes_is_kept_whole_when_asked() {
        let mut doc = Automerge::new();
        let text = doc
            .transact::<_, _, AutomergeError>(|tx| tx.put_object(ROOT, "text", ObjType::Text))
            .unwrap()
            .result;
        let before = doc.get_heads();
        // A burst as large as an editor applies at once (TeamFlow's text writer: 4,096 edits a pass).
        const BATCH: usize = 4096;
        doc.keep_recent_changes(BATCH);
        for i in 0..BATCH {
            doc.transact::<_, _, AutomergeError>(|tx| tx.splice_text(&text, i, 0, "a"))
                .unwrap();
        }
        let hashes = doc.change_graph.get_hashes(&before).to_vec();
        assert_eq!(hashes.len(), BATCH);
        let kept = doc.recent_changes.get_all(&hashes).expect("the whole batch is kept");
        assert_eq!(bytes(&kept), built(&doc, &before));
        assert_eq!(bytes(&doc.get_changes(&before)), bytes(&kept));

        doc.keep_recent_changes(1);
        assert_eq!(doc.recent_changes.len(), RECENT_CHANGES);
        assert!(doc.recent_changes.get_all(&hashes).is_none());
        assert_eq!(bytes(&doc.get_changes(&before)), bytes(&kept));
    }
}
