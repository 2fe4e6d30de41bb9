//! Text documents: a root map whose `text` field is collaborative text, the shape automerge-repo's
//! JavaScript clients get from `doc.text = "..."`.

use automerge::transaction::Transactable;
use automerge::{Automerge, ChangeHash, ObjType, ROOT, ReadDoc};
use samod::DocHandle;

use crate::SyncError;

/// The root field holding a text document's text.
pub const TEXT_FIELD: &str = "text";

pub(crate) fn new_text_document(initial: &str) -> Result<Automerge, SyncError> {
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    let text = tx.put_object(ROOT, TEXT_FIELD, ObjType::Text)?;
    tx.splice_text(&text, 0, 0, initial)?;
    tx.commit();
    Ok(doc)
}

/// The document's text (empty when it has none yet, as while a find is still syncing).
pub fn read_text(handle: &DocHandle) -> String {
    handle.with_document(|doc| match doc.get(ROOT, TEXT_FIELD) {
        Ok(Some((_, text))) => doc.text(&text).unwrap_or_default(),
        _ => String::new(),
    })
}

/// Deletes `delete` characters at `position` and inserts `insert` there, as one change.
pub fn splice_text(handle: &DocHandle, position: usize, delete: isize, insert: &str) -> Result<(), SyncError> {
    handle.with_document(|doc| {
        let text = match doc.get(ROOT, TEXT_FIELD)? {
            Some((_, id)) => id,
            None => {
                let mut tx = doc.transaction();
                let id = tx.put_object(ROOT, TEXT_FIELD, ObjType::Text)?;
                tx.commit();
                id
            }
        };
        let mut tx = doc.transaction();
        tx.splice_text(&text, position, delete, insert)?;
        tx.commit();
        Ok(())
    })
}

/// The document's current heads, sorted: equal heads mean identical documents.
pub fn heads(handle: &DocHandle) -> Vec<ChangeHash> {
    let mut heads = handle.with_document(|doc| doc.get_heads());
    heads.sort();
    heads
}
