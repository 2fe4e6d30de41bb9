//! Editing a document from a view that lags behind it: a window shows the text as of some heads, the
//! person types, and meanwhile teammates' changes arrive. `edit_at` applies the view's edits as a branch
//! from the heads the view was showing and merges it, so the edits land where the person made them; the
//! answer says how the merged text differs from what the view now shows, so it can move its caret and
//! its own newer keystrokes rather than reload. Positions are Unicode code points.

use automerge::transaction::Transactable;
use automerge::{Automerge, ChangeHash, ObjId, ROOT, ReadDoc, patches::PatchAction};
use samod::DocHandle;

use crate::{Splice, SyncError, TEXT_FIELD};

/// The document's text at `heads`, and how to get there from what a view was showing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TextUpdate {
    /// The document's heads now (sorted; hex on the wire).
    #[cfg_attr(feature = "specta", specta(type = Vec<String>))]
    pub heads: Vec<ChangeHash>,
    pub text: String,
    /// Edits that turn the view's text (with its own edits applied) into `text`, in order, each
    /// relative to the text as the ones before it left it. Empty when nobody else changed anything.
    pub changes: Vec<Splice>,
}

/// The text now, and the edits that turn the text at `since` into it.
pub fn text_since(handle: &DocHandle, since: &[ChangeHash]) -> Result<TextUpdate, SyncError> {
    edit_at(handle, since, &[])
}

/// Applies `edits` (in order, positions relative to the text at `base` with the edits before them
/// applied) as one change made concurrently with everything the document gained since `base`, then
/// reports the merged text and how it differs from the text at `base` with `edits` applied.
///
/// A `base` the document does not know (a view of another document, or corrupt heads) is refused.
pub fn edit_at(handle: &DocHandle, base: &[ChangeHash], edits: &[Splice]) -> Result<TextUpdate, SyncError> {
    handle.with_document(|doc| {
        if base.iter().any(|hash| doc.get_change_by_hash(hash).is_none()) {
            return Err(SyncError::UnknownHeads);
        }
        let text = text_object(doc)?;
        let mut current = doc.get_heads();
        current.sort();
        let mut base = base.to_vec();
        base.sort();
        let branch_heads = if current == base {
            apply(doc, &text, edits)?;
            doc.get_heads()
        } else {
            let mut branch = doc.fork_at(&base)?;
            // Keep this device's actor when it made nothing since `base` (the usual case: only teammates'
            // changes arrived), so a document does not gain an actor per concurrent keystroke. Otherwise a
            // fresh one: two changes of one actor with the same sequence number would be invalid.
            let ours = doc.get_actor().clone();
            if !doc.get_changes(&base).iter().any(|change| change.actor_id() == &ours) {
                branch.set_actor(ours);
            }
            apply(&mut branch, &text, edits)?;
            let branch_heads = branch.get_heads();
            doc.merge(&mut branch)?;
            branch_heads
        };
        let mut heads = doc.get_heads();
        heads.sort();
        let changes = text_changes(doc, &text, &branch_heads, &heads);
        Ok(TextUpdate { text: doc.text(&text)?, heads, changes })
    })
}

fn apply(doc: &mut Automerge, text: &ObjId, edits: &[Splice]) -> Result<(), SyncError> {
    if edits.is_empty() {
        return Ok(());
    }
    let mut length = doc.length(text);
    let mut tx = doc.transaction();
    for edit in edits {
        if edit.position + edit.delete > length {
            tx.rollback();
            return Err(SyncError::OutOfRange { position: edit.position, delete: edit.delete, length });
        }
        let delete = isize::try_from(edit.delete).map_err(|_| SyncError::OutOfRange {
            position: edit.position,
            delete: edit.delete,
            length,
        })?;
        tx.splice_text(text, edit.position, delete, &edit.insert)?;
        length = length - edit.delete + edit.insert.chars().count();
    }
    crate::text::commit_now(tx);
    Ok(())
}

/// The text edits between two versions of the document, in order.
fn text_changes(doc: &Automerge, text: &ObjId, before: &[ChangeHash], after: &[ChangeHash]) -> Vec<Splice> {
    doc.diff(before, after)
        .into_iter()
        .filter(|patch| &patch.obj == text)
        .filter_map(|patch| match patch.action {
            PatchAction::SpliceText { index, value, .. } => {
                Some(Splice { position: index, delete: 0, insert: value.make_string() })
            }
            PatchAction::DeleteSeq { index, length } => {
                Some(Splice { position: index, delete: length, insert: String::new() })
            }
            _ => None,
        })
        .collect()
}

