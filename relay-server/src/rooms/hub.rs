//! The hub task: the only owner of room membership and presence, and of what is known of the users online
//! through other relay instances.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{TeamId, UserId};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

use super::{Command, ConnId, RoomsHandle, frame};
use crate::cluster::{Cluster, InstanceId, RoomOp};

struct Conn {
    user: UserId,
    send_queue: mpsc::Sender<Utf8Bytes>,
    kill: CancellationToken,
    teams: HashSet<TeamId>,
    /// Joins not yet confirmed, with the frames held for each meanwhile.
    pending: HashMap<TeamId, Vec<Utf8Bytes>>,
}

/// Frames held for a pending join at most; a join that waits longer than this many frames is dropped.
const HELD_FRAMES: usize = 256;

/// How long an instance that stopped or fell silent is remembered as gone (instance ids are new at every
/// start, so this only bounds the memory kept).
const REMEMBER_GONE: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Room {
    members: HashSet<ConnId>,
    /// Connections per user, for presence: a user is online while any of their sockets is in the room.
    presence: HashMap<UserId, usize>,
    /// Connections whose join is not confirmed yet: frames are held for them.
    pending: HashSet<ConnId>,
    /// Users online through other instances (never an empty set), as those said since this room was
    /// followed: a user is online in the team while they have a socket here or on any of them.
    remote: HashMap<UserId, HashSet<InstanceId>>,
}

impl Room {
    fn is_online(&self, user: UserId) -> bool {
        self.presence.contains_key(&user) || self.remote.contains_key(&user)
    }

    fn online(&self) -> Vec<UserId> {
        let elsewhere = self.remote.keys().filter(|user| !self.presence.contains_key(user));
        self.presence.keys().chain(elsewhere).copied().collect()
    }
}

#[derive(Default)]
struct Hub {
    conns: HashMap<ConnId, Conn>,
    rooms: HashMap<TeamId, Room>,
    cluster: Cluster,
    /// Instances that stopped or fell silent, and since when: a `joined` of theirs that arrives late (their
    /// room subject and the cluster's notices are read apart) would otherwise show a user online for good.
    gone: HashMap<InstanceId, Instant>,
}

/// Starts the hub; it runs until every handle is dropped or `shutdown` is cancelled. With an enabled
/// `cluster`, it shares its rooms with the other relay instances.
pub fn spawn_hub(shutdown: CancellationToken, cluster: Cluster) -> (RoomsHandle, tokio::task::JoinHandle<()>) {
    let (commands, mut inbox) = mpsc::channel(4096);
    let handle = RoomsHandle { commands, cluster: cluster.clone() };
    let task = tokio::spawn(async move {
        let mut hub = Hub { cluster, ..Hub::default() };
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                command = inbox.recv() => match command {
                    Some(command) => hub.handle(command),
                    None => break,
                },
            }
        }
    });
    (handle, task)
}

