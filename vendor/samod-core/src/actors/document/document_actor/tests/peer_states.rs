//! The peers' states are copied out of the actor only for someone who reads them: the hub while it
//! observes them, the actor's caller while it listens; meanwhile they stay current inside.

use super::coalesce::Hub;
use super::*;

fn observe_from_hub(hub: &mut Hub, observed: bool) {
    let message = HubToDocMsg(HubToDocMsgPayload::ObservePeerStates(observed));
    let result = hub
        .actor
        .handle_message(UnixTimestamp::now(), message)
        .unwrap();
    hub.absorb(result);
}

/// Peer `i` types `key`, and everyone syncs until nobody has anything to say.
fn type_and_settle(hub: &mut Hub, i: usize, key: &str) -> Vec<ChangeHash> {
    hub.type_on(i, key);
    assert!(hub.send_from(i));
    hub.settle();
    let heads = hub.actor.doc.get_heads();
    assert!(hub.peers.iter().all(|p| p.doc.get_heads() == heads));
    heads
}

/// The last state of `conn` among `sent`.
fn last_state<'a>(
    sent: &'a [HashMap<ConnectionId, PeerDocState>],
    conn: &ConnectionId,
) -> &'a PeerDocState {
    sent.iter()
        .rev()
        .find_map(|states| states.get(conn))
        .expect("a state was sent for every connection")
}

#[test]
fn the_hub_is_sent_peer_states_only_while_it_observes_them() {
    let mut hub = Hub::with_hub_observing(3, false);
    // Nobody listens to the actor's results either, as in samod until `peers` is called.
    hub.actor.observe_peer_states(false);
    hub.reported.clear();
    hub.settle();
    let heads = type_and_settle(&mut hub, 0, "a");
    assert!(hub.sent_to_hub.is_empty(), "unobserved, nothing is sent");
    assert!(hub.reported.is_empty(), "nor reported");
    let inside = hub.actor.peers();
    for peer in &hub.peers {
        assert_eq!(inside[&peer.conn].shared_heads, Some(heads.clone()));
    }

    // Observing starts: every peer's state at once.
    observe_from_hub(&mut hub, true);
    let sent = hub.sent_to_hub.last().expect("the states, at once");
    assert_eq!(sent.len(), 3);
    for peer in &hub.peers {
        assert_eq!(sent[&peer.conn], inside[&peer.conn]);
    }

    let heads = type_and_settle(&mut hub, 1, "b");
    for peer in &hub.peers {
        let state = last_state(&hub.sent_to_hub, &peer.conn);
        assert_eq!(state.shared_heads, Some(heads.clone()));
        assert_eq!(state.their_heads, Some(heads.clone()));
    }

    observe_from_hub(&mut hub, false);
    let before = hub.sent_to_hub.len();
    type_and_settle(&mut hub, 2, "c");
    assert_eq!(hub.sent_to_hub.len(), before, "unobserved again");
}

#[test]
fn the_caller_is_given_peer_states_only_while_it_listens() {
    let mut hub = Hub::with_hub_observing(2, false);
    // Listening, as an actor starts.
    type_and_settle(&mut hub, 0, "a");
    assert!(!hub.reported.is_empty());
    assert!(hub.sent_to_hub.is_empty(), "the hub does not observe");

    hub.actor.observe_peer_states(false);
    let before = hub.reported.len();
    type_and_settle(&mut hub, 1, "b");
    assert_eq!(hub.reported.len(), before);

    hub.actor.observe_peer_states(true);
    let heads = type_and_settle(&mut hub, 0, "c");
    for peer in &hub.peers {
        let state = last_state(&hub.reported, &peer.conn);
        assert_eq!(state.shared_heads, Some(heads.clone()));
    }
}

#[test]
fn a_hub_that_starts_observing_is_sent_the_states_the_caller_was_given_meanwhile() {
    let mut hub = Hub::with_hub_observing(2, false);
    // The caller listens (as samod's `DocHandle::peers` does), the hub does not.
    let heads = type_and_settle(&mut hub, 0, "a");
    let given = last_state(&hub.reported, &hub.peers[1].conn).clone();
    assert_eq!(given.shared_heads, Some(heads));
    assert!(hub.sent_to_hub.is_empty());

    observe_from_hub(&mut hub, true);
    let sent = hub.sent_to_hub.last().expect("the states, at once");
    assert_eq!(sent.len(), 2, "every peer's, although none changed since");
    assert_eq!(sent[&hub.peers[1].conn], given);
}
