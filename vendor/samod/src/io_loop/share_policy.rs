//! Policy state belongs to the IO loop. Streams only produce subscription events.

use std::{
    collections::{HashMap, HashSet},
    task::Poll,
};

use futures::{
    Stream, StreamExt,
    future::{Either, poll_fn},
    stream::{self, AbortHandle, Abortable},
};
use samod_core::{
    DocumentActorId, DocumentId, PeerId, ShareConfig,
    actors::{HubToDocMsg, document::io::DocumentIoResult},
    io::{IoResult, IoTaskId},
};

use crate::{actor_task::ActorTask, share_policy::LocalSharePolicy};

#[derive(Default)]
pub(super) struct Policies {
    // None means the pair is active but its first check hasn't arrived yet.
    subscriptions: HashMap<(DocumentActorId, PeerId), Option<Subscription>>,
}

struct Subscription {
    // The first check's unique task ID also identifies this subscription.
    id: IoTaskId,
    latest: Option<ShareConfig>,
    // Counts the stream's items and the rechecks that changed `latest`: a
    // recheck started before a newer decision does not replace it.
    generation: u64,
    waiting: Vec<IoTaskId>,
    abort: AbortHandle,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.abort.abort();
    }
}

pub(super) enum Check<S> {
    Answer(ActorTask),
    Pending,
    Subscribe(S),
}

pub(super) struct PolicyEvent {
    pub(super) actor_id: DocumentActorId,
    peer_id: PeerId,
    subscription_id: IoTaskId,
    // None is EOF: retain the last decision, or deny if there wasn't one.
    // For a recheck, None keeps the stream's decision.
    config: Option<ShareConfig>,
    // A recheck's answer: the task to answer, the subscription's generation
    // when the recheck started, and the document (to subscribe again).
    recheck: Option<(IoTaskId, u64, DocumentId)>,
}

/// What [`Policies::check`] is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CheckKind {
    /// A connection's first decision: from the cache, or the subscription's
    /// first item.
    Initial,
    /// A peer the current decision denies sent a request: the policy's
    /// decision now ([`LocalSharePolicy::recheck`]).
    Recheck,
    /// A recheck changed the decision: the stream, which may hold back a
    /// decision equal to its last (but no longer to the one installed), is
    /// replaced by a new subscription, whose first item is the decision as
    /// it is once it listens for changes.
    Resubscribe,
}

/// A subscription to start again (see [`CheckKind::Resubscribe`]).
pub(super) struct Resubscribe {
    pub(super) actor_id: DocumentActorId,
    pub(super) document_id: DocumentId,
    pub(super) peer_id: PeerId,
    pub(super) id: IoTaskId,
}

impl Policies {
    pub(super) fn set_peers(&mut self, actor_id: DocumentActorId, peers: HashSet<PeerId>) {
        self.subscriptions
            .retain(|(actor, peer), _| *actor != actor_id || peers.contains(peer));
        for peer in peers {
            self.subscriptions.entry((actor_id, peer)).or_default();
        }
    }

    pub(super) fn clear(&mut self) {
        self.subscriptions.clear();
    }

