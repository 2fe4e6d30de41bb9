use std::time::Duration;

/// Configuration for unloading documents which nothing is using.
///
/// When configured (see [`SamodLoader::with_idle_unload`](crate::SamodLoader::with_idle_unload)),
/// a document actor which has been idle for [`IdleUnload::after`] is stopped and
/// dropped, freeing the memory it holds. The document stays in storage and is
/// loaded again by the next [`HubEvent::search_for_doc`](crate::actors::hub::HubEvent::search_for_doc)
/// or the next message a peer sends about it.
///
/// A document is idle when it is loaded, everything it holds has been written to
/// storage, nothing is waiting on it (a load, a share policy check, a storage
/// write) and no connected peer keeps it loaded (see [`KeepForPeers`]). The
/// caller decides what else keeps a document loaded (open handles, for example)
/// when it is offered the candidates in
/// [`HubResults::unload_candidates`](crate::actors::hub::HubResults::unload_candidates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleUnload {
    /// How long a document must have been idle before it is unloaded.
    pub after: Duration,
    /// Which connected peers keep a document loaded.
    pub keep_for_peers: KeepForPeers,
}

impl IdleUnload {
    /// Unload documents idle for `after`; a connected peer which has the
    /// document open keeps it loaded ([`KeepForPeers::WhileConnected`]).
    pub fn after(after: Duration) -> Self {
        Self {
            after,
            keep_for_peers: KeepForPeers::WhileConnected,
        }
    }

    /// Choose which connected peers keep a document loaded.
    pub fn keep_for_peers(mut self, keep_for_peers: KeepForPeers) -> Self {
        self.keep_for_peers = keep_for_peers;
        self
    }
}

/// Which connected peers keep a document loaded.
///
/// Only peers which are involved with the document count: peers which
/// requested it, or with which sync messages about it were exchanged. Peers
/// denied access by the share policy never keep a document loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepForPeers {
    /// An involved peer keeps the document loaded for as long as it is
    /// connected.
    ///
    /// This suits a server which never announces documents: the only record
    /// that a peer wants a document's changes is the actor's state for that
    /// peer, so unloading would stop forwarding changes to it.
    WhileConnected,
    /// An involved peer keeps the document loaded only while there is
    /// something to sync with it: until each side has the other's changes.
    ///
    /// This suits a client whose peers keep sending it the changes of the
    /// documents it has announced: the next message about an unloaded document
    /// loads it again.
    WhileSyncing,
}