fn text_object(doc: &Automerge) -> Result<ObjId, SyncError> {
    match doc.get(ROOT, TEXT_FIELD)? {
        Some((_, id)) => Ok(id),
        None => Err(SyncError::NoText),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::test_document as document;
    use crate::{heads, read_text, splice_text};

    fn splice(position: usize, delete: usize, insert: &str) -> Splice {
        Splice { position, delete, insert: insert.to_owned() }
    }

    #[tokio::test]
    async fn an_up_to_date_view_edits_in_place_and_hears_of_no_changes() {
        let (_repo, doc) = document("hello").await;
        let update = edit_at(&doc, &heads(&doc), &[splice(5, 0, " world"), splice(0, 1, "H")]).expect("edit");
        assert_eq!(update.text, "Hello world");
        assert!(update.changes.is_empty());
        assert_eq!(update.heads, heads(&doc));
    }

    #[tokio::test]
    async fn a_lagging_view_keeps_its_edit_where_it_was_made_and_learns_the_rest() {
        let (_repo, doc) = document("abc").await;
        let seen = heads(&doc);
        // A teammate prepends while the view still shows "abc".
        splice_text(&doc, 0, 0, "XY").expect("remote");
        // The person typed "!" after "b" in the text they saw.
        let update = edit_at(&doc, &seen, &[splice(2, 0, "!")]).expect("edit");
        assert_eq!(update.text, "XYab!c");
        // From the view's "ab!c", the teammate's insert is the only change.
        assert_eq!(update.changes, vec![splice(0, 0, "XY")]);
        assert_eq!(read_text(&doc), "XYab!c");
    }

    #[tokio::test]
    async fn changes_since_old_heads_replay_onto_the_old_text() {
        let (_repo, doc) = document("one two three").await;
        let seen = heads(&doc);
        splice_text(&doc, 4, 4, "").expect("delete");
        splice_text(&doc, 0, 0, ">").expect("insert");
        let update = text_since(&doc, &seen).expect("since");
        let mut old: Vec<char> = "one two three".chars().collect();
        for change in &update.changes {
            old.splice(change.position..change.position + change.delete, change.insert.chars());
        }
        assert_eq!(old.into_iter().collect::<String>(), update.text);
        assert_eq!(update.text, ">one three");
    }

    #[tokio::test]
    async fn changes_say_when_they_were_made() {
        let (_repo, doc) = document("a").await;
        edit_at(&doc, &heads(&doc), &[splice(1, 0, "b")]).expect("edit");
        let before_2020 = 1_577_836_800_000;
        let history = crate::rich::history(&doc);
        assert!(history.iter().all(|change| change.timestamp > before_2020), "{history:?}");
    }

    #[tokio::test]
    async fn unknown_heads_and_out_of_range_edits_are_refused_without_a_change() {
        let (_repo, doc) = document("abc").await;
        let (_other_repo, other) = document("zzz").await;
        let before = heads(&doc);
        assert!(matches!(edit_at(&doc, &heads(&other), &[splice(0, 0, "x")]), Err(SyncError::UnknownHeads)));
        assert!(matches!(
            edit_at(&doc, &before, &[splice(1, 0, "x"), splice(3, 5, "")]),
            Err(SyncError::OutOfRange { .. })
        ));
        assert_eq!(heads(&doc), before);
        assert_eq!(read_text(&doc), "abc");
    }

    #[tokio::test]
    async fn concurrent_edits_from_one_lagging_view_twice_stay_valid() {
        let (_repo, doc) = document("abc").await;
        let seen = heads(&doc);
        splice_text(&doc, 3, 0, "d").expect("remote");
        let first = edit_at(&doc, &seen, &[splice(0, 0, "1")]).expect("first");
        // The same stale view edits again: this device has now changed the document since `seen`, so the
        // branch needs its own actor; the result must still load.
        let second = edit_at(&doc, &seen, &[splice(0, 0, "2")]).expect("second");
        assert_eq!(first.text.chars().count() + 1, second.text.chars().count());
        let saved = doc.with_document(|d| d.save());
        let reloaded = Automerge::load(&saved).expect("reload");
        assert_eq!(reloaded.get_heads().len(), doc.with_document(|d| d.get_heads().len()));
    }
}
