//! Text documents: a root map whose `text` field is collaborative text, the shape automerge-repo's
//! JavaScript clients get from `doc.text = "..."`.

use automerge::transaction::Transactable;
use automerge::{Automerge, ChangeHash, ObjType, ROOT, ReadDoc};
use samod::DocHandle;
use tokio::sync::{mpsc, oneshot, watch};

use crate::SyncError;

/// The root field holding a text document's text.
pub const TEXT_FIELD: &str = "text";

/// What a change's message starts with when it says whose the change is; the author's user id follows.
/// Only an actor's first change carries it (an actor is one device's session with the document), so
/// history names a person for every change of that actor at the cost of one message per session.
pub const AUTHOR_PREFIX: &str = "teamflow-author:";

/// The message naming `user` as a change's author.
pub fn author_message(user: &str) -> String {
    format!("{AUTHOR_PREFIX}{user}")
}

/// A new text document holding `initial`; its one change names `author` when given.
pub(crate) fn new_text_document(initial: &str, author: Option<&str>) -> Result<Automerge, SyncError> {
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    let text = tx.put_object(ROOT, TEXT_FIELD, ObjType::Text)?;
    tx.splice_text(&text, 0, 0, initial)?;
    commit_at_now(tx, author.map(author_message));
    Ok(doc)
}

/// Commits a change stamped with the wall clock (Unix milliseconds), so history can say when it was made;
/// a plain `commit` stamps 0.
pub(crate) fn commit_now(tx: automerge::transaction::Transaction<'_>) {
    commit_at_now(tx, None);
}

fn commit_at_now(tx: automerge::transaction::Transaction<'_>, message: Option<String>) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let millis = i64::try_from(now.as_millis()).unwrap_or(i64::MAX);
    let options = automerge::transaction::CommitOptions::default().with_time(millis);
    tx.commit_with(match message {
        Some(message) => options.with_message(message),
        None => options,
    });
}

/// A text document in a repo of its own, for unit tests (keep the repo alive while using the handle).
#[cfg(test)]
pub(crate) async fn test_document(text: &str) -> (samod::Repo, DocHandle) {
    let repo = samod::Repo::build_tokio().load().await;
    let handle = repo.create(new_text_document(text, None).expect("doc")).await.expect("create");
    (repo, handle)
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
    splice_text_by(handle, position, delete, insert, None)
}

/// [`splice_text`], naming `author` (a user id) when this is the first change of this document's actor
/// here, as the window does for its own ([`AUTHOR_PREFIX`]).
pub fn splice_text_by(
    handle: &DocHandle,
    position: usize,
    delete: isize,
    insert: &str,
    author: Option<&str>,
) -> Result<(), SyncError> {
    handle.with_document(|doc| {
        let text = text_object(doc)?;
        let first = doc.get_last_local_change().is_none();
        let mut tx = doc.transaction();
        tx.splice_text(&text, position, delete, insert)?;
        commit_at_now(tx, author.filter(|_| first).map(author_message));
        Ok(())
    })
}

/// The document's current heads, sorted: equal heads mean identical documents.
pub fn heads(handle: &DocHandle) -> Vec<ChangeHash> {
    let mut heads = handle.with_document(|doc| doc.get_heads());
    heads.sort();
    heads
}

/// One text edit: delete `delete` characters at `position`, then insert `insert` there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct Splice {
    pub position: usize,
    pub delete: usize,
    pub insert: String,
}

enum WriterOp {
    Splice(Splice),
    Flush(oneshot::Sender<Result<(), SyncError>>),
}

/// The most edits applied in one pass over the document (so readers never wait long for it).
const MAX_PASS: usize = 4096;

/// Applies text edits to a document in order, each as its own change (one per keystroke), but hands
/// samod every edit queued meanwhile in one pass: samod's bookkeeping after a pass (sync messages, a
/// storage write) then happens once per pass rather than once per keystroke. A person typing gets a pass
/// per keystroke; a paste, a replay or a burst of remote-driven edits shares passes.
///
/// An edit that cannot apply (say, a position past the end) is skipped and reported by the next `flush`.
/// Dropping the writer applies what is queued, then stops its task.
#[derive(Debug, Clone)]
pub struct TextWriter {
    ops: mpsc::Sender<WriterOp>,
}

impl std::fmt::Debug for WriterOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriterOp::Splice(s) => f.debug_tuple("Splice").field(s).finish(),
            WriterOp::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl TextWriter {
    /// A writer for `handle`'s text. Needs a Tokio runtime.
    pub fn new(handle: DocHandle) -> Self {
        Self::start(handle, None)
    }

    /// A writer that holds each pass until the store has fewer than `MAX_BACKLOG` writes outstanding
    /// (`SqliteStorage::backlog`), so a burst of edits cannot outrun the disk and pile up in memory.
    pub fn with_backlog(handle: DocHandle, backlog: watch::Receiver<usize>) -> Self {
        Self::start(handle, Some(backlog))
    }

    fn start(handle: DocHandle, backlog: Option<watch::Receiver<usize>>) -> Self {
        let (ops, queue) = mpsc::channel(MAX_PASS);
        tokio::spawn(apply_passes(handle, queue, backlog));
        Self { ops }
    }

    /// Queues an edit (waiting only when the queue is full).
    pub async fn splice(&self, edit: Splice) -> Result<(), SyncError> {
        self.ops.send(WriterOp::Splice(edit)).await.map_err(|_| SyncError::Stopped)
    }

    /// Waits until every edit queued before it is in the document; the first error since the last flush.
    pub async fn flush(&self) -> Result<(), SyncError> {
        let (done, applied) = oneshot::channel();
        self.ops.send(WriterOp::Flush(done)).await.map_err(|_| SyncError::Stopped)?;
        applied.await.map_err(|_| SyncError::Stopped)?
    }
}

