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

/// Peer `i`'s next sync message after typing `text`, not yet handed to the actor.
fn keystroke(hub: &mut Hub, i: usize, text: &str) -> HubToDocMsg {
    hub.type_on(i, text);
    let message = hub.say(i).expect("a change to send");
    sync_from(
        hub,
        i,
        SyncMessage::Sync {
            data: message.encode(),
        },
    )
}

#[test]
fn a_keystroke_or_presence_from_a_peer_in_sync_is_light() {
    let mut hub = Hub::new(2);
    hub.settle();
    let key = keystroke(&mut hub, 0, "k");
    assert!(hub.actor.is_light(&key));
    let presence = HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id: hub.peers[1].conn,
        message: DocMessage::Ephemeral(EphemeralMessage {
            sender_id: "peer1".into(),
            session_id: EphemeralSessionId::new_from_rng(&mut rand::rng()),
            count: 1,
            data: vec![0xa0],
        }),
        received_at: UnixTimestamp::now(),
    });
    assert!(hub.actor.is_light(&presence));
}

#[test]
fn a_large_message_a_request_or_a_peers_first_message_is_not_light() {
    let mut hub = Hub::new(2);
    // Before any exchange: the first message may ask for the whole history.
    let first = hub.say(0).expect("a first message");
    let first = sync_from(
        &hub,
        0,
        SyncMessage::Sync {
            data: first.encode(),
        },
    );
    assert!(!hub.actor.is_light(&first));
    hub.settle();

    // Random text, which automerge's compression of the change cannot shrink below the limit.
    let paste: String = (0..12_000)
        .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
        .collect();
    let pasted = keystroke(&mut hub, 0, &paste);
    assert!(!hub.actor.is_light(&pasted), "larger than a keystroke");
    let request = sync_from(&hub, 1, SyncMessage::Request { data: vec![0x42] });
    assert!(!hub.actor.is_light(&request));
    let unavailable = sync_from(&hub, 1, SyncMessage::DocUnavailable);
    assert!(!hub.actor.is_light(&unavailable));
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
    let key = keystroke(&mut hub, 1, "k");
    let denied = hub
        .actor
        .handle_message(
            UnixTimestamp::now(),
            HubToDocMsg::update_share_policy("peer1".into(), ShareConfig::none()),
        )
        .unwrap();
    hub.absorb(denied);
    assert!(!hub.actor.is_light(&key));

    let (actor, _, conn, _) = new_actor(false, None);
    let loading = HubToDocMsg(HubToDocMsgPayload::HandleDocMessage {
        connection_id: conn,
        message: DocMessage::Sync(SyncMessage::Sync { data: vec![0x42] }),
        received_at: UnixTimestamp::now(),
    });
    assert!(!actor.is_light(&loading));
}

#[test]
fn light_keystrokes_handled_one_by_one_reach_every_peer() {
    let mut hub = Hub::new(3);
    hub.settle();
    for k in 0..10 {
        let key = keystroke(&mut hub, k % 3, &format!("key{k}"));
        assert!(hub.actor.is_light(&key), "keystroke {k}");
        let result = hub.actor.handle_message(UnixTimestamp::now(), key).unwrap();
        hub.absorb(result);
        hub.settle();
    }
    let heads = hub.actor.doc.get_heads();
    assert!(hub.peers.iter().all(|p| p.doc.get_heads() == heads));
    assert_eq!(hub.actor.doc.keys(ROOT).count(), 11);
}
