//! Fuzzing on stable: every decoder that reads untrusted bytes, fed arbitrary bytes and mutations of the
//! committed seed corpus (`tests/fuzz/corpus/<target>/`), for a bounded number of cases. None may panic, and
//! what decodes must say the same once encoded again.
//!
//! Targets: the sync frame router's reads (`teamflow_sync::wire::Message` and the automerge sync message in
//! its `data`, as `relay-server/src/sync/first_sync.rs` reads them), realtime frames (`ClientMessage` JSON),
//! certificate frames (the node's 4-byte length-prefixed framing with its 16 KiB cap, then a
//! `DeviceCertificate` checked against a relay key), and webhook payloads (`webhooks::describe`, the
//! signature checks in `webhooks::verify`), and @mentions in message content (`teamflow_protocol::mentions`,
//! which the relay reads from every post).
//!
//! proptest records a failing case's seed in `tests/proptest-regressions/`, so it replays;
//! `PROPTEST_CASES=N` runs more (CI runs the default, a few seconds per target).

use std::path::Path;

use bytes::BytesMut;
use proptest::prelude::*;
use serde_json::Value;
use teamflow_protocol::api::devices::DeviceCertificate;
use teamflow_protocol::api::integrations::Service;
use teamflow_protocol::realtime::ClientMessage;
use teamflow_relay::webhooks::{describe, verify};
use teamflow_sync::wire::Message;
use tokio_util::codec::{Decoder as _, LengthDelimitedCodec};

/// The node's certificate frames: `shared/node/src/p2p/framing.rs` (`MAX_CERTIFICATE_FRAME`).
const MAX_CERTIFICATE_FRAME: usize = 16 * 1024;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.expect("entry").path()).expect("seed"))
        .collect();
    assert!(seeds.len() >= 3, "{target}: a few seeds at least");
    seeds.sort();
    seeds
}

/// Arbitrary bytes, or a seed with a few bytes flipped, inserted, removed or the tail cut.
fn input(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len();
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..2048),
        3 => (0..count, proptest::collection::vec((0u8..4, any::<usize>(), any::<u8>()), 0..8)).prop_map(
            move |(seed, edits)| {
                let mut bytes = seeds[seed].clone();
                for (kind, at, byte) in edits {
                    let at = if bytes.is_empty() { 0 } else { at % bytes.len() };
                    match kind {
                        0 if !bytes.is_empty() => bytes[at] = byte,
                        1 => bytes.insert(at, byte),
                        2 if !bytes.is_empty() => drop(bytes.remove(at)),
                        _ => bytes.truncate(at),
                    }
                }
                bytes
            }
        ),
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: 2048, ..ProptestConfig::default() }
}

#[test]
fn sync_frames_decode_without_panicking_and_round_trip() {
    for seed in corpus("sync_wire") {
        assert!(Message::decode(&seed).is_ok(), "every seed is a message: {seed:?}");
    }
    proptest!(config(), |(bytes in input(corpus("sync_wire")))| {
        if let Ok(message) = Message::decode(&bytes) {
            prop_assert_eq!(Message::decode(&message.encode()), Ok(message.clone()));
            if let Message::Request(m) | Message::Sync(m) = &message {
                // What the first-sync router reads next; only "no panic" is asked of it.
                drop(teamflow_sync::automerge::sync::Message::decode(&m.data));
            }
        }
    });
}

#[test]
fn realtime_frames_decode_without_panicking_and_round_trip() {
    for seed in corpus("client_message") {
        assert!(serde_json::from_slice::<ClientMessage>(&seed).is_ok(), "{}", String::from_utf8_lossy(&seed));
    }
    proptest!(config(), |(bytes in input(corpus("client_message")))| {
        if let Ok(message) = serde_json::from_slice::<ClientMessage>(&bytes) {
            let again = serde_json::to_vec(&message).expect("encode");
            prop_assert_eq!(serde_json::from_slice::<ClientMessage>(&again).expect("decode"), message);
        }
    });
}

#[test]
fn certificate_frames_are_bounded_and_unsigned_certificates_refused() {
    // A valid Ed25519 public key (the base point), so refusals come from the signature, not the key.
    let mut relay_key = [0x66u8; 32];
    relay_key[0] = 0x58;
    let seeds = corpus("certificate_frame");
    let shaped = seeds.iter().filter(|seed| {
        let mut codec = LengthDelimitedCodec::builder().max_frame_length(MAX_CERTIFICATE_FRAME).new_codec();
        codec
            .decode(&mut BytesMut::from(&seed[..]))
            .ok()
            .flatten()
            .is_some_and(|frame| serde_json::from_slice::<DeviceCertificate>(&frame).is_ok())
    });
    assert!(shaped.count() >= 1, "a seed is a well-formed certificate frame");
    proptest!(config(), |(bytes in input(corpus("certificate_frame")))| {
        let mut codec = LengthDelimitedCodec::builder().max_frame_length(MAX_CERTIFICATE_FRAME).new_codec();
        let mut buffer = BytesMut::from(&bytes[..]);
        while let Ok(Some(frame)) = codec.decode(&mut buffer) {
            prop_assert!(frame.len() <= MAX_CERTIFICATE_FRAME);
            if let Ok(certificate) = serde_json::from_slice::<DeviceCertificate>(&frame) {
                let peer = certificate.body.peer_id.clone();
                prop_assert!(certificate.verify(&relay_key, &peer, 1_700_000_001).is_err(), "not signed by the relay");
            }
        }
    });
}

#[test]
fn webhook_payloads_describe_safely_and_never_verify_unsigned() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../relay-server/src/webhooks/fixtures");
    let mut seeds = corpus("webhook_payload");
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        seeds.push(std::fs::read(entry.expect("entry").path()).expect("fixture"));
    }
    proptest!(config(), |(bytes in input(seeds.clone()), header in ".{0,80}", timestamp in ".{0,24}")| {
        if let Ok(payload) = serde_json::from_slice::<Value>(&bytes) {
            for service in Service::ALL {
                for event in ["push", "pull_request", "issues", "event_callback", "updateCard", "x"] {
                    let described = describe(service, event, &payload);
                    prop_assert!(described.summary.chars().count() <= 500);
                    prop_assert!(!described.summary.chars().any(char::is_control), "{:?}", described.summary);
                    if let Some(url) = &described.url {
                        prop_assert!(url.to_ascii_lowercase().starts_with("http"), "{url}");
                    }
                }
            }
        }
        prop_assert!(verify::github("secret", Some(&header), &bytes).is_err());
        prop_assert!(verify::slack("secret", Some(&timestamp), Some(&header), &bytes, 1_700_000_000).is_err());
        prop_assert!(verify::slack("secret", Some(&timestamp), Some(&header), &bytes, i64::MIN).is_err());
        prop_assert!(verify::trello("secret", "https://relay.test/x", Some(&header), &bytes).is_err());
    });
}

#[test]
fn mentions_parse_without_panicking_and_name_what_they_cover() {
    let seeds = corpus("mentions");
    let with_mentions = seeds
        .iter()
        .filter(|s| !teamflow_protocol::mentions::mentioned(&String::from_utf8_lossy(s)).is_empty())
        .count();
    assert!(with_mentions >= 3, "the seeds hold mentions to mutate");
    proptest!(config(), |(bytes in input(corpus("mentions")))| {
        let text = String::from_utf8_lossy(&bytes);
        for m in teamflow_protocol::mentions::mentions(&text) {
            // Each mention found is exactly the wire form of what it names, at the place it says.
            prop_assert_eq!(&text[m.start..m.end], teamflow_protocol::mentions::mention(m.user, m.name));
        }
    });
}
