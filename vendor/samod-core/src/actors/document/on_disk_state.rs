use std::collections::{HashMap, HashSet};

use automerge::Automerge;

use crate::{
    DocumentId, StorageKey,
    actors::document::DocActorResult,
    io::{IoTaskId, StorageResult},
};

mod compaction_hash;
pub use compaction_hash::CompactionHash;

/// A compaction is worth its cost (saving the whole document) once the changes
/// written as incremental chunks since the last snapshot outnumber the
/// snapshot's own changes, and at least this many: the cost is then amortised
/// over as many changes as the document holds, so a burst of edits (a paste, a
/// replay, a long offline session syncing in) compacts a logarithmic number of
/// times rather than after every write.
const MIN_COMPACTION_CHANGES: usize = 256;

/// However few changes they hold, incremental chunks beyond this many bytes
/// (and beyond `SNAPSHOT_BYTES_FACTOR` times the snapshot) are compacted:
/// a change costs far more bytes on its own than inside a snapshot.
const MIN_COMPACTION_BYTES: usize = 8 << 20;
const SNAPSHOT_BYTES_FACTOR: usize = 8;

/// A document loaded from more chunks than this is compacted at once.
const MAX_LOADED_CHUNKS: usize = 64;

#[derive(Debug)]
pub(super) struct OnDiskState {
    last_saved_heads: Option<Vec<automerge::ChangeHash>>,
    on_disk: HashSet<StorageKey>,
    compaction: Option<Compaction>,
    deletions: HashSet<StorageKey>,
    running_puts: HashMap<IoTaskId, StorageKey>,
    running_deletes: HashMap<IoTaskId, StorageKey>,
    /// Incremental chunks whose changes a landed compaction holds, but whose
    /// own write was still running: deleted once that write lands.
    superseded_running: HashSet<StorageKey>,
    /// Changes in the newest snapshot; `None` until known (after a load).
    snapshot_changes: Option<usize>,
    snapshot_bytes: usize,
    /// Changes and bytes written as incremental chunks since the newest snapshot.
    incremental_changes: usize,
    incremental_bytes: usize,
    /// Set after a load from many chunks: compact at the next step.
    compact_soon: bool,
}

#[derive(Debug)]
struct Compaction {
    task: IoTaskId,
    supercedes: HashSet<StorageKey>,
    /// Changes in the snapshot, when known without counting.
    changes: Option<usize>,
    bytes: usize,
}

impl OnDiskState {
    pub(super) fn new() -> Self {
        Self {
            last_saved_heads: None,
            on_disk: HashSet::new(),
            compaction: None,
            deletions: HashSet::new(),
            running_deletes: HashMap::new(),
            running_puts: HashMap::new(),
            superseded_running: HashSet::new(),
            snapshot_changes: Some(0),
            snapshot_bytes: 0,
            incremental_changes: 0,
            incremental_bytes: 0,
            compact_soon: false,
        }
    }

    /// Add keys that we know are now on disk
    pub(super) fn add_keys<I: Iterator<Item = StorageKey>>(&mut self, contents: I) {
        self.on_disk.extend(contents);
        if self.on_disk.len() > MAX_LOADED_CHUNKS {
            self.compact_soon = true;
        }
    }

    /// Everything in `doc` now came from storage or has been handed to it:
    /// called after a load, so that loading a document does not write it again.
    pub(super) fn loaded(&mut self, doc: &Automerge) {
        self.last_saved_heads = Some(doc.get_heads());
        // How the loaded changes split between snapshots and incremental
        // chunks is not known; counted as one snapshot when next needed.
        self.snapshot_changes = None;
        self.incremental_changes = 0;
        self.incremental_bytes = 0;
    }

