//! What the sync repo keeps in memory: documents a connected peer has open, and the others for at most the
//! idle period (samod unloads them, `--sync-unload-idle-ms`); the loaded-documents gauge; and giving the
//! memory of unloaded documents back to the system. Opens and closes are also told to the forwarder of
//! changes between instances (`forward`), when there is one.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use samod::{DocumentId, RepoEvent, RepoObserver};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::DocThreads;

/// The documents in memory, as a watched value.
pub type LoadedWatch = watch::Sender<HashSet<DocumentId>>;

/// What the sync repo keeps in memory, and who hears about it.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// A document no connected peer has open is dropped from memory after this long (`None`: never), and
    /// loaded from the database again when next asked for.
    pub unload_idle: Option<Duration>,
    /// Told which documents are in memory as they load and unload.
    pub loaded: Option<LoadedWatch>,
}

/// Counts samod's document actors as they open and close, tells `return_memory` of every close, and names
/// the documents to `ids` if someone watches.
pub(super) struct LoadedDocuments {
    gauge: prometheus::IntGauge,
    closed: watch::Sender<u64>,
    ids: Option<LoadedWatch>,
    /// Told of every open and close when documents are forwarded between instances.
    forward: Option<Arc<super::forward::Opened>>,
}

impl LoadedDocuments {
    pub(super) fn new(
        gauge: prometheus::IntGauge,
        closed: watch::Sender<u64>,
        ids: Option<LoadedWatch>,
        forward: Option<Arc<super::forward::Opened>>,
    ) -> Self {
        Self { gauge, closed, ids, forward }
    }
}

impl RepoObserver for LoadedDocuments {
    fn observe(&self, event: &RepoEvent) {
        match event {
            RepoEvent::DocumentOpened { document_id } => {
                self.gauge.inc();
                if let Some(forward) = &self.forward {
                    forward.opened(document_id);
                }
                if let Some(ids) = &self.ids {
                    ids.send_modify(|ids| {
                        ids.insert(document_id.clone());
                    });
                }
            }
            RepoEvent::DocumentClosed { document_id } => {
                self.gauge.dec();
                self.closed.send_modify(|n| *n += 1);
                if let Some(forward) = &self.forward {
                    forward.closed(document_id);
                }
                if let Some(ids) = &self.ids {
                    ids.send_modify(|ids| {
                        ids.remove(document_id);
                    });
                }
            }
            RepoEvent::SyncMessageReceived { document_id, .. } => {
                if let Some(forward) = &self.forward {
                    forward.received(document_id);
                }
            }
            _ => {}
        }
    }
}

/// How long after an unload the memory is collected: samod unloads a tick's documents in one pass, so this
/// waits for the pass, not for anything in flight.
const COLLECT_AFTER: Duration = Duration::from_millis(500);

/// Gives the memory of unloaded documents back to the system, until `stop`.
///
/// mimalloc (the relay's allocator) frees a block into the heap of the thread that allocated it, and a
/// thread tidies its heap only as it allocates. A document is built on the document threads and dropped
/// from the thread that unloads it, so once the document threads go quiet they would keep its pages for
/// good: 10,000 documents opened and left kept the relay hundreds of MiB larger (docs/benchmarks.md).
/// After each batch of unloads every document thread, then this one, collects.
pub(super) async fn return_memory(documents: DocThreads, mut unloads: watch::Receiver<u64>, stop: CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = unloads.changed() => if changed.is_err() { return },
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(COLLECT_AFTER) => {}
        }
        unloads.mark_unchanged();
        let pool = documents.clone();
        // `broadcast` waits for every document thread, which may be busy with a large document.
        let collected = tokio::task::spawn_blocking(move || {
            pool.broadcast(|| mimalloc::MiMalloc::collect(true));
            mimalloc::MiMalloc::collect(true);
        });
        if let Err(e) = collected.await {
            tracing::warn!(error = %e, "returning unloaded documents' memory failed");
        }
    }
}
