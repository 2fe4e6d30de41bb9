use super::*;
use futures::executor::block_on;

fn active() -> (Policies, DocumentActorId, DocumentId, PeerId) {
    let mut policies = Policies::default();
    let actor = DocumentActorId::new();
    let doc = DocumentId::new(&mut rand::rng());
    let peer: PeerId = "remote".into();
    policies.set_peers(actor, HashSet::from([peer.clone()]));
    (policies, actor, doc, peer)
}

fn assert_answer(task: &ActorTask, id: IoTaskId, expected: ShareConfig) {
    let ActorTask::IoComplete(IoResult {
        task_id,
        payload: DocumentIoResult::CheckSharePolicy(config),
    }) = task
    else {
        panic!("expected initial policy answer");
    };
    assert_eq!(*task_id, id);
    assert_eq!(*config, expected);
}

#[test]
fn one_subscription_answers_waiting_and_cached_initial_checks() {
    block_on(async {
        let (mut policies, actor, doc, peer) = active();
        let policy = ShareConfig::read_only();
        let first = IoTaskId::from(1usize);
        let second = IoTaskId::from(2usize);
        let Check::Subscribe(events) =
            policies.check(&policy, actor, doc.clone(), peer.clone(), first, CheckKind::Initial)
        else {
            panic!("first check must subscribe");
        };
        let mut events = Box::pin(events);
        assert!(matches!(
            policies.check(&policy, actor, doc.clone(), peer.clone(), second, CheckKind::Initial),
            Check::Pending
        ));
        let answers = policies.handle_event(events.next().await.unwrap()).0;
        assert_eq!(answers.len(), 2);
        assert_answer(&answers[0], first, policy);
        assert_answer(&answers[1], second, policy);
        // EOF preserves the cache, even after the polling stream is gone.
        assert!(
            policies
                .handle_event(events.next().await.unwrap())
                .0
                .is_empty()
        );
        assert!(events.next().await.is_none());
        let third = IoTaskId::from(3usize);
        let Check::Answer(answer) = policies.check(&policy, actor, doc, peer, third, CheckKind::Initial) else {
            panic!("subsequent connection must use the cache");
        };
        assert_answer(&answer, third, policy);
    });
}

#[test]
fn changed_decisions_push_messages_and_duplicates_do_nothing() {
    block_on(async {
        let (mut policies, actor, doc, peer) = active();
        let policy = |_, _| {
            stream::iter([
                ShareConfig::read_only(),
                ShareConfig::read_only(),
                ShareConfig::read_write(),
            ])
        };
        let Check::Subscribe(events) =
            policies.check(&policy, actor, doc, peer.clone(), 1usize.into(), CheckKind::Initial)
        else {
            panic!("expected subscription");
        };
        let mut events = Box::pin(events);
        let first = policies.handle_event(events.next().await.unwrap()).0;
        assert_answer(&first[0], 1usize.into(), ShareConfig::read_only());
        assert!(
            policies
                .handle_event(events.next().await.unwrap())
                .0
                .is_empty()
        );
        let update = policies.handle_event(events.next().await.unwrap()).0;
        assert!(matches!(update.as_slice(), [ActorTask::HandleMessage(_)]));
        assert_eq!(
            policies.subscriptions[&(actor, peer)]
                .as_ref()
                .unwrap()
                .latest,
            Some(ShareConfig::read_write())
        );
        assert!(
            policies
                .handle_event(events.next().await.unwrap())
                .0
                .is_empty()
        );
    });
}

#[test]
fn empty_stream_denies_pending_checks() {
    block_on(async {
        let (mut policies, actor, doc, peer) = active();
        let policy = |_, _| stream::empty();
        let Check::Subscribe(events) = policies.check(&policy, actor, doc, peer, 1usize.into(), CheckKind::Initial)
        else {
            panic!("expected subscription");
        };
        let mut events = Box::pin(events);
        let answers = policies.handle_event(events.next().await.unwrap()).0;
        assert_eq!(answers.len(), 1);
        assert_answer(&answers[0], 1usize.into(), ShareConfig::none());
        assert!(events.next().await.is_none());
    });
}

