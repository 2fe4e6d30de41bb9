//! Which messages a runner may handle on the thread they arrive on (`DocumentActor::is_light`).

use super::coalesce::Hub;
use super::*;
use crate::ephemera::{EphemeralMessage, EphemeralSessionId};

fn sync_from(hub: &Hub, i: usize, message: SyncMessage) -> HubToDocMsg {
    HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id: hub.peers[i].conn,
        message: DocMessage::Sync(message),
        received_at: UnixTimestamp::now(),
    })
}

fn encoded(hub: &Hub, i: usize, message: sync::Message) -> HubToDocMsg {
    sync_from(
        hub,
        i,
        SyncMessage::Sync {
            data: message.encode(),
        },
    )
}

/// Peer 0 types; the hub hands the change to everyone. Peer `i`'s acknowledgement of it, not yet handed
/// to the hub.
fn acknowledgement(hub: &mut Hub, i: usize, key: &str) -> sync::Message {
    hub.type_on(0, key);
    assert!(hub.send_from(0));
    hub.finish_io();
    hub.deliver();
    hub.say(i).expect("an acknowledgement")
}

#[test]
fn an_acknowledgement_of_the_documents_heads_or_presence_from_a_syncing_peer_is_light() {
    let mut hub = Hub::new(3);
    hub.settle();
    let ack = acknowledgement(&mut hub, 1, "k");
    assert!(ack.changes.is_empty());
    let ack = encoded(&hub, 1, ack);
    assert!(hub.actor.is_light(&ack));
    let presence = HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id: hub.peers[2].conn,
        message: DocMessage::Ephemeral(EphemeralMessage {
            sender_id: "peer2".into(),
            session_id: EphemeralSessionId::new_from_rng(&mut rand::rng()),
            count: 1,
            data: vec![0xa0],
        }),
        received_at: UnixTimestamp::now(),
    });
    assert!(hub.actor.is_light(&presence));
}

#[test]
fn changes_stale_or_empty_heads_requests_and_first_messages_are_not_light() {
    let mut hub = Hub::new(3);
    // Before any exchange: the first message may ask for the whole history.
    let first = hub.say(0).expect("a first message");
    assert!(!hub.actor.is_light(&encoded(&hub, 0, first)));
    hub.settle();

    // A keystroke: a change to apply, however small.
    hub.type_on(1, "k");
    let keystroke = hub.say(1).expect("a change to send");
    assert!(!hub.actor.is_light(&encoded(&hub, 1, keystroke.clone())));
    hub.hand_over(1, keystroke);
    hub.finish_io();
    hub.deliver();
    // An acknowledgement of heads the document has moved past: the answer is the changes since.
    let stale = hub.say(2).expect("an acknowledgement");
    assert!(
        hub.actor.is_light(&encoded(&hub, 2, stale.clone())),
        "light while its heads are the document's"
    );
    hub.type_on(0, "later");
    assert!(hub.send_from(0));
    assert!(!hub.actor.is_light(&encoded(&hub, 2, stale)));
    // A peer that lost its data says it has nothing: the answer can be the whole document.
    let mut lost = sync::State::new();
    let empty = Automerge::new().generate_sync_message(&mut lost).unwrap();
    assert!(empty.heads.is_empty());
    assert!(!hub.actor.is_light(&encoded(&hub, 2, empty)));

    let request = sync_from(&hub, 1, SyncMessage::Request { data: vec![0x42] });
    assert!(!hub.actor.is_light(&request));
    let unavailable = sync_from(&hub, 1, SyncMessage::DocUnavailable);
    assert!(!hub.actor.is_light(&unavailable));
    let garbage = sync_from(&hub, 1, SyncMessage::Sync { data: vec![0x42] });
    assert!(!hub.actor.is_light(&garbage));
    let unknown = HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id: ConnectionId::new(),
        message: DocMessage::Sync(SyncMessage::Sync { data: vec![0x42] }),
        received_at: UnixTimestamp::now(),
    });
    assert!(
        !hub.actor.is_light(&unknown),
        "a connection the document does not know"
    );
    assert!(
        !hub.actor
            .is_light(&HubToDocMsg(HubToDocMsgPayload::Terminate))
    );
}

