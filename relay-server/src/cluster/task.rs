//! The cluster task: publishes what the relay queues, follows the rooms the hub holds sockets of (one small
//! task per room subject, which subscribes again after a failure), and applies what the other instances
//! publish.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{FutureExt as _, StreamExt as _};
use teamflow_protocol::TeamId;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::wire::{self, AccessNotice, InstanceId, RoomOp, SessionsNotice};
use super::{ClusterError, Connected, Outgoing, Shared};
use crate::events::Events;
use crate::rooms::RoomsHandle;
use crate::sessions::LiveSessions;

/// Where what other instances publish is applied: the same doors the instance's own changes go through.
#[derive(Debug, Clone)]
pub struct Receivers {
    pub rooms: RoomsHandle,
    pub events: Events,
    pub live: LiveSessions,
}

/// How long a stopping relay gives its last words (what was queued, `gone`) to NATS, in all. NATS may be
/// unreachable, and async-nats's own queue full: a publish then waits for the connection, and the relay
/// must stop all the same.
const LAST_WORDS: Duration = Duration::from_secs(2);

/// How long a room subscription that failed waits before it is tried again, at first and at most.
const RESUBSCRIBE_FIRST: Duration = Duration::from_secs(1);
const RESUBSCRIBE_MOST: Duration = Duration::from_secs(30);

/// How long an instance known gone stays known: its late room operations are ignored meanwhile. Instance
/// ids are new at every start, so this only bounds the memory kept.
const REMEMBER_GONE: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Copy)]
enum Notice {
    Access,
    Sessions,
    Recheck,
    Alive,
    Gone,
}

/// How often an instance says it is alive.
pub(super) const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long an instance may be silent (three heartbeats missed) before its users count as offline.
const SILENCE: Duration = Duration::from_secs(6);

struct Task {
    client: async_nats::Client,
    shared: Arc<Shared>,
    receivers: Receivers,
    /// Rooms followed: team -> (which subscription, its task).
    rooms: HashMap<TeamId, (u64, JoinHandle<()>)>,
    generation: u64,
    /// Other instances, and when each was last heard saying it is alive.
    alive: HashMap<InstanceId, Instant>,
    /// Instances that stopped or fell silent, and since when: one heard alive again is asked who is online
    /// through it.
    dead: HashMap<InstanceId, Instant>,
}

type Notices = futures::stream::SelectAll<BoxStream<'static, (Notice, async_nats::Message)>>;