#[test]
fn disconnected_subscriptions_are_cancelled_and_late_events_are_ignored() {
    block_on(async {
        let (mut policies, actor, doc, peer) = active();
        let policy = |_, _| stream::repeat(ShareConfig::read_write());
        let Check::Subscribe(events) =
            policies.check(&policy, actor, doc.clone(), peer.clone(), 1usize.into(), CheckKind::Initial)
        else {
            panic!("expected subscription");
        };
        let mut events = Box::pin(events);
        let stale = events.next().await.unwrap();
        policies.set_peers(actor, HashSet::new());
        assert!(events.next().await.is_none(), "removal aborts polling");
        policies.set_peers(actor, HashSet::from([peer.clone()]));
        let replacement_policy = ShareConfig::read_only();
        let Check::Subscribe(replacement) =
            policies.check(&replacement_policy, actor, doc, peer.clone(), 2usize.into(), CheckKind::Initial)
        else {
            panic!("reconnection must subscribe again");
        };
        assert!(policies.handle_event(stale).0.is_empty());
        assert_eq!(
            policies.subscriptions[&(actor, peer)]
                .as_ref()
                .unwrap()
                .latest,
            None
        );
        let mut replacement = Box::pin(replacement);
        let answers = policies.handle_event(replacement.next().await.unwrap()).0;
        assert_answer(&answers[0], 2usize.into(), replacement_policy);
        policies.clear();
        assert!(
            replacement.next().await.is_none(),
            "shutdown aborts polling"
        );
    });
}

/// A policy whose stream says `streamed` (and then waits), and whose recheck
/// answers `now`.
#[derive(Clone)]
struct Rechecked {
    streamed: ShareConfig,
    now: Option<ShareConfig>,
}

impl crate::SharePolicy for Rechecked {
    fn share(
        &self,
        _doc_id: DocumentId,
        _peer_id: PeerId,
    ) -> impl Stream<Item = ShareConfig> + Send + 'static {
        stream::once(std::future::ready(self.streamed)).chain(stream::pending())
    }

    fn recheck(
        &self,
        _doc_id: DocumentId,
        _peer_id: PeerId,
    ) -> impl std::future::Future<Output = Option<ShareConfig>> + Send + 'static {
        std::future::ready(self.now)
    }
}

fn is_update(task: &ActorTask) -> bool {
    matches!(task, ActorTask::HandleMessage(_))
}

/// A recheck that grants is installed for all the peer's connections, and
/// the stream is replaced by a new subscription: the old one may hold back a
/// denial equal to its last item, but not to the grant now installed (say the
/// peer was removed again right after the recheck read its access).
#[test]
fn a_recheck_that_grants_updates_every_connection_and_a_new_subscription_has_the_last_word() {
    block_on(async {
        let (mut policies, actor, doc, peer) = active();
        let policy = Rechecked {
            streamed: ShareConfig::none(),
            now: Some(ShareConfig::read_write()),
        };
        let Check::Subscribe(events) =
            policies.check(&policy, actor, doc.clone(), peer.clone(), 1usize.into(), CheckKind::Initial)
        else {
            panic!("expected subscription");
        };
        let mut events = Box::pin(events);
        let first = policies.handle_event(events.next().await.unwrap()).0;
        assert_answer(&first[0], 1usize.into(), ShareConfig::none());

        let Check::Subscribe(recheck) =
            policies.check(&policy, actor, doc, peer.clone(), 2usize.into(), CheckKind::Recheck)
        else {
            panic!("a recheck asks the policy, not the cache");
        };
        let (granted, again) = policies.handle_event(Box::pin(recheck).next().await.unwrap());
        assert!(matches!(granted.as_slice(), [task] if is_update(task)), "all the peer's connections");
        let latest = |policies: &Policies| policies.subscriptions[&(actor, peer.clone())].as_ref().unwrap().latest;
        assert_eq!(latest(&policies), Some(ShareConfig::read_write()));

        let again = again.expect("the stream is replaced");
        let Check::Subscribe(replacement) = policies.check(
            &policy,
            again.actor_id,
            again.document_id,
            again.peer_id,
            again.id,
            CheckKind::Resubscribe,
        ) else {
            panic!("a new subscription");
        };
        assert!(events.next().await.is_none(), "the old stream is stopped");
        // The new stream's first decision (the access as it is now) replaces the grant.
        let denied = policies.handle_event(Box::pin(replacement).next().await.unwrap()).0;
        assert!(matches!(denied.as_slice(), [task] if is_update(task)));
        assert_eq!(latest(&policies), Some(ShareConfig::none()));
    });
}

