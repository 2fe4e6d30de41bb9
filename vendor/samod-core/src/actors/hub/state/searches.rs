use std::collections::{HashMap, HashSet};

use crate::{
    DialerId, DocSearchPhase, DocumentActorId,
    actors::hub::{
        dialer::{DialerState, DialerStatus},
        state::ActorInfo,
    },
};

pub(super) struct Searches {
    pub(super) phases: HashMap<DocumentActorId, DocSearchPhase>,
    pub(super) last_dialers: HashMap<DialerId, DialerStatus>,
    /// Actors whose phase may have changed since the last `pop_state_updates`.
    /// Only these are compared after an event (unless a dialer changed), so an
    /// event costs the actors it touched, not every actor the hub holds.
    changed: HashSet<DocumentActorId>,
}

impl Searches {
    pub(super) fn new() -> Self {
        Self {
            phases: HashMap::new(),
            last_dialers: HashMap::new(),
            changed: HashSet::new(),
        }
    }

    /// Notes that `actor`'s phase may have changed (it was added, or its phase
    /// was set or edited), so the next `pop_state_updates` compares it.
    pub(super) fn mark_changed(&mut self, actor: DocumentActorId) {
        self.changed.insert(actor);
    }

    pub(super) fn add_search(&mut self, actor: DocumentActorId, phase: DocSearchPhase) {
        self.phases.insert(actor, phase);
    }

    pub(super) fn pop_state_updates(
        &mut self,
        actors: &HashMap<DocumentActorId, ActorInfo>,
        dialers: &HashMap<DialerId, DialerState>,
    ) -> HashMap<DocumentActorId, DocSearchPhase> {
        let new_dialer_state = dialers
            .iter()
            .map(|(dialer_id, state)| (*dialer_id, state.status.clone()))
            .collect::<HashMap<DialerId, DialerStatus>>();
        let dialers_changed = self.last_dialers != new_dialer_state;
        self.last_dialers = new_dialer_state;

        let mut result = HashMap::new();
        let mut compare = |actor_id: &DocumentActorId, actor: &ActorInfo| {
            let last_phase = self.phases.get(actor_id);
            if last_phase != Some(&actor.search_phase) || dialers_changed {
                result.insert(*actor_id, actor.search_phase.clone());
            }
            self.phases.insert(*actor_id, actor.search_phase.clone());
        };
        if dialers_changed {
            // Every search's pending connections changed.
            for (actor_id, actor) in actors {
                compare(actor_id, actor);
            }
            self.changed.clear();
        } else {
            for actor_id in self.changed.drain() {
                if let Some(actor) = actors.get(&actor_id) {
                    compare(&actor_id, actor);
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;
    use crate::DocumentId;

    fn actors(n: usize) -> HashMap<DocumentActorId, ActorInfo> {
        let mut rng = StdRng::seed_from_u64(3);
        (0..n)
            .map(|_| {
                let id = DocumentActorId::new();
                (id, ActorInfo::new_with_id(id, DocumentId::new(&mut rng)))
            })
            .collect()
    }

    #[test]
    fn an_event_compares_only_the_actors_marked_changed() {
        let mut actors = actors(3);
        let ids: Vec<DocumentActorId> = actors.keys().copied().collect();
        let mut searches = Searches::new();
        for id in &ids {
            searches.mark_changed(*id);
        }
        let first = searches.pop_state_updates(&actors, &HashMap::new());
        assert_eq!(first.len(), 3, "new actors are reported once");
        assert!(
            searches
                .pop_state_updates(&actors, &HashMap::new())
                .is_empty()
        );

        // Two actors become ready; only the marked one is compared, so only it
        // is reported. (Every change to a phase in `State` marks the actor.)
        actors.get_mut(&ids[0]).unwrap().search_phase = DocSearchPhase::Ready;
        actors.get_mut(&ids[1]).unwrap().search_phase = DocSearchPhase::Ready;
        searches.mark_changed(ids[0]);
        let updates = searches.pop_state_updates(&actors, &HashMap::new());
        assert_eq!(
            updates.into_iter().collect::<Vec<_>>(),
            vec![(ids[0], DocSearchPhase::Ready)]
        );

        // Marked but unchanged: nothing to report.
        searches.mark_changed(ids[2]);
        assert!(
            searches
                .pop_state_updates(&actors, &HashMap::new())
                .is_empty()
        );
    }

    #[test]
    fn a_dialer_that_changed_reports_every_actor() {
        let actors = actors(3);
        let mut searches = Searches::new();
        for id in actors.keys() {
            searches.mark_changed(*id);
        }
        searches.pop_state_updates(&actors, &HashMap::new());
        let dialer = DialerId::new();
        let state = |status| DialerState {
            dialer_id: dialer,
            url: url::Url::parse("ws://relay.test/sync").unwrap(),
            backoff_config: crate::BackoffConfig::default(),
            status,
            attempts: 0,
        };
        let dialers = HashMap::from([(dialer, state(DialerStatus::NeedTransport))]);
        assert_eq!(searches.pop_state_updates(&actors, &dialers).len(), 3);
        assert!(searches.pop_state_updates(&actors, &dialers).is_empty());
        let dialers = HashMap::from([(dialer, state(DialerStatus::TransportPending))]);
        assert_eq!(searches.pop_state_updates(&actors, &dialers).len(), 3);
    }

    #[test]
    fn a_removed_actor_that_was_marked_is_skipped() {
        let mut actors = actors(2);
        let ids: Vec<DocumentActorId> = actors.keys().copied().collect();
        let mut searches = Searches::new();
        searches.mark_changed(ids[0]);
        searches.mark_changed(ids[1]);
        actors.remove(&ids[1]);
        let updates = searches.pop_state_updates(&actors, &HashMap::new());
        assert_eq!(updates.keys().copied().collect::<Vec<_>>(), vec![ids[0]]);
    }
}