pub(super) async fn spawn(
    connected: Connected,
    receivers: Receivers,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, ClusterError> {
    let Connected { cluster, client, documents } = connected;
    let Some(shared) = cluster.shared else { return Ok(tokio::spawn(async {})) };
    let mut notices: Vec<BoxStream<'static, (Notice, async_nats::Message)>> = Vec::new();
    for (subject, kind) in [
        (wire::ALL_MEMBERS, Notice::Access),
        (wire::ALL_DOCUMENTS, Notice::Access),
        (wire::ALL_ACCOUNTS, Notice::Sessions),
        (wire::RECHECK, Notice::Recheck),
        (wire::ALIVE, Notice::Alive),
        (wire::GONE, Notice::Gone),
    ] {
        let subscriber =
            client.subscribe(subject).await.map_err(|e| ClusterError::Subscribe { subject, reason: e.to_string() })?;
        notices.push(subscriber.map(move |message| (kind, message)).boxed());
    }
    // Answered once the server holds the subscriptions: from here on no notice is missed.
    super::round_trip(&client)
        .await
        .map_err(|e| ClusterError::Subscribe { subject: "notices", reason: e.to_string() })?;
    let task = Task {
        client,
        shared,
        receivers,
        rooms: HashMap::new(),
        generation: 0,
        alive: HashMap::new(),
        dead: HashMap::new(),
    };
    Ok(tokio::spawn(task.run(futures::stream::select_all(notices), documents, shutdown)))
}

impl Task {
    async fn run(mut self, mut notices: Notices, mut documents: mpsc::Receiver<Outgoing>, shutdown: CancellationToken) {
        // The stop is heard even in the middle of a publish: with NATS unreachable and async-nats's queue
        // full, a publish waits for the connection to come back.
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = self.serve(&mut notices, &mut documents) => {}
        }
        if tokio::time::timeout(LAST_WORDS, self.last_words(&mut documents)).await.is_err() {
            tracing::warn!("NATS did not take the last messages before the relay stopped");
        }
        for (_, (_, task)) in self.rooms.drain() {
            task.abort();
        }
    }

    async fn serve(&mut self, notices: &mut Notices, documents: &mut mpsc::Receiver<Outgoing>) {
        let mut listening = true;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = heartbeat.tick() => {
                    // What others said while this task was busy or stalled counts before anyone is judged
                    // silent: an alive read late must not take its users offline.
                    while listening && let Some(Some((kind, message))) = notices.next().now_or_never() {
                        self.apply(kind, message).await;
                    }
                    self.heartbeat().await;
                }
                outgoing = self.shared.notices.next() => self.publish(outgoing).await,
                outgoing = self.shared.frames.next() => self.publish(outgoing).await,
                outgoing = documents.recv() => match outgoing {
                    Some(outgoing) => self.publish(outgoing).await,
                    None => return,
                },
                () = self.shared.owed.notified() => self.pay_recheck().await,
                () = self.shared.interest_changed.notified() => self.follow(),
                () = self.shared.reconnected.notified() => {
                    tracing::info!("NATS connection back; re-checking access, presence and documents, and asking the others to");
                    // What this instance announced while cut off may not have left it: everyone re-checks.
                    self.shared.recheck_owed.store(false, Ordering::SeqCst);
                    self.publish_recheck().await;
                    self.recheck();
                }
                notice = notices.next(), if listening => match notice {
                    Some((kind, message)) => self.apply(kind, message).await,
                    None => {
                        tracing::error!("NATS notice subscriptions ended; revocations now travel by the database only");
                        listening = false;
                    }
                },
            }
        }
    }

    /// What was queued before the stop still goes out (a revocation among it, or the re-check owed for one
    /// that did not fit), then the word that this instance stops.
    async fn last_words(&mut self, documents: &mut mpsc::Receiver<Outgoing>) {
        documents.close();
        while let Some(outgoing) = self.shared.notices.pop() {
            self.publish(outgoing).await;
        }
        while let Some(outgoing) = self.shared.frames.pop() {
            self.publish(outgoing).await;
        }
        while let Ok(outgoing) = documents.try_recv() {
            self.publish(outgoing).await;
        }
        self.pay_recheck().await;
        let (headers, payload) = wire::encode_recheck(self.shared.instance);
        self.publish(Outgoing { subject: wire::GONE.to_owned(), headers, payload }).await;
        if let Err(e) = self.client.flush().await {
            tracing::warn!(error = %e, "NATS did not take the last messages before the relay stopped");
        }
    }

    /// Asks every instance to re-check what it holds, if a notice was lost on its way to NATS.
    async fn pay_recheck(&mut self) {
        if self.shared.recheck_owed.swap(false, Ordering::SeqCst) {
            tracing::info!("an access notice did not fit the NATS queue; asking every instance to re-check");
            self.publish_recheck().await;
        }
    }

    async fn publish_recheck(&self) {
        let (headers, payload) = wire::encode_recheck(self.shared.instance);
        self.publish(Outgoing { subject: wire::RECHECK.to_owned(), headers, payload }).await;
    }

    async fn publish(&self, outgoing: Outgoing) {
        let Outgoing { subject, headers, payload } = outgoing;
        if let Err(e) = self.client.publish_with_headers(subject, headers, payload).await {
            tracing::warn!(error = %e, "NATS publish failed");
        }
    }

    /// Starts following the rooms the hub began holding sockets of, stops following those it no longer does.
    fn follow(&mut self) {
        let changes = std::mem::take(&mut *self.shared.interest.lock().unwrap_or_else(PoisonError::into_inner));
        for (team, follow) in changes {
            if follow && !self.rooms.contains_key(&team) {
                self.generation += 1;
                let generation = self.generation;
                self.shared.followed.send_modify(|rooms| {
                    rooms.insert(team, (generation, false));
                });
                let room =
                    follow_room(self.client.clone(), self.shared.clone(), self.receivers.clone(), team, generation);
                self.rooms.insert(team, (generation, tokio::spawn(room)));
            } else if !follow && let Some((_, task)) = self.rooms.remove(&team) {
                // Dropping the subscriber (with the task) unsubscribes.
                task.abort();
                self.shared.followed.send_modify(|rooms| {
                    rooms.remove(&team);
                });
            }
        }
    }

    /// Says this instance is alive, and takes the users online through instances silent too long as gone.
    async fn heartbeat(&mut self) {
        let (headers, payload) = wire::encode_recheck(self.shared.instance);
        self.publish(Outgoing { subject: wire::ALIVE.to_owned(), headers, payload }).await;
        let silent: Vec<InstanceId> =
            self.alive.iter().filter(|(_, heard)| heard.elapsed() > SILENCE).map(|(instance, _)| *instance).collect();
        for instance in silent {
            tracing::warn!(%instance, "relay instance silent; its users count as offline");
            self.gone(instance).await;
        }
        self.dead.retain(|_, since| since.elapsed() < REMEMBER_GONE);
    }

    /// The users online only through `instance` are offline; its late room operations are ignored until it
    /// is heard alive again.
    async fn gone(&mut self, instance: InstanceId) {
        self.alive.remove(&instance);
        self.dead.insert(instance, Instant::now());
        self.receivers.rooms.instance_gone(instance).await;
    }

    /// `instance` says it is alive. One taken for gone (it was silent, or this instance stalled and read
    /// its heartbeats late) counts again, and every room asks who is online: its users, taken offline,
    /// come back without having to join again.
    async fn heard_alive(&mut self, instance: InstanceId) {
        let back = self.alive.insert(instance, Instant::now()).is_none() && self.dead.remove(&instance).is_some();
        if back {
            tracing::info!(%instance, "relay instance heard again; asking who is online through it");
            self.receivers.rooms.instance_alive(instance).await;
            self.receivers.rooms.reannounce().await;
        }
    }

    /// Re-checks access and presence (`Events::recheck_everything`, `RoomsHandle::reannounce`) beside the
    /// task: it reads the database, and publishing must not wait on it. Every followed document catches
    /// up too (`sync::forward`): changes published while this instance or another was cut off never
    /// reached it.
    fn recheck(&self) {
        self.shared.resync.send_modify(|count| *count = count.wrapping_add(1));
        let receivers = self.receivers.clone();
        tokio::spawn(async move {
            receivers.events.recheck_everything().await;
            receivers.rooms.reannounce().await;
        });
    }

    async fn apply(&mut self, kind: Notice, message: async_nats::Message) {
        let headers = message.headers.as_ref();
        match kind {
            Notice::Alive | Notice::Gone => match wire::sender(headers) {
                Ok(from) if from == self.shared.instance => {}
                Ok(from) if matches!(kind, Notice::Alive) => self.heard_alive(from).await,
                Ok(from) => {
                    tracing::info!(instance = %from, "relay instance stopped; its users count as offline");
                    self.gone(from).await;
                }
                Err(e) => tracing::warn!(error = %e, "instance notice ignored"),
            },
            Notice::Recheck => match wire::sender(headers) {
                Ok(from) if from == self.shared.instance => {}
                Ok(from) => {
                    tracing::info!(%from, "another instance is back on NATS; re-checking access and presence");
                    self.recheck();
                }
                Err(e) => tracing::warn!(error = %e, "re-check notice ignored"),
            },
            Notice::Access => match wire::decode_notice::<AccessNotice>(headers, &message.payload) {
                Ok((from, _)) if from == self.shared.instance => {}
                Ok((from, notice)) => self.receivers.events.apply_remote(from, notice).await,
                Err(e) => tracing::warn!(error = %e, subject = %message.subject, "access notice ignored"),
            },
            Notice::Sessions => match wire::decode_notice::<SessionsNotice>(headers, &message.payload) {
                Ok((from, _)) if from == self.shared.instance => {}
                Ok((_, notice)) => {
                    tracing::debug!(user = %notice.user, sessions = notice.sessions.len(), "sessions ended on another instance");
                    self.receivers.live.end(&notice.sessions, crate::sessions::static_reason(&notice.reason));
                }
                Err(e) => tracing::warn!(error = %e, subject = %message.subject, "sessions notice ignored"),
            },
        }
    }
}