#[test]
fn a_recheck_overtaken_by_the_stream_or_without_an_answer_keeps_the_streams_decision() {
    block_on(async {
        for now in [None, Some(ShareConfig::read_write())] {
            let (mut policies, actor, doc, peer) = active();
            let policy = Rechecked { streamed: ShareConfig::none(), now };
            let Check::Subscribe(events) =
                policies.check(&policy, actor, doc.clone(), peer.clone(), 1usize.into(), CheckKind::Initial)
            else {
                panic!("expected subscription");
            };
            let mut events = Box::pin(events);
            policies.handle_event(events.next().await.unwrap()).0;
            let Check::Subscribe(recheck) =
                policies.check(&policy, actor, doc, peer.clone(), 2usize.into(), CheckKind::Recheck)
            else {
                panic!("a recheck asks the policy");
            };
            if now.is_some() {
                // The stream yields (the same denial, say after a revocation)
                // while the recheck is out: the recheck may have read access
                // from before it, and must not grant.
                let subscription_id =
                    policies.subscriptions[&(actor, peer.clone())].as_ref().unwrap().id;
                policies.handle_event(PolicyEvent {
                    actor_id: actor,
                    peer_id: peer.clone(),
                    subscription_id,
                    config: Some(ShareConfig::none()),
                    recheck: None,
                }).0;
            }
            let answer = policies.handle_event(Box::pin(recheck).next().await.unwrap()).0;
            assert_eq!(answer.len(), 1);
            assert_answer(&answer[0], 2usize.into(), ShareConfig::none());
            let latest = policies.subscriptions[&(actor, peer)].as_ref().unwrap().latest;
            assert_eq!(latest, Some(ShareConfig::none()));
        }
    });
}

/// Two rechecks out at once: the first changes the decision and replaces the
/// subscription; the second, started before, is answered with the decision
/// that holds (its connection would otherwise wait for good).
#[test]
fn a_recheck_started_before_the_subscription_was_replaced_is_still_answered() {
    block_on(async {
        let (mut policies, actor, doc, peer) = active();
        let policy = Rechecked {
            streamed: ShareConfig::none(),
            now: Some(ShareConfig::read_write()),
        };
        let Check::Subscribe(events) =
            policies.check(&policy, actor, doc.clone(), peer.clone(), 1usize.into(), CheckKind::Initial)
        else {
            panic!("expected subscription");
        };
        policies.handle_event(Box::pin(events).next().await.unwrap());
        let recheck = |policies: &mut Policies, task: usize| {
            let Check::Subscribe(events) =
                policies.check(&policy, actor, doc.clone(), peer.clone(), task.into(), CheckKind::Recheck)
            else {
                panic!("a recheck asks the policy");
            };
            Box::pin(events)
        };
        let (mut first, mut second) = (recheck(&mut policies, 2), recheck(&mut policies, 3));
        let (_, again) = policies.handle_event(first.next().await.unwrap());
        let again = again.expect("replaced");
        let replaced = policies.check(
            &policy,
            again.actor_id,
            again.document_id,
            again.peer_id,
            again.id,
            CheckKind::Resubscribe,
        );
        assert!(matches!(replaced, Check::Subscribe(_)));
        let (answer, again) = policies.handle_event(second.next().await.unwrap());
        assert!(again.is_none());
        assert_eq!(answer.len(), 1);
        assert_answer(&answer[0], 3usize.into(), ShareConfig::read_write());
    });
}

