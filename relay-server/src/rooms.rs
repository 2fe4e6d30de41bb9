//! Realtime team rooms on `/api/ws`: who is connected to which team, and fan-out of frames to a team.
//!
//! One hub task owns every room; sockets (`http/realtime/connection.rs`) and the rest of the relay talk to
//! it through a cloneable [`RoomsHandle`] over a bounded channel. Each socket has its own bounded send
//! queue: the hub never waits on a socket, and a client that stops reading is cut off instead of slowing
//! the others.
//!
//! With `--nats-url` the hub also hands every operation made here (frames, presence, revocations) to the
//! [`Cluster`], follows the room subjects of the teams it holds sockets of, and
//! applies what other instances publish there (`RoomsHandle::remote`) to its own sockets exactly as it
//! applies its own.

mod hub;

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::Utf8Bytes;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{TeamId, UserId};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::cluster::{Cluster, InstanceId, RoomOp};

pub use hub::spawn_hub;

/// Identifies one socket for the hub's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(u64);

impl ConnId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Self(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// Serialises a server frame once, however many sockets it goes to.
pub fn frame(message: &ServerMessage) -> Utf8Bytes {
    match serde_json::to_string(message) {
        Ok(json) => json.into(),
        Err(e) => {
            tracing::error!(error = %e, "server frame did not serialise");
            Utf8Bytes::from_static(r#"{"type":"error","code":"internal","message":"internal server error"}"#)
        }
    }
}

enum Command {
    Connect {
        conn: ConnId,
        user: UserId,
        send_queue: mpsc::Sender<Utf8Bytes>,
        kill: CancellationToken,
    },
    Disconnect {
        conn: ConnId,
    },
    /// Puts the connection in the team's room as pending: frames for the room are held for it, not sent,
    /// until `Confirm`; a revocation meanwhile drops it. Answers once done.
    Join {
        conn: ConnId,
        team: TeamId,
        reply: oneshot::Sender<()>,
    },
    /// Answers the users online in the team's room, here or through other instances.
    Online {
        team: TeamId,
        reply: oneshot::Sender<Vec<UserId>>,
    },
    /// Makes a pending join count: sends `first` (the team's state), then the held frames, then the room's
    /// frames as they come; answers false, sending nothing, if the join was revoked or abandoned meanwhile.
    Confirm {
        conn: ConnId,
        team: TeamId,
        first: Vec<Utf8Bytes>,
        reply: oneshot::Sender<bool>,
    },
    Leave {
        conn: ConnId,
        team: TeamId,
    },
    Broadcast {
        team: TeamId,
        frame: Utf8Bytes,
        except: Option<ConnId>,
    },
    /// A frame for one user's connections in the team's room (and their pending joins).
    SendToUser {
        team: TeamId,
        user: UserId,
        frame: Utf8Bytes,
    },
    Revoke {
        team: TeamId,
        user: UserId,
    },
    CloseTeam {
        team: TeamId,
    },
    /// An operation another relay instance published to the team's room: applied to the sockets here.
    Remote {
        team: TeamId,
        from: InstanceId,
        op: RoomOp,
    },
    /// Answers every (team, user) with a socket in the team's room here.
    Present {
        reply: oneshot::Sender<Vec<(TeamId, UserId)>>,
    },
    /// Back in touch with the other instances after losing them: every room asks who is online there
    /// and says who is online here, as when it was first followed.
    Reannounce,
    /// Another instance stopped or fell silent: the users online only through it are offline, and what it
    /// says of presence is ignored until it is heard alive again.
    InstanceGone {
        instance: InstanceId,
    },
    /// An instance taken for gone is alive after all: what it says of presence counts again.
    InstanceAlive {
        instance: InstanceId,
    },
    #[cfg(test)]
    Stats {
        reply: oneshot::Sender<(usize, usize)>,
    },
}

/// The relay's door to the hub.
#[derive(Clone, Debug)]
pub struct RoomsHandle {
    commands: mpsc::Sender<Command>,
    cluster: Cluster,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("rooms::Command")
    }
}

impl RoomsHandle {
    async fn send(&self, command: Command) {
        // The hub stops only when the relay does; a command sent during shutdown has nowhere to go.
        if self.commands.send(command).await.is_err() {
            tracing::debug!("rooms hub stopped; command dropped");
        }
    }

    /// Registers a socket of `user`: frames for it go to `send_queue`, and `kill` is cancelled if that queue
    /// fills up (the client stopped reading).
    pub(crate) async fn connect(
        &self,
        user: UserId,
        send_queue: mpsc::Sender<Utf8Bytes>,
        kill: CancellationToken,
    ) -> ConnId {
        let conn = ConnId::next();
        self.send(Command::Connect { conn, user, send_queue, kill }).await;
        conn
    }

    /// Takes a socket out of every room it is in.
    pub(crate) async fn disconnect(&self, conn: ConnId) {
        self.send(Command::Disconnect { conn }).await;
    }

    /// Puts a socket in the team's room, pending: it hears nothing until `confirm`, and a revocation of its
    /// user meanwhile (or `leave`) takes it out again. A join checks membership after this, so a removal
    /// either comes before the check (which then fails) or reaches the hub after this (and drops it).
    ///
    /// With other instances, it also waits until the team's room subject is followed, so that what they
    /// publish to the team after the join is held for the socket too.
    pub(crate) async fn join(&self, conn: ConnId, team: TeamId) {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Join { conn, team, reply }).await;
        answer.await.ok();
        self.cluster.room_followed(team).await;
    }

    /// The users online in the team's room, for the state a join sends: one who comes or goes after this
    /// is told in a frame the join holds.
    pub(crate) async fn online(&self, team: TeamId) -> Vec<UserId> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Online { team, reply }).await;
        answer.await.unwrap_or_default()
    }

    /// Completes a pending join once its checks passed: the socket gets `first` (the team's state as read
    /// after the join), then what was held since the join, so a frame never arrives before a state older
    /// than it. False, and nothing sent, if the socket's user lost access meanwhile.
    pub(crate) async fn confirm(&self, conn: ConnId, team: TeamId, first: Vec<Utf8Bytes>) -> bool {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Confirm { conn, team, first, reply }).await;
        answer.await.unwrap_or(false)
    }

    pub(crate) async fn leave(&self, conn: ConnId, team: TeamId) {
        self.send(Command::Leave { conn, team }).await;
    }

    /// Sends a frame to everyone in the team's room (but `except`).
    pub async fn broadcast(&self, team: TeamId, message: &ServerMessage, except: Option<ConnId>) {
        self.send(Command::Broadcast { team, frame: frame(message), except }).await;
    }

    /// Sends a frame to `user`'s own connections in the team's room, and to no one else.
    pub(crate) async fn send_to_user(&self, team: TeamId, user: UserId, message: &ServerMessage) {
        self.send(Command::SendToUser { team, user, frame: frame(message) }).await;
    }

    /// Takes `user`'s sockets out of the team's room, telling each why (`access_revoked`).
    pub(crate) async fn revoke(&self, team: TeamId, user: UserId) {
        self.send(Command::Revoke { team, user }).await;
    }

    /// Empties the team's room, telling every socket in it why (`access_revoked`).
    pub(crate) async fn close_team(&self, team: TeamId) {
        self.send(Command::CloseTeam { team }).await;
    }

    /// Applies what another instance published to the team's room to the sockets here.
    pub(crate) async fn remote(&self, team: TeamId, from: InstanceId, op: RoomOp) {
        self.send(Command::Remote { team, from, op }).await;
    }

    /// Takes `user`'s sockets here out of the team's room (told why), telling no other instance.
    pub(crate) async fn revoke_here(&self, team: TeamId, user: UserId) {
        // The sender only matters for presence; a revocation is applied whoever sent it.
        self.send(Command::Remote { team, from: InstanceId::nil(), op: RoomOp::Revoke(user) }).await;
    }

    /// Every (team, user) with a socket in the team's room here.
    pub(crate) async fn present(&self) -> Vec<(TeamId, UserId)> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Present { reply }).await;
        answer.await.unwrap_or_default()
    }

    /// See [`Command::InstanceGone`].
    pub(crate) async fn instance_gone(&self, instance: InstanceId) {
        self.send(Command::InstanceGone { instance }).await;
    }

    /// See [`Command::InstanceAlive`].
    pub(crate) async fn instance_alive(&self, instance: InstanceId) {
        self.send(Command::InstanceAlive { instance }).await;
    }

    /// See [`Command::Reannounce`].
    pub(crate) async fn reannounce(&self) {
        self.send(Command::Reannounce).await;
    }

    #[cfg(test)]
    async fn stats(&self) -> (usize, usize) {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Stats { reply }).await;
        answer.await.unwrap_or_default()
    }
}