    /// Answer from the cache, wait for the first item, or start a subscription;
    /// or, for a recheck, ask the policy for its decision now; or start a
    /// recheck's new subscription (see [`CheckKind`]).
    pub(super) fn check<'a, A: LocalSharePolicy>(
        &mut self,
        policy: &'a A,
        actor_id: DocumentActorId,
        document_id: DocumentId,
        peer_id: PeerId,
        task_id: IoTaskId,
        kind: CheckKind,
    ) -> Check<impl Stream<Item = PolicyEvent> + 'static + use<'a, A>> {
        let Some(slot) = self.subscriptions.get_mut(&(actor_id, peer_id.clone())) else {
            return Check::Pending;
        };
        let (abort, registration) = AbortHandle::new_pair();
        match slot {
            Some(subscription) if kind == CheckKind::Resubscribe => {
                // Its decision stays installed; the old stream's items, if
                // any are still on their way, no longer count.
                subscription.id = task_id;
                subscription.generation += 1;
                std::mem::replace(&mut subscription.abort, abort).abort();
            }
            None if kind == CheckKind::Resubscribe => return Check::Pending,
            Some(subscription) => {
                let Some(config) = subscription.latest else {
                    subscription.waiting.push(task_id);
                    return Check::Pending;
                };
                if kind == CheckKind::Initial {
                    return Check::Answer(answer(task_id, config));
                }
                let subscription_id = subscription.id;
                let generation = subscription.generation;
                let decision = policy.recheck(document_id.clone(), peer_id.clone());
                return Check::Subscribe(Either::Right(stream::once(async move {
                    PolicyEvent {
                        actor_id,
                        peer_id,
                        subscription_id,
                        config: decision.await,
                        recheck: Some((task_id, generation, document_id)),
                    }
                })));
            }
            None => {
                *slot = Some(Subscription {
                    id: task_id,
                    latest: None,
                    generation: 0,
                    waiting: vec![task_id],
                    abort,
                });
            }
        }
        let events = policy
            .share(document_id, peer_id.clone())
            .map(Some)
            .chain(stream::once(async { None }))
            .map(move |config| PolicyEvent {
                actor_id,
                peer_id: peer_id.clone(),
                subscription_id: task_id,
                config,
                recheck: None,
            })
            .then(|event| async {
                // Yield even for duplicates so an always-ready stream cannot
                // monopolize the IO loop. This also works on non-Send runtimes.
                yield_now().await;
                event
            });
        Check::Subscribe(Either::Left(Abortable::new(events, registration)))
    }

    /// Apply one stream event and return messages for its document actor, and
    /// the subscription to start again when a recheck changed the decision.
    pub(super) fn handle_event(
        &mut self,
        event: PolicyEvent,
    ) -> (Vec<ActorTask>, Option<Resubscribe>) {
        let Some(Some(subscription)) = self
            .subscriptions
            .get_mut(&(event.actor_id, event.peer_id.clone()))
        else {
            return (Vec::new(), None);
        };
        if let Some((task_id, generation, document_id)) = event.recheck {
            // Started before a newer decision (or before the subscription
            // was replaced): the task is answered with what holds now.
            let current =
                subscription.id == event.subscription_id && generation == subscription.generation;
            let Some(latest) = subscription.latest else {
                // A new subscription's first item answers it.
                subscription.waiting.push(task_id);
                return (Vec::new(), None);
            };
            return match event.config {
                Some(config) if current && config != latest => {
                    subscription.latest = Some(config);
                    // Every connection to the peer, the rechecking one among
                    // them (its lookup is then superseded).
                    let update = ActorTask::HandleMessage(HubToDocMsg::update_share_policy(
                        event.peer_id.clone(),
                        config,
                    ));
                    let resubscribe = Resubscribe {
                        actor_id: event.actor_id,
                        document_id,
                        peer_id: event.peer_id,
                        id: task_id,
                    };
                    (vec![update], Some(resubscribe))
                }
                _ => (vec![answer(task_id, latest)], None),
            };
        }
        if subscription.id != event.subscription_id {
            // A disconnected peer may already have a new subscription.
            return (Vec::new(), None);
        }
        (self.apply_item(event), None)
    }

    /// A stream's item (or its end).
    fn apply_item(&mut self, event: PolicyEvent) -> Vec<ActorTask> {
        let Some(Some(subscription)) = self
            .subscriptions
            .get_mut(&(event.actor_id, event.peer_id.clone()))
        else {
            return Vec::new();
        };
        subscription.generation += 1;
        let config = match event.config {
            Some(config) => config,
            None if subscription.latest.is_none() => ShareConfig::none(),
            None => return Vec::new(),
        };
        let previous = subscription.latest.replace(config);
        if previous == Some(config) {
            return Vec::new();
        }
        if previous.is_none() {
            subscription
                .waiting
                .drain(..)
                .map(|task| answer(task, config))
                .collect()
        } else {
            vec![ActorTask::HandleMessage(HubToDocMsg::update_share_policy(
                event.peer_id,
                config,
            ))]
        }
    }
}

async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

fn answer(task_id: IoTaskId, config: ShareConfig) -> ActorTask {
    ActorTask::IoComplete(IoResult {
        task_id,
        payload: DocumentIoResult::CheckSharePolicy(config),
    })
}

#[cfg(test)]
mod tests;
