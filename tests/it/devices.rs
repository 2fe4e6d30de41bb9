//! Device certificates for peer-to-peer sync: issued to signed-in users for their device's peer id, with
//! their teams and roles, signed with the key the relay publishes; refused without a token or for a
//! malformed peer id.

use reqwest::StatusCode;
use serde_json::json;
use teamflow_protocol::Role;
use teamflow_protocol::api::devices::{CertificateError, DeviceCertificate, RelayIdentity, decode_key};
use teamflow_tests::{TestRelay, assert_error};

const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[tokio::test]
async fn a_certificate_names_the_device_the_user_and_their_teams_and_verifies_with_the_published_key() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let team = alice.create_team("Design").await;
    alice.add_member(&team, "bob@example.test", "viewer").await;

    let (status, body) = bob.post("/api/devices/certificate", &json!({ "peer_id": PEER })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cert: DeviceCertificate = serde_json::from_value(body).expect("certificate");
    let (_, identity) = bob.get("/api/devices/relay").await;
    let identity: RelayIdentity = serde_json::from_value(identity).expect("identity");
    let key = decode_key(&identity.certificate_key).expect("key");

    let body = cert.verify(&key, PEER, now()).expect("valid");
    assert_eq!(body.user_id.to_string(), bob.user_id().await);
    assert_eq!(body.teams.len(), 1);
    assert_eq!(body.teams[0].team_id.to_string(), team);
    assert_eq!(body.teams[0].role, Role::Viewer);
    assert!(body.expires_at - body.issued_at >= 3600, "long enough to work offline for a while");
    assert_eq!(cert.verify(&key, "12D3KooWSomeoneElse", now()), Err(CertificateError::WrongPeer));
    assert_eq!(cert.verify(&key, PEER, body.expires_at), Err(CertificateError::Expired));
}

#[tokio::test]
async fn renewing_reflects_membership_changes() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let bob = relay.user("bob").await;
    let (_, first) = bob.post("/api/devices/certificate", &json!({ "peer_id": PEER })).await;
    assert_eq!(first["body"]["teams"], json!([]), "no teams yet: {first}");
    let team = alice.create_team("Ops").await;
    alice.add_member(&team, "bob@example.test", "member").await;
    let (_, renewed) = bob.post("/api/devices/certificate", &json!({ "peer_id": PEER })).await;
    assert_eq!(renewed["body"]["teams"][0]["team_id"], team);
    assert_eq!(renewed["body"]["teams"][0]["role"], "member");
}

#[tokio::test]
async fn certificates_need_a_signed_in_user_and_a_real_peer_id() {
    let relay = TestRelay::start().await;
    let alice = relay.user("alice").await;
    let (status, body) = relay.client().post("/api/devices/certificate", &json!({ "peer_id": PEER })).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, body) = relay.client().get("/api/devices/relay").await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    for bad in ["", "not a peer id", "0OIl0OIl", &"1".repeat(200)] {
        let (status, body) = alice.post("/api/devices/certificate", &json!({ "peer_id": bad })).await;
        assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
        assert!(body["error"]["details"]["peer_id"].is_string(), "{body}");
    }
    let (status, body) = alice.post("/api/devices/certificate", &json!({ "peer_id": PEER, "teams": [] })).await;
    assert!(status.is_client_error(), "unknown fields are refused: {status} {body}");
}