/// How many of its latest changes a document keeps as built unless asked for more (automerge's default):
/// a pass within it has nothing to let go afterwards.
const KEPT_BY_DEFAULT: usize = 32;

/// Writes outstanding in the store above which the writer waits before its next pass.
const MAX_BACKLOG: usize = 64;

async fn apply_passes(
    handle: DocHandle,
    mut queue: mpsc::Receiver<WriterOp>,
    mut backlog: Option<watch::Receiver<usize>>,
) {
    let mut pass = Vec::with_capacity(MAX_PASS);
    let mut failure: Option<SyncError> = None;
    // Whether the document keeps more of its latest changes than by default, for the last pass.
    let mut keeping_pass = false;
    loop {
        if let Some(backlog) = backlog.as_mut()
            && backlog.wait_for(|n| *n < MAX_BACKLOG).await.is_err()
        {
            break;
        }
        if queue.recv_many(&mut pass, MAX_PASS).await == 0 {
            break;
        }
        let (edits, flushes): (Vec<_>, Vec<_>) = pass.drain(..).partition(|op| matches!(op, WriterOp::Splice(_)));
        if !edits.is_empty() {
            keeping_pass = edits.len() + 1 > KEPT_BY_DEFAULT;
            let outcome = handle.with_document(|doc| -> Result<(), SyncError> {
                // samod stores the pass's changes right after it; kept as built (with the text object's,
                // when this pass makes it), none is built again from the operations.
                doc.keep_recent_changes(edits.len() + 1);
                let text = text_object(doc)?;
                let mut first_error = None;
                for op in edits {
                    let WriterOp::Splice(edit) = op else { continue };
                    // Beyond isize::MAX is beyond any text: automerge reports it as out of range.
                    let delete = isize::try_from(edit.delete).unwrap_or(isize::MAX);
                    let mut tx = doc.transaction();
                    match tx.splice_text(&text, edit.position, delete, &edit.insert) {
                        Ok(()) => {
                            crate::text::commit_now(tx);
                        }
                        Err(e) => {
                            tx.rollback();
                            first_error.get_or_insert(SyncError::from(e));
                        }
                    }
                }
                first_error.map_or(Ok(()), Err)
            });
            if let Err(e) = outcome {
                failure.get_or_insert(e);
            }
        }
        for op in flushes {
            if let WriterOp::Flush(done) = op {
                // The flusher may have stopped waiting; nothing to tell then.
                done.send(failure.take().map_or(Ok(()), Err)).ok();
            }
        }
        // Stored by now: the burst over, the document lets its changes go.
        if keeping_pass && queue.is_empty() {
            handle.with_document(|doc| doc.keep_recent_changes(0));
            keeping_pass = false;
        }
    }
    if keeping_pass {
        handle.with_document(|doc| doc.keep_recent_changes(0));
    }
}

/// The text object, created when the document has none yet.
fn text_object(doc: &mut Automerge) -> Result<automerge::ObjId, SyncError> {
    if let Some((_, id)) = doc.get(ROOT, TEXT_FIELD)? {
        return Ok(id);
    }
    let mut tx = doc.transaction();
    let id = tx.put_object(ROOT, TEXT_FIELD, ObjType::Text)?;
    crate::text::commit_now(tx);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splice(position: usize, delete: usize, insert: &str) -> Splice {
        Splice { position, delete, insert: insert.into() }
    }

    #[tokio::test]
    async fn the_writer_applies_edits_in_order_one_change_each_and_reports_a_bad_one_at_flush() {
        let repo = samod::Repo::build_tokio().load().await;
        let handle = repo.create(new_text_document("", None).expect("doc")).await.expect("create");
        let changes_before = handle.with_document(|d| d.get_changes(&[]).len());
        let writer = TextWriter::new(handle.clone());
        for (i, ch) in "hello".chars().enumerate() {
            writer.splice(splice(i, 0, &ch.to_string())).await.expect("queue");
        }
        writer.splice(splice(0, 1, "J")).await.expect("queue");
        writer.flush().await.expect("applied");
        assert_eq!(read_text(&handle), "Jello");
        let changes = handle.with_document(|d| d.get_changes(&[]).len()) - changes_before;
        assert_eq!(changes, 6, "one change per keystroke");

        writer.splice(splice(99, 0, "!")).await.expect("queue");
        writer.splice(splice(5, 0, "!")).await.expect("queue");
        assert!(writer.flush().await.is_err(), "the out-of-range edit is reported");
        assert_eq!(read_text(&handle), "Jello!", "and the edits around it still apply");
        writer.flush().await.expect("the error was reported once");
        repo.stop().await;
    }

    // Paused time: the deadline below passes only once nothing else can run, so "still waiting" is certain.
    #[tokio::test(start_paused = true)]
    async fn a_writer_holds_its_passes_while_the_store_is_behind() {
        let repo = samod::Repo::build_tokio().load().await;
        let handle = repo.create(new_text_document("", None).expect("doc")).await.expect("create");
        let (backlog, behind) = watch::channel(MAX_BACKLOG);
        let writer = TextWriter::with_backlog(handle.clone(), behind);
        writer.splice(splice(0, 0, "x")).await.expect("queue");
        let held = tokio::time::timeout(std::time::Duration::from_secs(60), writer.flush()).await;
        assert!(held.is_err(), "nothing applies while the store is behind");
        assert_eq!(read_text(&handle), "");
        backlog.send_replace(MAX_BACKLOG - 1);
        writer.flush().await.expect("applied once the store caught up");
        assert_eq!(read_text(&handle), "x");
        repo.stop().await;
    }
}
