//! Device certificates for peer-to-peer sync: issued to signed-in users for a device that proves it holds
//! its key, with their teams, roles and epoch, signed with the key the relay publishes, for an hour at most;
//! a peer id is never bound to a second user, a user holds a bounded number of them, and removals and lower
//! roles reach teammates' devices through the revocation feed.

use libp2p::identity::Keypair;
use reqwest::StatusCode;
use serde_json::json;
use teamflow_protocol::Role;
use teamflow_protocol::api::devices::{
    CertificateError, DeviceCertificate, RelayIdentity, Revocations, decode_key, possession_bytes,
};
use teamflow_tests::{Client, TestRelay, assert_error};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn certificate(status: StatusCode, body: serde_json::Value) -> DeviceCertificate {
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).expect("certificate")
}

#[tokio::test]
async fn a_certificate_names_the_device_the_user_and_their_teams_and_verifies_with_the_published_key() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let team = alice.create_team("Design").await;
    alice.add_member(&team, "bob@example.test", "viewer").await;

    let device = Keypair::generate_ed25519();
    let peer = device.public().to_peer_id().to_base58();
    let (status, body) = bob.certify(&device).await;
    let cert = certificate(status, body);
    let (_, identity) = bob.get("/api/devices/relay").await;
    let identity: RelayIdentity = serde_json::from_value(identity).expect("identity");
    let key = decode_key(&identity.certificate_key).expect("key");

    let body = cert.verify(&key, &peer, now()).expect("valid");
    assert_eq!(body.user_id.to_string(), bob.user_id().await);
    assert_eq!(body.teams.len(), 1);
    assert_eq!(body.teams[0].team_id.to_string(), team);
    assert_eq!(body.teams[0].role, Role::Viewer);
    assert_eq!(body.epoch, 0);
    let lifetime = body.expires_at - body.issued_at;
    assert!((600..=3600).contains(&lifetime), "short-lived, at most an hour: {lifetime} s");
    assert_eq!(cert.verify(&key, "12D3KooWSomeoneElse", now()), Err(CertificateError::WrongPeer));
    assert_eq!(cert.verify(&key, &peer, body.expires_at), Err(CertificateError::Expired));
}

#[tokio::test]
async fn renewing_reflects_membership_changes() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let device = Keypair::generate_ed25519();
    let (_, first) = bob.certify(&device).await;
    assert_eq!(first["body"]["teams"], json!([]), "no teams yet: {first}");
    let team = alice.create_team("Ops").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    let (_, renewed) = bob.certify(&device).await;
    assert_eq!(renewed["body"]["teams"][0]["team_id"], team);
    assert_eq!(renewed["body"]["teams"][0]["role"], "member");
    assert_eq!(renewed["body"]["epoch"], 0, "joining a team revokes nothing");
}

/// The certificate request for `key` with a fresh nonce of `nonce_of` and a proof signed by `signer`.
async fn request(
    client: &Client,
    nonce_of: &Client,
    key: &Keypair,
    signer: &Keypair,
) -> (StatusCode, serde_json::Value) {
    use base64::Engine as _;
    let user = client.user_id().await.parse().expect("user id");
    let peer_id = key.public().to_peer_id().to_base58();
    let (_, nonce) = nonce_of.post("/api/devices/nonce", &json!({})).await;
    let nonce = nonce["nonce"].as_str().expect("nonce").to_owned();
    let proof = signer.sign(&possession_bytes(&nonce, user, &peer_id)).expect("sign");
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(proof);
    client
        .post("/api/devices/certificate", &json!({ "peer_id": peer_id, "nonce": nonce, "signature": signature }))
        .await
}

#[tokio::test]
async fn certificates_need_a_signed_in_user_a_real_peer_id_and_proof_of_its_key() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let mallory = relay.user("mallory").await;
    let device = Keypair::generate_ed25519();
    let peer = device.public().to_peer_id().to_base58();
    let (status, body) = relay.client().post("/api/devices/nonce", &json!({})).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = relay.client().get("/api/devices/relay").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = relay.client().get("/api/devices/revocations").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    // A peer id alone (what a thief who saw it in a team's device list has) is not enough.
    let (status, body) = alice.post("/api/devices/certificate", &json!({ "peer_id": peer })).await;
    assert!(status.is_client_error(), "no proof of possession: {status} {body}");
    let (status, body) =
        alice.post("/api/devices/certificate", &json!({ "peer_id": peer, "nonce": "x", "signature": "y" })).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    // Signed by another key: the requester does not hold the device's.
    let (status, body) = request(&alice, &alice, &device, &Keypair::generate_ed25519()).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(body["error"]["details"]["signature"].is_string(), "{body}");
    // A nonce handed to someone else.
    let (status, body) = request(&alice, &mallory, &device, &device).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
    assert!(body["error"]["details"]["nonce"].is_string(), "{body}");
    // A hashed peer id names a key the relay cannot check.
    for bad in ["", "not a peer id", "0OIl0OIl", &"1".repeat(200), "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"] {
        let (status, body) =
            alice.post("/api/devices/certificate", &json!({ "peer_id": bad, "nonce": "x", "signature": "y" })).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(body["error"]["details"]["peer_id"].is_string(), "{body}");
    }
    let (status, body) = alice
        .post("/api/devices/certificate", &json!({ "peer_id": peer, "nonce": "x", "signature": "y", "teams": [] }))
        .await;
    assert!(status.is_client_error(), "unknown fields are refused: {status} {body}");
    let (status, body) = alice.certify(&device).await;
    certificate(status, body);
}