impl Hub {
    fn handle(&mut self, command: Command) {
        match command {
            Command::Connect { conn, user, send_queue, kill } => {
                self.conns
                    .insert(conn, Conn { user, send_queue, kill, teams: HashSet::new(), pending: HashMap::new() });
            }
            Command::Disconnect { conn } => self.drop_conn(conn),
            Command::Join { conn, team, reply } => {
                let joining = match self.conns.get_mut(&conn) {
                    Some(c) if !c.teams.contains(&team) => {
                        c.pending.entry(team).or_default();
                        true
                    }
                    _ => false,
                };
                if joining {
                    self.room(team).pending.insert(conn);
                }
                reply.send(()).ok();
            }
            Command::Online { team, reply } => {
                reply.send(self.rooms.get(&team).map(Room::online).unwrap_or_default()).ok();
            }
            Command::Confirm { conn, team, first, reply } => {
                let held = self.conns.get_mut(&conn).and_then(|c| c.pending.remove(&team));
                let joined = self.conns.get(&conn).is_some_and(|c| c.teams.contains(&team));
                if let Some(room) = self.rooms.get_mut(&team) {
                    room.pending.remove(&conn);
                }
                if held.is_none() && !joined {
                    reply.send(false).ok();
                    return;
                }
                self.join(conn, team);
                // The state first: a held frame may be newer than it (committed after the join's read).
                for frame in first.into_iter().chain(held.unwrap_or_default()) {
                    self.deliver(conn, frame);
                }
                reply.send(true).ok();
            }
            Command::Leave { conn, team } => self.leave(conn, team),
            // What is done here goes to the other instances too (`except` is a socket here, so they send
            // to all of theirs).
            Command::Broadcast { team, frame, except } => {
                self.cluster.publish_room(team, &RoomOp::Frame(frame.clone()));
                self.broadcast(team, &frame, except);
            }
            Command::SendToUser { team, user, frame } => {
                self.cluster.publish_room(team, &RoomOp::ToUser(user, frame.clone()));
                self.send_to(team, &frame, |_, c| c.user == user);
            }
            Command::Revoke { team, user } => {
                self.cluster.publish_room(team, &RoomOp::Revoke(user));
                self.revoke(team, Some(user));
            }
            Command::CloseTeam { team } => {
                self.cluster.publish_room(team, &RoomOp::Close);
                self.revoke(team, None);
            }
            Command::Remote { team, from, op } => self.remote(team, from, op),
            Command::Present { reply } => {
                let present =
                    self.rooms.iter().flat_map(|(team, room)| room.presence.keys().map(|user| (*team, *user)));
                reply.send(present.collect()).ok();
            }
            Command::InstanceGone { instance } => {
                self.gone.retain(|_, since| since.elapsed() < REMEMBER_GONE);
                self.gone.insert(instance, Instant::now());
                let mut offline = Vec::new();
                for (team, room) in &mut self.rooms {
                    room.remote.retain(|user, instances| {
                        if instances.remove(&instance) && instances.is_empty() {
                            offline.push((*team, *user));
                            return false;
                        }
                        !instances.is_empty()
                    });
                }
                for (team, user) in offline {
                    if self.rooms.get(&team).is_some_and(|room| !room.presence.contains_key(&user)) {
                        let left = frame(&ServerMessage::UserLeft { team_id: team, user_id: user });
                        self.broadcast(team, &left, None);
                    }
                }
            }
            Command::InstanceAlive { instance } => {
                self.gone.remove(&instance);
            }
            Command::Reannounce => {
                for (team, room) in &self.rooms {
                    self.cluster.publish_room(*team, &RoomOp::Hello);
                    for user in room.presence.keys() {
                        self.cluster.publish_room(*team, &RoomOp::Joined(*user));
                    }
                }
            }
            #[cfg(test)]
            Command::Stats { reply } => {
                reply.send((self.conns.len(), self.rooms.len())).ok();
            }
        }
    }