    pub(super) fn save_new_changes(
        &mut self,
        out: &mut DocActorResult,
        doc_id: &DocumentId,
        doc: &Automerge,
    ) {
        self.issue_deletions(out);
        let heads = doc.get_heads();
        if self.last_saved_heads.as_ref() == Some(&heads) && !self.compact_soon {
            return;
        }
        if heads.is_empty() {
            self.last_saved_heads = Some(heads);
            return;
        }
        let since = self.last_saved_heads.clone().unwrap_or_default();
        // The changes since the last write are built first, and their count
        // decides whether to compact: a write is per change or burst, a
        // compaction (which does not need them) is rare. With no write yet
        // they would be the whole history, so they wait for that decision.
        let new_changes = (!since.is_empty()).then(|| doc.get_changes(&since));
        if self.compaction.is_none() {
            let new = new_changes.as_ref().map(Vec::len);
            if self.compaction_due(doc, new) {
                let changes = new
                    .and_then(|new| Some(self.snapshot_changes? + self.incremental_changes + new));
                self.compact(out, doc_id, doc, &heads, changes);
                self.last_saved_heads = Some(heads);
                return;
            }
        }
        // One chunk for every change made since the last write: a burst of
        // edits makes one storage write, not one per change.
        let new_changes = new_changes.unwrap_or_else(|| doc.get_changes(&since));
        let Some(last) = new_changes.last() else {
            self.last_saved_heads = Some(heads);
            return;
        };
        let key = StorageKey::incremental_path(doc_id, last.hash());
        let mut chunk = Vec::with_capacity(new_changes.iter().map(|c| c.raw_bytes().len()).sum());
        for change in &new_changes {
            chunk.extend_from_slice(change.raw_bytes());
        }
        self.incremental_changes += new_changes.len();
        self.incremental_bytes += chunk.len();
        let put_id = out.put(key.clone(), chunk);
        self.running_puts.insert(put_id, key);
        self.last_saved_heads = Some(heads);
    }

    /// Whether the incremental chunks, with `new` more changes (`None`: everything
    /// in the document is new), are worth compacting now.
    fn compaction_due(&mut self, doc: &Automerge, new: Option<usize>) -> bool {
        let Some(new) = new else {
            return true;
        };
        if std::mem::take(&mut self.compact_soon) {
            return true;
        }
        let snapshot_changes = *self
            .snapshot_changes
            .get_or_insert_with(|| doc.get_changes_meta(&[]).len().saturating_sub(new));
        let changes = self.incremental_changes + new;
        changes > snapshot_changes.max(MIN_COMPACTION_CHANGES)
            || self.incremental_bytes
                > (self.snapshot_bytes * SNAPSHOT_BYTES_FACTOR).max(MIN_COMPACTION_BYTES)
    }

    fn compact(
        &mut self,
        out: &mut DocActorResult,
        doc_id: &DocumentId,
        doc: &Automerge,
        heads: &[automerge::ChangeHash],
        changes: Option<usize>,
    ) {
        let hash = CompactionHash::new(heads);
        let key = StorageKey::snapshot_path(doc_id, &hash);
        let saved = doc.save();
        let bytes = saved.len();
        // Everything written so far is in this snapshot, including chunks
        // whose writes are still running.
        let mut supercedes = self.on_disk.clone();
        supercedes.extend(self.running_puts.values().cloned());
        // Make sure that we don't delete the compaction we're producing
        // somehow One way this can happen is if a previous process got
        // killed after writing the compacted chunk but before deleting the
        // incremental changes.
        supercedes.remove(&key);
        tracing::debug!(superseded = supercedes.len(), bytes, "compacting changes");
        let put_id = out.put(key.clone(), saved);
        self.compaction = Some(Compaction {
            task: put_id,
            supercedes,
            changes,
            bytes,
        });
        self.running_puts.insert(put_id, key);
        // Chunks written from now on are not in this snapshot.
        self.incremental_changes = 0;
        self.incremental_bytes = 0;
        self.compact_soon = false;
    }

    /// While stopping: writes what is new and, when storage holds more than the
    /// one snapshot, compacts, so the next load reads one chunk. Waits (returns
    /// without compacting) while a compaction is in flight.
    pub(super) fn finish(
        &mut self,
        out: &mut DocActorResult,
        doc_id: &DocumentId,
        doc: &Automerge,
    ) {
        self.issue_deletions(out);
        if self.last_saved_heads.is_none() || self.compaction.is_some() {
            return;
        }
        let heads = doc.get_heads();
        if heads.is_empty() {
            return;
        }
        let writing = self
            .running_puts
            .values()
            .filter(|key| !self.superseded_running.contains(*key))
            .count();
        if self.last_saved_heads.as_ref() != Some(&heads) || self.on_disk.len() + writing > 1 {
            self.compact(out, doc_id, doc, &heads, None);
            self.last_saved_heads = Some(heads);
        }
    }

    fn issue_deletions(&mut self, out: &mut DocActorResult) {
        for deletion in self.deletions.drain() {
            let delete_id = out.delete(deletion.clone());
            self.running_deletes.insert(delete_id, deletion);
        }
    }

    /// Whether every write and deletion has completed (and none is waiting to start).
    pub(super) fn is_settled(&self) -> bool {
        self.running_puts.is_empty()
            && self.running_deletes.is_empty()
            && self.deletions.is_empty()
            && self.compaction.is_none()
    }