#[tokio::test]
async fn a_peer_id_is_never_bound_to_a_second_user_and_devices_per_user_are_capped() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let shared = Keypair::generate_ed25519();
    let (status, body) = alice.certify(&shared).await;
    certificate(status, body);
    let (status, body) = bob.certify(&shared).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");

    let mut devices = vec![shared];
    for _ in 1..16 {
        let key = Keypair::generate_ed25519();
        let (status, body) = alice.certify(&key).await;
        certificate(status, body);
        devices.push(key);
    }
    let (status, body) = alice.certify(&Keypair::generate_ed25519()).await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
    let (status, body) = alice.certify(&devices[3]).await;
    certificate(status, body);
}

async fn feed(client: &Client, since: i64) -> Revocations {
    let (status, body) = client.get(&format!("/api/devices/revocations?since={since}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body).expect("revocations")
}

#[tokio::test]
async fn removal_and_demotion_raise_the_epoch_and_reach_the_teams_revocation_feed() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let carol = relay.user("carol").await;
    let outsider = relay.user("outsider").await;
    let team = alice.create_team("Ops").await;
    alice.add_member(&team, "bob@example.test", "admin").await;
    alice.add_member(&team, "carol@example.test", "member").await;
    let (bob_id, carol_id) = (bob.user_id().await, carol.user_id().await);
    let device = Keypair::generate_ed25519();
    let (status, body) = bob.certify(&device).await;
    let old = certificate(status, body);
    assert!(feed(&alice, 0).await.revocations.is_empty(), "joining and promotion revoke nothing");

    let (status, body) =
        alice.patch(&format!("/api/teams/{team}/members/{bob_id}"), &json!({ "role": "member" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = alice.delete(&format!("/api/teams/{team}/members/{carol_id}")).await;
    assert!(status.is_success(), "{body}");

    let seen = feed(&alice, 0).await;
    let pairs: Vec<(String, i64)> = seen.revocations.iter().map(|r| (r.user_id.to_string(), r.epoch)).collect();
    assert_eq!(pairs, [(bob_id.clone(), 1), (carol_id.clone(), 1)]);
    assert!(feed(&alice, seen.next).await.revocations.is_empty(), "`next` moves past what was read");
    assert_eq!(feed(&carol, 0).await.revocations.len(), 1, "the removed user sees their own, to renew at once");
    assert!(feed(&outsider, 0).await.revocations.is_empty(), "other teams' changes are not shown");

    // The old certificate (admin, epoch 0) is no longer listed for teammates; a renewal carries epoch 1.
    let (_, devices) = alice.get(&format!("/api/teams/{team}/devices")).await;
    assert_eq!(devices["devices"], json!([]), "a revoked device is not listed: {devices}");
    let (status, body) = bob.certify(&device).await;
    let renewed = certificate(status, body);
    assert_eq!((old.body.epoch, renewed.body.epoch), (0, 1));
    assert_eq!(renewed.body.teams[0].role, Role::Member);
    let (_, devices) = alice.get(&format!("/api/teams/{team}/devices")).await;
    assert_eq!(devices["devices"][0]["peer_id"], device.public().to_peer_id().to_base58());
}

#[tokio::test]
async fn a_disabled_or_deleted_accounts_certificates_reach_its_teams_revocation_feed() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let carol = relay.user("carol").await;
    let team = alice.create_team("Ops").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    alice.add_member(&team, "carol@example.test", "member").await;
    let (bob_id, carol_id) = (bob.user_id().await, carol.user_id().await);
    for (user, device) in [(&bob, Keypair::generate_ed25519()), (&carol, Keypair::generate_ed25519())] {
        let (status, body) = user.certify(&device).await;
        certificate(status, body);
    }
    let (_, devices) = alice.get(&format!("/api/teams/{team}/devices")).await;
    assert_eq!(devices["devices"].as_array().map(Vec::len), Some(2), "{devices}");

    crate::sign_ins::admin(&relay, &["disable", "bob@example.test"]);
    let (status, body) =
        carol.send(reqwest::Method::DELETE, "/api/me", Some(&json!({ "password": teamflow_tests::PASSWORD }))).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let seen = feed(&alice, 0).await;
    let pairs: Vec<(String, i64)> = seen.revocations.iter().map(|r| (r.user_id.to_string(), r.epoch)).collect();
    assert_eq!(pairs, [(bob_id, 1), (carol_id, 1)], "both accounts' devices are void for their teammates");
}
