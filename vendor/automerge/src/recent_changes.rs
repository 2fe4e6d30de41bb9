//! The latest changes added to a document, kept as they were built or received.
//!
//! A document keeps its history as operations and change metadata, not as encoded changes, and builds
//! a change again from them whenever one is asked for (`get_changes`, the changes of a sync message).
//! The changes asked for are nearly always the latest: a store writing what was just committed, a
//! sync server forwarding what it just received to every other peer. Keeping the last few as they
//! are saves building each of them again, once per store write and once per peer.

use std::collections::VecDeque;

use crate::{Change, ChangeHash};

/// How many of the latest changes are kept.
const RECENT_CHANGES: usize = 32;

/// How many bytes of changes are kept at most; a larger change is not kept at all.
const RECENT_CHANGE_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Default)]
pub(crate) struct RecentChanges {
    changes: VecDeque<Change>,
    bytes: usize,
}

impl RecentChanges {
    /// Keeps `change`, forgetting the oldest beyond the limits.
    pub(crate) fn push(&mut self, change: &Change) {
        let len = change.raw_bytes().len();
        if len > RECENT_CHANGE_BYTES {
            return;
        }
        self.changes.push_back(change.clone());
        self.bytes += len;
        while self.changes.len() > RECENT_CHANGES || self.bytes > RECENT_CHANGE_BYTES {
            match self.changes.pop_front() {
                Some(old) => self.bytes -= old.raw_bytes().len(),
                None => break,
            }
        }
    }

    /// The changes with these hashes, in this order, if every one of them is kept.
    pub(crate) fn get_all(&self, hashes: &[ChangeHash]) -> Option<Vec<Change>> {
        if hashes.len() > self.changes.len() {
            return None;
        }
        hashes
            .iter()
            .map(|hash| {
                self.changes
                    .iter()
                    .rev()
                    .find(|c| c.hash() == *hash)
                    .cloned()
            })
            .collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.changes.len()
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

    /// On the document that made the changes and on one that received them: what `get_changes`,
    /// `get_changes_by_hashes` and `get_change_by_hash` answer from the kept changes is what the
    /// history builds, for the latest change, the latest few, and more than are kept.
    fn check_against_history(made: &Automerge, heads: &[Vec<ChangeHash>]) -> Automerge {
        let mut received = Automerge::new();
        received.apply_changes(made.get_changes(&[])).unwrap();
        assert_eq!(received.get_heads(), made.get_heads());
        for doc in [made, &received] {
            assert!(doc.recent_changes.len() <= RECENT_CHANGES);
            for since in heads.iter().rev().take(RECENT_CHANGES + 4) {
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
        let mut made = Automerge::new();
        let text = made
            .transact::<_, _, AutomergeError>(|tx| tx.put_object(ROOT, "text", ObjType::Text))
            .unwrap()
            .result;
        let mut heads = vec![made.get_heads()];
        for i in 0..(RECENT_CHANGES + 8) {
            made.transact::<_, _, AutomergeError>(|tx| {
                tx.splice_text(&text, 0, 0, &"ab".repeat(i + 1))?;
                tx.put(ROOT, format!("k{i}"), i as i64)
            })
            .unwrap();
            heads.push(made.get_heads());
        }
        let received = check_against_history(&made, &heads);
        for doc in [&made, &received] {
            assert_eq!(doc.recent_changes.len(), RECENT_CHANGES);
            let latest = doc.get_changes(&heads[heads.len() - 5]);
            let hashes: Vec<ChangeHash> = latest.iter().map(|c| c.hash()).collect();
            assert_eq!(hashes.len(), 4);
            assert!(doc.recent_changes.get_all(&hashes).is_some());
            assert_eq!(doc.text(&text).unwrap(), made.text(&text).unwrap());
        }

        // A change larger than the byte limit is not kept, and is still answered.
        let big = "x".repeat(RECENT_CHANGE_BYTES + 1);
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
}
