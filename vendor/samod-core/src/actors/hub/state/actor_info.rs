use crate::{DocumentActorId, DocumentId, UnixTimestamp, doc_search::DocSearchPhase};

#[derive(Debug, Clone)]
pub(crate) struct ActorInfo {
    pub(crate) actor_id: DocumentActorId,
    pub(crate) document_id: DocumentId,
    pub(crate) search_phase: DocSearchPhase,
    /// When to offer this actor for unloading (its key in `State::unload_queue`).
    pub(crate) unload_check: Option<UnixTimestamp>,
}

impl ActorInfo {
    pub fn new_with_id(actor_id: DocumentActorId, document_id: DocumentId) -> Self {
        Self {
            actor_id,
            document_id,
            search_phase: DocSearchPhase::Loading,
            unload_check: None,
        }
    }
}