    /// The writes (incremental chunks and compactions) not yet complete.
    pub(super) fn running_puts(&self) -> impl Iterator<Item = IoTaskId> + '_ {
        self.running_puts.keys().copied()
    }

    pub(super) fn has_task(&self, task_id: IoTaskId) -> bool {
        self.running_puts.contains_key(&task_id) || self.running_deletes.contains_key(&task_id)
    }

    pub(super) fn task_complete(&mut self, task_id: IoTaskId, result: StorageResult) {
        match result {
            StorageResult::Put => {
                if let Some(compaction_key) = self.running_puts.remove(&task_id) {
                    tracing::debug!(key=%compaction_key, "compaction put completed for key");
                    self.mark_put_complete(task_id, compaction_key);
                } else {
                    panic!("put complete for unknown task id: {:?}", task_id);
                }
            }
            StorageResult::Delete => {
                if let Some(deletion_key) = self.running_deletes.remove(&task_id) {
                    self.mark_delete_complete(deletion_key);
                } else {
                    panic!("delete complete for unknown task id: {:?}", task_id);
                }
            }
            _ => panic!("unexpected storage result"),
        }
    }

    fn mark_put_complete(&mut self, task_id: IoTaskId, key: StorageKey) {
        if let Some(compaction) = &self.compaction
            && compaction.task == task_id
        {
            tracing::debug!("compacted chunk saved, deleting superceded data");
            let compaction = self.compaction.take().expect("checked above");
            self.snapshot_changes = compaction.changes;
            self.snapshot_bytes = compaction.bytes;
            // We're marking these as deleted before we get confirmation that they
            // are deleted. This is okay, worst case we end up with some extra data
            // on disk which gets cleared up on next boot.
            for key in compaction.supercedes {
                if self.on_disk.remove(&key) {
                    self.deletions.insert(key);
                } else {
                    // Still being written: deleting it now could race the write.
                    self.superseded_running.insert(key);
                }
            }
            self.on_disk.insert(key);
            return;
        }
        if self.superseded_running.remove(&key) {
            self.deletions.insert(key);
            return;
        }
        self.on_disk.insert(key);
    }

    fn mark_delete_complete(&mut self, key: StorageKey) {
        // Probably this has already been removed in the handling of the compaction completion, but
        // we might as well be robust
        self.on_disk.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use automerge::{AutomergeError, ROOT, transaction::Transactable};

    use super::*;
    use crate::{actors::document::io::DocumentIoTask, io::StorageTask};

    /// Storage the state writes to, with each write held until the test lands it.
    #[derive(Default)]
    struct Disk {
        stored: BTreeMap<String, Vec<u8>>,
        pending: Vec<(IoTaskId, StorageTask)>,
    }

    impl Disk {
        fn take(&mut self, out: DocActorResult) {
            for task in out.io_tasks {
                let DocumentIoTask::Storage(storage) = task.action else {
                    panic!("only storage tasks expected");
                };
                self.pending.push((task.task_id, storage));
            }
        }

        /// Lands the pending write at `index` (in issue order).
        fn land(&mut self, state: &mut OnDiskState, index: usize) {
            let (id, task) = self.pending.remove(index);
            let result = match task {
                StorageTask::Put { key, value } => {
                    self.stored.insert(key.to_string(), value);
                    StorageResult::Put
                }
                StorageTask::Delete { key } => {
                    self.stored.remove(&key.to_string());
                    StorageResult::Delete
                }
                other => panic!("unexpected task {other:?}"),
            };
            state.task_complete(id, result);
        }

        fn land_all(&mut self, state: &mut OnDiskState) {
            while !self.pending.is_empty() {
                self.land(state, 0);
            }
        }

        fn kinds(&self) -> (usize, usize) {
            let snapshots = self
                .stored
                .keys()
                .filter(|k| k.contains("/snapshot/"))
                .count();
            (snapshots, self.stored.len() - snapshots)
        }

        /// The document loaded back from everything stored.
        fn load(&self) -> Automerge {
            let mut doc = Automerge::new();
            for chunk in self.stored.values() {
                doc.load_incremental(chunk).expect("every chunk loads");
            }
            doc
        }
    }

    fn edit(doc: &mut Automerge, i: usize) {
        doc.transact(|tx| {
            tx.put(ROOT, "key", i as i64)?;
            Ok::<_, AutomergeError>(())
        })
        .unwrap();
    }

    fn save(state: &mut OnDiskState, disk: &mut Disk, doc_id: &DocumentId, doc: &Automerge) {
        let mut out = DocActorResult::new();
        state.save_new_changes(&mut out, doc_id, doc);
        disk.take(out);
    }

    #[test]
    fn a_pass_of_changes_is_one_chunk_and_a_burst_compacts_a_logarithmic_number_of_times() {
        let doc_id = DocumentId::new(&mut rand::rng());
        let mut doc = Automerge::new();
        let mut state = OnDiskState::new();
        let mut disk = Disk::default();
        let mut compactions = 0;
        for pass in 0..400 {
            for i in 0..50 {
                edit(&mut doc, pass * 50 + i);
            }
            save(&mut state, &mut disk, &doc_id, &doc);
            compactions += usize::from(state.compaction.is_some());
            let puts = disk
                .pending
                .iter()
                .filter(|(_, task)| matches!(task, StorageTask::Put { .. }))
                .count();
            assert_eq!(puts, 1, "one write per pass");
            disk.land_all(&mut state);
        }
        // 20,000 changes: doubling from 256 compacts about log2(20000/256) + 2 times.
        assert!((3..=10).contains(&compactions), "{compactions} compactions");
        assert_eq!(disk.load().get_heads(), doc.get_heads(), "nothing lost");
    }

    #[test]
    fn a_landed_compaction_deletes_a_chunk_still_being_written_once_it_lands() {
        let doc_id = DocumentId::new(&mut rand::rng());
        let mut doc = Automerge::new();
        let mut state = OnDiskState::new();
        let mut disk = Disk::default();
        edit(&mut doc, 0);
        save(&mut state, &mut disk, &doc_id, &doc); // the first save is a snapshot
        disk.land_all(&mut state);
        edit(&mut doc, 1);
        save(&mut state, &mut disk, &doc_id, &doc);
        assert_eq!(
            disk.pending.len(),
            1,
            "an incremental chunk, still being written"
        );
        for i in 2..300 {
            edit(&mut doc, i);
        }
        save(&mut state, &mut disk, &doc_id, &doc);
        assert!(state.compaction.is_some(), "enough changes to compact");
        // The compaction lands before the incremental write does.
        disk.land(&mut state, 1);
        let mut out = DocActorResult::new();
        state.issue_deletions(&mut out);
        disk.take(out);
        assert_eq!(
            disk.pending.len(),
            2,
            "the incremental write and the old snapshot's deletion"
        );
        disk.land_all(&mut state);
        let mut out = DocActorResult::new();
        state.issue_deletions(&mut out);
        disk.take(out);
        assert_eq!(
            disk.pending.len(),
            1,
            "the landed incremental chunk is deleted now"
        );
        disk.land_all(&mut state);
        assert_eq!(disk.kinds(), (1, 0), "one snapshot, nothing else");
        assert!(state.is_settled());
        assert_eq!(disk.load().get_heads(), doc.get_heads());
    }

    #[test]
    fn finishing_leaves_one_snapshot_with_every_change() {
        let doc_id = DocumentId::new(&mut rand::rng());
        let mut doc = Automerge::new();
        let mut state = OnDiskState::new();
        let mut disk = Disk::default();
        for i in 0..20 {
            edit(&mut doc, i);
            save(&mut state, &mut disk, &doc_id, &doc);
            disk.land_all(&mut state);
        }
        assert_eq!(disk.kinds(), (1, 19), "a snapshot, then a chunk per pass");
        edit(&mut doc, 20); // not saved yet when the repo stops
        for _ in 0..10 {
            let mut out = DocActorResult::new();
            state.finish(&mut out, &doc_id, &doc);
            disk.take(out);
            if state.is_settled() {
                break;
            }
            disk.land_all(&mut state);
        }
        assert!(state.is_settled());
        assert_eq!(disk.kinds(), (1, 0));
        assert_eq!(
            disk.load().get_heads(),
            doc.get_heads(),
            "every change, the unsaved one too"
        );
    }

    #[test]
    fn a_document_loaded_from_many_chunks_is_compacted() {
        let doc_id = DocumentId::new(&mut rand::rng());
        let mut doc = Automerge::new();
        let mut state = OnDiskState::new();
        let mut keys = HashMap::new();
        for i in 0..(MAX_LOADED_CHUNKS + 1) {
            edit(&mut doc, i);
            let change = doc.get_last_local_change().unwrap();
            keys.insert(StorageKey::incremental_path(&doc_id, change.hash()), ());
        }
        state.loaded(&doc);
        state.add_keys(keys.into_keys());
        let mut disk = Disk::default();
        save(&mut state, &mut disk, &doc_id, &doc);
        assert!(state.compaction.is_some(), "compacted with no new change");
    }
}
