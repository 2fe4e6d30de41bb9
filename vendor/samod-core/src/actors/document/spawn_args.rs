use std::collections::HashMap;

use crate::{ConnectionId, DocumentActorId, IdleUnload, PeerId, actors::messages::DocMessage};

#[derive(Clone)]
pub struct SpawnArgs {
    pub(crate) local_peer_id: PeerId,
    pub(crate) actor_id: DocumentActorId,
    pub(crate) document_id: crate::DocumentId,
    pub(crate) initial_content: Option<automerge::Automerge>,
    pub(crate) initial_connections: HashMap<ConnectionId, (PeerId, Option<DocMessage>)>,
    pub(crate) idle_unload: Option<IdleUnload>,
    /// Whether the document is written to storage (see
    /// [`SamodLoader::without_saving`](crate::SamodLoader::without_saving)).
    pub(crate) saves: bool,
    /// Whether the hub wants this document's peer states (see
    /// [`HubEvent::observe_peer_states`](crate::actors::hub::HubEvent::observe_peer_states)).
    pub(crate) report_peer_states: bool,
}

impl std::fmt::Debug for SpawnArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnArgs")
            .field("actor_id", &self.actor_id)
            .field("local_peer_id", &self.local_peer_id)
            .field("document_id", &self.document_id)
            .field(
                "initial_content",
                &self.initial_content.as_ref().map(|_| "<Automerge>"),
            )
            .field("initial_connections", &self.initial_connections)
            .field("idle_unload", &self.idle_unload)
            .field("saves", &self.saves)
            .field("report_peer_states", &self.report_peer_states)
            .finish()
    }
}

impl SpawnArgs {
    pub fn actor_id(&self) -> DocumentActorId {
        self.actor_id
    }

    pub fn document_id(&self) -> &crate::DocumentId {
        &self.document_id
    }
}