#[test]
fn nothing_is_light_for_a_peer_denied_or_a_document_still_loading() {
    let mut hub = Hub::new(2);
    hub.settle();
    let ack = acknowledgement(&mut hub, 1, "k");
    let ack = encoded(&hub, 1, ack);
    assert!(hub.actor.is_light(&ack));
    let denied = hub
        .actor
        .handle_message(
            UnixTimestamp::now(),
            HubToDocMsg::update_share_policy("peer1".into(), ShareConfig::none()),
        )
        .unwrap();
    hub.absorb(denied);
    assert!(!hub.actor.is_light(&ack));

    let (actor, _, conn, _) = new_actor(false, None);
    let loading = HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id: conn,
        message: DocMessage::Sync(SyncMessage::Sync { data: vec![0x42] }),
        received_at: UnixTimestamp::now(),
    });
    assert!(!actor.is_light(&loading));
}

#[test]
fn light_acknowledgements_handled_one_by_one_leave_every_peer_in_sync() {
    let mut hub = Hub::new(3);
    hub.settle();
    for k in 0..10 {
        hub.type_on(0, &format!("key{k}"));
        assert!(hub.send_from(0));
        hub.finish_io();
        hub.deliver();
        for i in 1..3 {
            let ack = hub.say(i).expect("an acknowledgement");
            let message = encoded(&hub, i, ack.clone());
            assert!(hub.actor.is_light(&message), "key {k}, peer {i}");
            hub.hand_over(i, ack);
        }
        hub.settle();
    }
    let heads = hub.actor.doc.get_heads();
    assert!(hub.peers.iter().all(|p| p.doc.get_heads() == heads));
    assert_eq!(hub.actor.doc.keys(ROOT).count(), 11);
}

#[test]
fn an_acknowledgement_that_needs_resets_reorders_heads_or_comes_too_soon_is_not_light() {
    let mut hub = Hub::new(3);
    hub.settle();
    // Two typists at once: the document has two heads.
    hub.type_on(0, "zero");
    hub.type_on(1, "one");
    assert!(hub.send_from(0));
    assert!(hub.send_from(1));
    hub.finish_io();
    hub.deliver();
    let ack = hub.say(2).expect("an acknowledgement");
    assert_eq!(ack.heads.len(), 2);
    assert!(hub.actor.is_light(&encoded(&hub, 2, ack.clone())));

    // automerge encodes heads sorted; a client of its own may not. The message's bytes: its type, the
    // number of heads, then each head's 32 bytes.
    let mut reordered = ack.clone().encode();
    assert_eq!(reordered[1], 2, "two heads");
    let (first, second) = reordered[2..66].split_at_mut(32);
    first.swap_with_slice(second);
    let reordered = sync_from(&hub, 2, SyncMessage::Sync { data: reordered });
    assert!(
        !hub.actor.is_light(&reordered),
        "automerge compares heads in order"
    );
    let mut needy = ack.clone();
    needy.need.push(ack.heads[0]);
    assert!(!hub.actor.is_light(&encoded(&hub, 2, needy)));
    let mut reset = ack.clone();
    let mut flags = sync::MessageFlags::new();
    flags.set(sync::MessageFlags::SYNC_RESET);
    reset.flags = Some(flags);
    assert!(!hub.actor.is_light(&encoded(&hub, 2, reset)));

    let large_presence = HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id: hub.peers[2].conn,
        message: DocMessage::Ephemeral(EphemeralMessage {
            sender_id: "peer2".into(),
            session_id: EphemeralSessionId::new_from_rng(&mut rand::rng()),
            count: 1,
            data: vec![0; 5000],
        }),
        received_at: UnixTimestamp::now(),
    });
    assert!(!hub.actor.is_light(&large_presence));
}
