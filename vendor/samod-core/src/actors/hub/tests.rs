use std::time::Duration;

use rand::{SeedableRng, rngs::StdRng};

use crate::{
    CommandResult, DocumentActorId, DocumentId, IdleUnload, LoaderState, PeerId, SamodLoader,
    UnixTimestamp,
    actors::{
        DocToHubMsg,
        hub::{Hub, HubEvent, HubResults, UnloadOutcome},
        messages::{DocToHubMsgPayload, HubToDocMsgPayload},
    },
    io::{IoResult, StorageResult, StorageTask},
};

const AFTER: Duration = Duration::from_secs(60);

struct Fixture {
    hub: Hub,
    rng: StdRng,
}

impl Fixture {
    fn new(idle_unload: Option<IdleUnload>) -> Self {
        let mut rng = StdRng::seed_from_u64(7);
        let mut loader = SamodLoader::new(PeerId::from("local")).with_idle_unload(idle_unload);
        let hub = loop {
            match loader.step(&mut rng, UnixTimestamp::from_millis(0)) {
                LoaderState::Loaded(hub) => break *hub,
                LoaderState::NeedIo(tasks) => {
                    for task in tasks {
                        let payload = match task.action {
                            StorageTask::Load { .. } => StorageResult::Load { value: None },
                            _ => StorageResult::Put,
                        };
                        loader.provide_io_result(IoResult {
                            task_id: task.task_id,
                            payload,
                        });
                    }
                }
            }
        };
        Self { hub, rng }
    }

    fn handle(&mut self, now: UnixTimestamp, event: HubEvent) -> HubResults {
        self.hub.handle_event(&mut self.rng, now, event)
    }

    /// Searches for the document; answers the actor handling it.
    fn search(&mut self, now: UnixTimestamp, document_id: &DocumentId) -> DocumentActorId {
        let search = HubEvent::search_for_doc(document_id.clone());
        let mut results = self.handle(now, search.event);
        match results.completed_commands.remove(&search.command_id) {
            Some(CommandResult::SearchForDoc { actor_id, .. }) => actor_id,
            other => panic!("unexpected search result {other:?}"),
        }
    }

    fn idle(&mut self, now: UnixTimestamp, actor: DocumentActorId, since: Option<UnixTimestamp>) {
        let message = DocToHubMsg(DocToHubMsgPayload::Idle { since });
        self.handle(now, HubEvent::actor_message(actor, message));
    }

    fn candidates(&mut self, now: UnixTimestamp) -> Vec<DocumentActorId> {
        self.handle(now, HubEvent::tick()).unload_candidates
    }
}

#[test]
fn idle_actors_are_offered_after_the_period_and_forgotten_once_unloaded() {
    let mut f = Fixture::new(Some(IdleUnload::after(AFTER)));
    let t0 = UnixTimestamp::from_millis(1_000_000);
    let document_id = DocumentId::new(&mut rand::rng());
    let actor = f.search(t0, &document_id);
    assert_eq!(f.search(t0, &document_id), actor, "one actor per document");

    f.idle(t0, actor, Some(t0));
    assert!(f.candidates(t0 + AFTER - Duration::from_millis(1)).is_empty());
    assert_eq!(f.candidates(t0 + AFTER), vec![actor]);
    assert!(f.candidates(t0 + AFTER).is_empty(), "offered once");

    // Busy: offered again at the next tick.
    let t1 = t0 + AFTER;
    let busy = UnloadOutcome {
        busy: vec![actor],
        ..Default::default()
    };
    f.handle(t1, HubEvent::unload_outcome(busy));
    assert_eq!(f.candidates(t1), vec![actor]);

    // In use: offered again a period later, unless it stops being idle.
    let in_use = UnloadOutcome {
        in_use: vec![actor],
        ..Default::default()
    };
    f.handle(t1, HubEvent::unload_outcome(in_use.clone()));
    assert!(f.candidates(t1 + AFTER - Duration::from_millis(1)).is_empty());
    assert_eq!(f.candidates(t1 + AFTER), vec![actor]);
    f.handle(t1, HubEvent::unload_outcome(in_use));
    f.idle(t1, actor, None);
    assert!(f.candidates(t1 + AFTER * 10).is_empty(), "not idle: never offered");

    let t2 = t1 + AFTER * 10;
    f.idle(t2, actor, Some(t2));
    assert_eq!(f.candidates(t2 + AFTER), vec![actor]);
    let unloaded = UnloadOutcome {
        unloaded: vec![actor],
        ..Default::default()
    };
    let results = f.handle(t2 + AFTER, HubEvent::unload_outcome(unloaded));
    assert_eq!(results.documents_count, 0);

    // The document is looked for afresh, by a new actor.
    let again = f.search(t2 + AFTER, &document_id);
    assert_ne!(again, actor);
    f.idle(t2 + AFTER, actor, Some(t2));
    assert!(
        f.candidates(t2 + AFTER * 10).is_empty(),
        "late news from the unloaded actor is ignored"
    );
}

#[test]
fn without_idle_unload_nothing_is_offered() {
    let mut f = Fixture::new(None);
    let t0 = UnixTimestamp::from_millis(1_000_000);
    let actor = f.search(t0, &DocumentId::new(&mut rand::rng()));
    f.idle(t0, actor, Some(t0));
    assert!(f.candidates(t0 + AFTER * 10).is_empty());
}

#[test]
fn observing_peer_states_is_passed_to_every_actor_once_and_to_new_ones() {
    let mut f = Fixture::new(None);
    let t0 = UnixTimestamp::from_millis(1_000_000);
    let first = f.search(t0, &DocumentId::new(&mut rand::rng()));

    let told = |results: &HubResults| -> Vec<(DocumentActorId, bool)> {
        results
            .actor_messages
            .iter()
            .filter_map(|(actor, msg)| match msg.0 {
                HubToDocMsgPayload::ObservePeerStates(observed) => Some((*actor, observed)),
                _ => None,
            })
            .collect()
    };
    let results = f.handle(t0, HubEvent::observe_peer_states(false));
    assert_eq!(told(&results), vec![(first, false)]);
    let results = f.handle(t0, HubEvent::observe_peer_states(false));
    assert!(told(&results).is_empty(), "told once");

    let search = HubEvent::search_for_doc(DocumentId::new(&mut rand::rng()));
    let results = f.handle(t0, search.event);
    let [spawned] = results.spawn_actors.as_slice() else {
        panic!("one actor spawned: {:?}", results.spawn_actors);
    };
    assert!(!spawned.report_peer_states, "a new actor starts unobserved");

    let results = f.handle(t0, HubEvent::observe_peer_states(true));
    let told = told(&results);
    assert_eq!(told.len(), 2);
    assert!(told.contains(&(first, true)));
    assert!(told.contains(&(spawned.actor_id, true)));
}
