use crate::DocumentActorId;

/// What became of the documents offered in
/// [`HubResults::unload_candidates`](super::HubResults::unload_candidates),
/// reported back with [`HubEvent::unload_outcome`](super::HubEvent::unload_outcome).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnloadOutcome {
    /// Stopped with [`DocumentActor::unload`](crate::actors::document::DocumentActor::unload)
    /// and dropped: the hub forgets them and loads their documents afresh when
    /// they are next needed.
    pub unloaded: Vec<DocumentActorId>,
    /// Still in use (the actor declined, or the caller still uses the
    /// document): offered again after another idle period.
    pub in_use: Vec<DocumentActorId>,
    /// Work was in flight for them: offered again at the next tick.
    pub busy: Vec<DocumentActorId>,
}
