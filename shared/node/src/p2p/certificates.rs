//! The certificate exchange: right after connecting, each side pushes its device certificate on its own
//! stream; the receiving side checks it (relay signature, expiry, the presenting peer, a shared team)
//! before any document stream from that peer is accepted.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use libp2p::{PeerId, StreamProtocol};
use libp2p_stream::Control;
use teamflow_protocol::api::devices::{CertificateBody, CertificateError, DeviceCertificate};

use super::framing::{MAX_CERTIFICATE_FRAME, frames};

pub(crate) const PROTOCOL: StreamProtocol = StreamProtocol::new("/teamflow/certificate/1");

/// A certificate must arrive this soon after its stream opens.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a peer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no certificate arrived in time")]
    Missing,
    #[error("the certificate could not be read: {0}")]
    Malformed(String),
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

/// Sends our certificate to `peer` on a fresh stream.
pub(crate) async fn present(
    mut control: Control,
    peer: PeerId,
    certificate: &DeviceCertificate,
) -> std::io::Result<()> {
    let stream = control.open_stream(peer, PROTOCOL).await.map_err(std::io::Error::other)?;
    let mut frames = frames(stream, MAX_CERTIFICATE_FRAME);
    let json = serde_json::to_vec(certificate).map_err(std::io::Error::other)?;
    frames.send(bytes::Bytes::from(json)).await?;
    SinkExt::<bytes::Bytes>::close(&mut frames).await
}

/// Reads the one certificate a peer sends on an inbound stream.
pub(crate) async fn receive(stream: libp2p::Stream) -> Result<DeviceCertificate, Refusal> {
    let mut frames = frames(stream, MAX_CERTIFICATE_FRAME);
    let frame = match tokio::time::timeout(RECEIVE_TIMEOUT, frames.next()).await {
        Err(_) | Ok(None) => return Err(Refusal::Missing),
        Ok(Some(Err(e))) => return Err(Refusal::Malformed(e.to_string())),
        Ok(Some(Ok(frame))) => frame,
    };
    serde_json::from_slice(&frame).map_err(|e| Refusal::Malformed(e.to_string()))
}

/// Decides whether `certificate`, presented by `peer`, admits it: signed by the relay whose key is
/// `relay_key`, unexpired at `now` (Unix seconds), issued to `peer`, and naming a team `mine` names too.
/// Answers the certified body.
pub(crate) fn admit(
    certificate: &DeviceCertificate,
    relay_key: &[u8; 32],
    peer: &PeerId,
    mine: &CertificateBody,
    now: i64,
) -> Result<CertificateBody, Refusal> {
    let body = certificate.verify(relay_key, &peer.to_base58(), now)?;
    if certificate.shared_teams(mine).next().is_none() {
        return Err(CertificateError::NoSharedTeam.into());
    }
    Ok(body.clone())
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer as _, SigningKey};
    use teamflow_protocol::api::devices::{TeamGrant, certificate};
    use teamflow_protocol::{Role, TeamId, UserId};

    use super::*;

    fn issue(relay: &SigningKey, peer: &PeerId, teams: &[TeamId], expires_at: i64) -> DeviceCertificate {
        let body = CertificateBody {
            user_id: UserId::new(),
            peer_id: peer.to_base58(),
            teams: teams.iter().map(|&team_id| TeamGrant { team_id, role: Role::Member }).collect(),
            issued_at: 0,
            expires_at,
            epoch: 0,
        };
        certificate(body, |message| relay.sign(message).to_bytes())
    }

    #[test]
    fn only_a_current_certificate_of_the_presenting_peer_sharing_a_team_is_admitted() {
        let relay = SigningKey::from_bytes(&[7; 32]);
        let key = relay.verifying_key().to_bytes();
        let (me, them, stranger) = (PeerId::random(), PeerId::random(), PeerId::random());
        let (ours, other_team) = (TeamId::new(), TeamId::new());
        let mine = issue(&relay, &me, &[ours], 100).body;

        let good = issue(&relay, &them, &[other_team, ours], 100);
        assert_eq!(admit(&good, &key, &them, &mine, 50).map(|b| b.peer_id), Ok(them.to_base58()));

        let refused = |cert: &DeviceCertificate, peer: &PeerId, now: i64| admit(cert, &key, peer, &mine, now).err();
        assert_eq!(refused(&good, &stranger, 50), Some(Refusal::Certificate(CertificateError::WrongPeer)));
        assert_eq!(refused(&good, &them, 100), Some(Refusal::Certificate(CertificateError::Expired)));
        let elsewhere = issue(&relay, &them, &[other_team], 100);
        assert_eq!(refused(&elsewhere, &them, 50), Some(Refusal::Certificate(CertificateError::NoSharedTeam)));
        let forged = issue(&SigningKey::from_bytes(&[8; 32]), &them, &[ours], 100);
        assert_eq!(refused(&forged, &them, 50), Some(Refusal::Certificate(CertificateError::BadSignature)));
        let mut widened = good.clone();
        widened.body.expires_at = 1_000_000;
        assert_eq!(refused(&widened, &them, 50), Some(Refusal::Certificate(CertificateError::BadSignature)));
    }
}