/// Follows one room subject for as long as the hub holds sockets of the team (the task is aborted then):
/// subscribes, says when the server has the subscription, asks the others who is online, then hands the
/// hub what the other instances publish to the room. A subscription that fails, or ends, is made again
/// after a back-off: the room must not stay deaf while it is followed.
async fn follow_room(
    client: async_nats::Client,
    shared: Arc<Shared>,
    receivers: Receivers,
    team: TeamId,
    generation: u64,
) {
    let mut backoff = RESUBSCRIBE_FIRST;
    loop {
        if hear_room(&client, &shared, &receivers, team, generation).await {
            backoff = RESUBSCRIBE_FIRST;
        }
        tracing::warn!(%team, retry_in = ?backoff, "room not followed over NATS; subscribing again");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(RESUBSCRIBE_MOST);
    }
}

/// One subscription to the room: true if it was made (and then ended), false if it could not be made.
async fn hear_room(
    client: &async_nats::Client,
    shared: &Shared,
    receivers: &Receivers,
    team: TeamId,
    generation: u64,
) -> bool {
    let subject = wire::room_subject(team);
    let mut subscriber = match client.subscribe(subject.clone()).await {
        Ok(subscriber) => subscriber,
        Err(e) => {
            tracing::warn!(error = %e, %team, "could not follow the room over NATS");
            return false;
        }
    };
    // Answered once the server has taken the subscription: everything published to the room from then on
    // comes here.
    match super::round_trip(client).await {
        Ok(()) => {
            shared.followed.send_if_modified(|rooms| match rooms.get_mut(&team) {
                Some((current, confirmed)) if *current == generation => {
                    *confirmed = true;
                    true
                }
                _ => false,
            });
        }
        Err(e) => tracing::warn!(error = %e, %team, "room subscription not confirmed"),
    }
    let (headers, payload) = wire::encode_room(shared.instance, &RoomOp::Hello);
    if let Err(e) = client.publish_with_headers(subject, headers, payload).await {
        tracing::warn!(error = %e, %team, "could not ask the other instances who is online");
    }
    while let Some(message) = subscriber.next().await {
        match wire::decode_room(message.headers.as_ref(), message.payload) {
            Ok((from, _)) if from == shared.instance => {}
            Ok((from, RoomOp::Revoke(user))) => receivers.events.revoke_remote(team, from, user).await,
            Ok((from, op)) => receivers.rooms.remote(team, from, op).await,
            Err(e) => tracing::warn!(error = %e, %team, "room message from NATS ignored"),
        }
    }
    true
}