    fn join(&mut self, conn: ConnId, team: TeamId) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if !c.teams.insert(team) {
            return;
        }
        let user = c.user;
        let room = self.room(team);
        room.members.insert(conn);
        let count = room.presence.entry(user).or_default();
        *count += 1;
        let (first, elsewhere) = (*count == 1, room.remote.contains_key(&user));
        if first {
            self.cluster.publish_room(team, &RoomOp::Joined(user));
            // Online through another instance already: the sockets here know.
            if !elsewhere {
                let joined = frame(&ServerMessage::UserJoined { team_id: team, user_id: user });
                self.announce_presence(team, user, &joined, Some(conn));
            }
        }
    }

    /// The team's room, made (and followed across instances) if it is new.
    fn room(&mut self, team: TeamId) -> &mut Room {
        match self.rooms.entry(team) {
            std::collections::hash_map::Entry::Occupied(room) => room.into_mut(),
            std::collections::hash_map::Entry::Vacant(room) => {
                self.cluster.follow_room(team, true);
                room.insert(Room::default())
            }
        }
    }

    /// Drops an empty room (and stops following it).
    fn remove_room(&mut self, team: TeamId) {
        if self.rooms.remove(&team).is_some() {
            self.cluster.follow_room(team, false);
        }
    }

    fn leave(&mut self, conn: ConnId, team: TeamId) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        if c.pending.remove(&team).is_some()
            && let Some(room) = self.rooms.get_mut(&team)
        {
            room.pending.remove(&conn);
            if room.members.is_empty() && room.pending.is_empty() {
                self.remove_room(team);
            }
            return;
        }
        if !c.teams.remove(&team) {
            return;
        }
        let user = c.user;
        let Some(room) = self.rooms.get_mut(&team) else { return };
        room.members.remove(&conn);
        let gone = match room.presence.get_mut(&user) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            _ => {
                room.presence.remove(&user);
                true
            }
        };
        let (empty, elsewhere) = (room.members.is_empty() && room.pending.is_empty(), room.remote.contains_key(&user));
        if gone {
            self.cluster.publish_room(team, &RoomOp::Left(user));
        }
        if empty {
            self.remove_room(team);
        } else if gone && !elsewhere {
            self.announce_presence(team, user, &frame(&ServerMessage::UserLeft { team_id: team, user_id: user }), None);
        }
    }

    /// Applies what another instance published to the team's room to the sockets here, as if done here
    /// (and without publishing it again).
    fn remote(&mut self, team: TeamId, from: InstanceId, op: RoomOp) {
        match op {
            RoomOp::Frame(frame) => self.broadcast(team, &frame, None),
            RoomOp::ToUser(user, frame) => self.send_to(team, &frame, |_, c| c.user == user),
            RoomOp::Revoke(user) => self.revoke(team, Some(user)),
            RoomOp::Close => self.revoke(team, None),
            // An instance known gone has no one online through it, whatever arrives late from it.
            RoomOp::Joined(_) if self.gone.contains_key(&from) => {}
            RoomOp::Joined(user) => {
                let Some(room) = self.rooms.get_mut(&team) else { return };
                let known = room.is_online(user);
                room.remote.entry(user).or_default().insert(from);
                if !known {
                    let joined = frame(&ServerMessage::UserJoined { team_id: team, user_id: user });
                    self.announce_presence(team, user, &joined, None);
                }
            }
            RoomOp::Left(user) => {
                let Some(room) = self.rooms.get_mut(&team) else { return };
                let Some(instances) = room.remote.get_mut(&user) else { return };
                if !instances.remove(&from) {
                    return;
                }
                if instances.is_empty() {
                    room.remote.remove(&user);
                }
                if !room.is_online(user) {
                    let left = frame(&ServerMessage::UserLeft { team_id: team, user_id: user });
                    self.announce_presence(team, user, &left, None);
                }
            }
            // A newcomer asks who is online: each user with a socket here is announced again.
            RoomOp::Hello => {
                let Some(room) = self.rooms.get(&team) else { return };
                for user in room.presence.keys() {
                    self.cluster.publish_room(team, &RoomOp::Joined(*user));
                }
            }
        }
    }

    fn drop_conn(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else { return };
        for team in c.teams.iter().chain(c.pending.keys()).copied().collect::<Vec<_>>() {
            self.leave(conn, team);
        }
        self.conns.remove(&conn);
    }

    /// Takes `user` (or everyone) out of the team's room, telling each of their sockets why.
    fn revoke(&mut self, team: TeamId, user: Option<UserId>) {
        let Some(room) = self.rooms.get(&team) else { return };
        let concerned = |conn: &ConnId| user.is_none() || self.conns.get(conn).map(|c| c.user) == user;
        let affected: Vec<ConnId> = room.members.iter().copied().filter(concerned).collect();
        // A pending join of the user is dropped silently: its confirmation fails, and the join answers why.
        let pending: Vec<ConnId> = room.pending.iter().copied().filter(concerned).collect();
        let notice = frame(&ServerMessage::AccessRevoked { team_id: team });
        for conn in pending {
            self.leave(conn, team);
        }
        for conn in affected {
            self.leave(conn, team);
            self.deliver(conn, notice.clone());
        }
    }

    fn broadcast(&mut self, team: TeamId, frame: &Utf8Bytes, except: Option<ConnId>) {
        self.send_to(team, frame, |conn, _| Some(conn) != except);
    }

    /// Tells the room that `user` came or went, except `except`. Not held for the user's own pending joins:
    /// once confirmed, such a socket makes the user online, which the state it gets first says; a
    /// `user_left` held for it (their other socket left meanwhile) would arrive after that state and show
    /// the user offline on their own device.
    fn announce_presence(&mut self, team: TeamId, user: UserId, frame: &Utf8Bytes, except: Option<ConnId>) {
        self.send_to(team, frame, |conn, c| Some(conn) != except && !(c.user == user && c.pending.contains_key(&team)));
    }

    /// Sends a frame to the room's connections that `to` picks; pending joins hold it.
    fn send_to(&mut self, team: TeamId, frame: &Utf8Bytes, to: impl Fn(ConnId, &Conn) -> bool) {
        let Some(room) = self.rooms.get(&team) else { return };
        let picked = |c: &ConnId| self.conns.get(c).is_some_and(|conn| to(*c, conn));
        let targets: Vec<ConnId> = room.members.iter().copied().filter(picked).collect();
        let waiting: Vec<ConnId> = room.pending.iter().copied().filter(picked).collect();
        for conn in targets {
            self.deliver(conn, frame.clone());
        }
        for conn in waiting {
            let Some(held) = self.conns.get_mut(&conn).and_then(|c| c.pending.get_mut(&team)) else { continue };
            if held.len() < HELD_FRAMES {
                held.push(frame.clone());
            } else {
                // A join this slow is abandoned: its confirmation fails rather than losing frames.
                self.leave(conn, team);
            }
        }
    }

    /// Queues a frame without waiting. A full queue means the client stopped reading: cut it off.
    fn deliver(&mut self, conn: ConnId, frame: Utf8Bytes) {
        let Some(c) = self.conns.get(&conn) else { return };
        match c.send_queue.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::info!(?conn, user = %c.user, "outgoing queue full; disconnecting slow client");
                c.kill.cancel();
                self.drop_conn(conn);
            }
            Err(TrySendError::Closed(_)) => self.drop_conn(conn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(
        rooms: &RoomsHandle,
        user: UserId,
        capacity: usize,
    ) -> (ConnId, mpsc::Receiver<Utf8Bytes>, CancellationToken) {
        let (send_queue, inbox) = mpsc::channel(capacity);
        let kill = CancellationToken::new();
        let conn = ConnId::next();
        rooms.commands.try_send(Command::Connect { conn, user, send_queue, kill: kill.clone() }).expect("connect");
        (conn, inbox, kill)
    }

    /// Joins and confirms at once, as a join whose checks pass; answers who is online then.
    async fn enter(rooms: &RoomsHandle, conn: ConnId, team: TeamId) -> Vec<UserId> {
        rooms.join(conn, team).await;
        assert!(rooms.confirm(conn, team, Vec::new()).await, "confirmed");
        rooms.online(team).await
    }

    fn parse(frame: &Utf8Bytes) -> serde_json::Value {
        serde_json::from_str(frame.as_str()).expect("json frame")
    }

    #[tokio::test]
    async fn presence_counts_users_not_sockets() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (alice, bob) = (UserId::new(), UserId::new());
        let (a1, mut a1_rx, _) = connect(&rooms, alice, 16);
        assert_eq!(enter(&rooms, a1, team).await, vec![alice]);
        let (b1, _b1_rx, _) = connect(&rooms, bob, 16);
        enter(&rooms, b1, team).await;
        assert_eq!(parse(&a1_rx.recv().await.expect("frame"))["type"], "user_joined");
        let (b2, _b2_rx, _) = connect(&rooms, bob, 16);
        let online = enter(&rooms, b2, team).await;
        assert_eq!(online.len(), 2);
        // Bob's second socket leaving keeps him online; the last one leaving does not.
        rooms.send(Command::Disconnect { conn: b2 }).await;
        rooms.send(Command::Disconnect { conn: b1 }).await;
        let left = parse(&a1_rx.recv().await.expect("frame"));
        assert_eq!(left["type"], "user_left");
        assert_eq!(left["user_id"], bob.to_string());
        assert_eq!(rooms.stats().await, (1, 1));
        rooms.send(Command::Disconnect { conn: a1 }).await;
        assert_eq!(rooms.stats().await, (0, 0), "empty rooms are dropped");
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_cut_off_and_others_still_receive() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (slow, _slow_rx, slow_kill) = connect(&rooms, UserId::new(), 2);
        let (fast, mut fast_rx, fast_kill) = connect(&rooms, UserId::new(), 64);
        enter(&rooms, slow, team).await;
        enter(&rooms, fast, team).await;
        for n in 0..10 {
            rooms.broadcast(team, &ServerMessage::Pong { nonce: Some(n) }, None).await;
        }
        assert_eq!(rooms.stats().await.0, 1, "the slow connection was dropped");
        assert!(slow_kill.is_cancelled());
        assert!(!fast_kill.is_cancelled());
        let mut pongs = 0;
        while let Ok(frame) = fast_rx.try_recv() {
            pongs += usize::from(parse(&frame)["type"] == "pong");
        }
        assert_eq!(pongs, 10);
    }

    #[tokio::test]
    async fn revoking_removes_only_that_user_and_tells_them() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (alice, mallory) = (UserId::new(), UserId::new());
        let (a, mut a_rx, _) = connect(&rooms, alice, 16);
        let (m, mut m_rx, _) = connect(&rooms, mallory, 16);
        enter(&rooms, a, team).await;
        enter(&rooms, m, team).await;
        rooms.send(Command::Revoke { team, user: mallory }).await;
        rooms.broadcast(team, &ServerMessage::Pong { nonce: None }, None).await;
        assert_eq!(parse(&m_rx.recv().await.expect("frame"))["type"], "access_revoked");
        let mut alice_saw = Vec::new();
        while let Some(frame) = a_rx.recv().await {
            let kind = parse(&frame)["type"].as_str().expect("type").to_owned();
            alice_saw.push(kind.clone());
            if kind == "pong" {
                break;
            }
        }
        assert_eq!(alice_saw, ["user_joined", "user_left", "pong"]);
        assert!(m_rx.try_recv().is_err(), "no more team traffic after revocation");
    }

    #[tokio::test]
    async fn a_join_revoked_before_it_is_confirmed_hears_nothing_of_the_team() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (alice, mallory) = (UserId::new(), UserId::new());
        let (a, _a_rx, _) = connect(&rooms, alice, 16);
        enter(&rooms, a, team).await;
        let (m, mut m_rx, _) = connect(&rooms, mallory, 16);
        rooms.join(m, team).await;
        // A frame while the join is pending is held, not sent.
        rooms.broadcast(team, &ServerMessage::Pong { nonce: Some(1) }, None).await;
        assert_eq!(rooms.stats().await, (2, 1));
        assert!(m_rx.try_recv().is_err(), "nothing before the join is confirmed");
        // Mallory's removal reaches the hub before the join's confirmation: the join fails, the held frame
        // is dropped, and later frames never reach her.
        rooms.revoke(team, mallory).await;
        assert!(!rooms.confirm(m, team, Vec::new()).await);
        rooms.broadcast(team, &ServerMessage::Pong { nonce: Some(2) }, None).await;
        assert_eq!(rooms.stats().await, (2, 1));
        assert!(m_rx.try_recv().is_err(), "a revoked join hears nothing of the team");

        // A join abandoned after a failed check (`leave`) leaves nothing behind.
        let (c, mut c_rx, _) = connect(&rooms, UserId::new(), 16);
        rooms.join(c, team).await;
        rooms.leave(c, team).await;
        assert!(!rooms.confirm(c, team, Vec::new()).await);
        rooms.broadcast(team, &ServerMessage::Pong { nonce: Some(4) }, None).await;
        assert!(c_rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_confirmed_join_gets_its_state_before_what_was_held_for_it() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (a, _a_rx, _) = connect(&rooms, UserId::new(), 16);
        enter(&rooms, a, team).await;
        // The state the join read (10, 11) is older than a frame held since the join (3): a project deleted
        // after the read would otherwise be deleted, then listed again by the state.
        let (b, mut b_rx, _) = connect(&rooms, UserId::new(), 16);
        rooms.join(b, team).await;
        rooms.broadcast(team, &ServerMessage::Pong { nonce: Some(3) }, None).await;
        let state = [frame(&ServerMessage::Pong { nonce: Some(10) }), frame(&ServerMessage::Pong { nonce: Some(11) })];
        assert!(rooms.confirm(b, team, state.to_vec()).await);
        rooms.broadcast(team, &ServerMessage::Pong { nonce: Some(4) }, None).await;
        let mut nonces = Vec::new();
        while nonces.len() < 4 {
            nonces.push(parse(&b_rx.recv().await.expect("frame"))["nonce"].as_u64().expect("a pong"));
        }
        assert_eq!(nonces, [10, 11, 3, 4], "the state, what was held, then the rest");
        assert_eq!(rooms.online(team).await.len(), 2);
    }

    #[tokio::test]
    async fn a_join_is_not_told_its_own_user_left_while_it_was_pending() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (alice, bob) = (UserId::new(), UserId::new());
        let (b, mut b_rx, _) = connect(&rooms, bob, 16);
        enter(&rooms, b, team).await;
        let (a1, _a1_rx, _) = connect(&rooms, alice, 16);
        enter(&rooms, a1, team).await;
        assert_eq!(kinds(&mut b_rx), ["user_joined"]);
        // Alice's device reconnects: the new socket's join is pending when the old one goes.
        let (a2, mut a2_rx, _) = connect(&rooms, alice, 16);
        rooms.join(a2, team).await;
        rooms.send(Command::Disconnect { conn: a1 }).await;
        let state = frame(&ServerMessage::Pong { nonce: Some(1) });
        assert!(rooms.confirm(a2, team, vec![state]).await);
        assert_eq!(rooms.online(team).await.len(), 2);
        // Her new socket gets the state (which says she is online) and nothing after it saying she left;
        // bob hears she left and came back.
        assert_eq!(kinds(&mut a2_rx), ["pong"]);
        assert_eq!(kinds(&mut b_rx), ["user_left", "user_joined"]);
    }

    fn kinds(rx: &mut mpsc::Receiver<Utf8Bytes>) -> Vec<String> {
        let mut kinds = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            kinds.push(parse(&frame)["type"].as_str().expect("type").to_owned());
        }
        kinds
    }

    #[tokio::test]
    async fn presence_counts_users_online_through_other_instances_once() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (alice, bob) = (UserId::new(), UserId::new());
        let (here, there) = (InstanceId::new_v4(), InstanceId::new_v4());
        let (a, mut a_rx, _) = connect(&rooms, alice, 16);
        enter(&rooms, a, team).await;
        // Bob comes online on one instance, then on a second: alice hears of it once.
        rooms.remote(team, here, RoomOp::Joined(bob)).await;
        rooms.remote(team, there, RoomOp::Joined(bob)).await;
        assert_eq!(rooms.stats().await, (1, 1));
        assert_eq!(kinds(&mut a_rx), ["user_joined"]);
        // A socket joining here is told bob is online, though he has no socket here.
        let (c, _c_rx, _) = connect(&rooms, UserId::new(), 16);
        let online = enter(&rooms, c, team).await;
        assert!(online.contains(&bob) && online.contains(&alice), "{online:?}");
        kinds(&mut a_rx);
        // Bob's socket here comes and goes while he stays online elsewhere: nothing to tell.
        let (b, _b_rx, _) = connect(&rooms, bob, 16);
        enter(&rooms, b, team).await;
        rooms.disconnect(b).await;
        rooms.remote(team, here, RoomOp::Left(bob)).await;
        assert_eq!(rooms.stats().await, (2, 1));
        assert_eq!(kinds(&mut a_rx), Vec::<String>::new());
        // His last instance says he left: now he is offline. A second "left" says nothing new.
        rooms.remote(team, there, RoomOp::Left(bob)).await;
        rooms.remote(team, there, RoomOp::Left(bob)).await;
        assert_eq!(rooms.stats().await, (2, 1));
        assert_eq!(kinds(&mut a_rx), ["user_left"]);
    }

    #[tokio::test]
    async fn frames_and_revocations_from_other_instances_reach_the_sockets_here() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (alice, mallory) = (UserId::new(), UserId::new());
        let there = InstanceId::new_v4();
        let (a, mut a_rx, _) = connect(&rooms, alice, 16);
        let (m, mut m_rx, _) = connect(&rooms, mallory, 16);
        enter(&rooms, a, team).await;
        enter(&rooms, m, team).await;
        kinds(&mut a_rx);
        let pong = |n| frame(&ServerMessage::Pong { nonce: Some(n) });
        rooms.remote(team, there, RoomOp::Frame(pong(1))).await;
        rooms.remote(team, there, RoomOp::ToUser(alice, pong(2))).await;
        // A frame for a team with no socket here goes nowhere.
        rooms.remote(TeamId::new(), there, RoomOp::Frame(pong(3))).await;
        rooms.remote(team, there, RoomOp::Revoke(mallory)).await;
        assert_eq!(rooms.stats().await, (2, 1));
        assert_eq!(kinds(&mut a_rx), ["pong", "pong", "user_left"]);
        assert_eq!(kinds(&mut m_rx), ["pong", "access_revoked"]);
        rooms.remote(team, there, RoomOp::Close).await;
        assert_eq!(rooms.stats().await, (2, 0), "a closed team's room is gone");
        assert_eq!(kinds(&mut a_rx), ["access_revoked"]);
    }

    #[tokio::test]
    async fn users_online_only_through_an_instance_that_is_gone_go_offline() {
        let (rooms, _task) = spawn_hub(CancellationToken::new(), Cluster::disabled());
        let team = TeamId::new();
        let (alice, bob, carol) = (UserId::new(), UserId::new(), UserId::new());
        let (gone, other) = (InstanceId::new_v4(), InstanceId::new_v4());
        let (a, mut a_rx, _) = connect(&rooms, alice, 16);
        enter(&rooms, a, team).await;
        rooms.remote(team, gone, RoomOp::Joined(bob)).await;
        rooms.remote(team, gone, RoomOp::Joined(carol)).await;
        rooms.remote(team, other, RoomOp::Joined(carol)).await;
        rooms.instance_gone(gone).await;
        assert_eq!(rooms.stats().await, (1, 1));
        // Bob was online only through the instance that is gone; carol is still online through another.
        let frames: Vec<serde_json::Value> = std::iter::from_fn(|| a_rx.try_recv().ok()).map(|f| parse(&f)).collect();
        let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap_or("?")).collect();
        assert_eq!(kinds, ["user_joined", "user_joined", "user_left"]);
        assert_eq!(frames[2]["user_id"], bob.to_string());
        let (c, _c_rx, _) = connect(&rooms, UserId::new(), 16);
        let online = enter(&rooms, c, team).await;
        assert!(online.contains(&carol) && !online.contains(&bob), "{online:?}");
    }
}
