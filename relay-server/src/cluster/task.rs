//! The cluster task: publishes what the relay queues, follows the rooms the hub holds sockets of (one small
//! task per room subject), and applies what the other instances publish.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use futures::stream::BoxStream;
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

/// How long a stopping relay waits for NATS to take what it queued last.
const FLUSH_ON_STOP: Duration = Duration::from_secs(1);

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
}

pub(super) async fn spawn(
    connected: Connected,
    receivers: Receivers,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, ClusterError> {
    let Connected { cluster, client, outbox } = connected;
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
    client.flush().await.map_err(|e| ClusterError::Subscribe { subject: "notices", reason: e.to_string() })?;
    let task = Task { client, shared, receivers, rooms: HashMap::new(), generation: 0, alive: HashMap::new() };
    Ok(tokio::spawn(task.run(futures::stream::select_all(notices), outbox, shutdown)))
}

impl Task {
    async fn run(
        mut self,
        mut notices: futures::stream::SelectAll<BoxStream<'static, (Notice, async_nats::Message)>>,
        mut outbox: mpsc::Receiver<Outgoing>,
        shutdown: CancellationToken,
    ) {
        let mut listening = true;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = heartbeat.tick() => self.heartbeat().await,
                outgoing = outbox.recv() => match outgoing {
                    Some(outgoing) => self.publish(outgoing).await,
                    None => break,
                },
                () = self.shared.interest_changed.notified() => self.follow(),
                () = self.shared.reconnected.notified() => {
                    tracing::info!("NATS connection back; re-checking access and presence, and asking the others to");
                    // What this instance announced while cut off may not have left it: everyone re-checks.
                    let (headers, payload) = wire::encode_recheck(self.shared.instance);
                    self.publish(Outgoing { subject: wire::RECHECK.to_owned(), headers, payload }).await;
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
        // What was queued before the stop still goes out (a revocation among it), then the rooms stop.
        outbox.close();
        while let Ok(outgoing) = outbox.try_recv() {
            self.publish(outgoing).await;
        }
        let (headers, payload) = wire::encode_recheck(self.shared.instance);
        self.publish(Outgoing { subject: wire::GONE.to_owned(), headers, payload }).await;
        if tokio::time::timeout(FLUSH_ON_STOP, self.client.flush()).await.is_err() {
            tracing::warn!("NATS did not take the last messages before the relay stopped");
        }
        for (_, (_, task)) in self.rooms.drain() {
            task.abort();
        }
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
            self.alive.remove(&instance);
            self.receivers.rooms.instance_gone(instance).await;
        }
    }

    /// Re-checks access and presence (`Events::recheck_everything`, `RoomsHandle::reannounce`) beside the
    /// task: it reads the database, and publishing must not wait on it.
    fn recheck(&self) {
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
                Ok(from) if matches!(kind, Notice::Alive) => {
                    self.alive.insert(from, Instant::now());
                }
                Ok(from) => {
                    tracing::info!(instance = %from, "relay instance stopped; its users count as offline");
                    self.alive.remove(&from);
                    self.receivers.rooms.instance_gone(from).await;
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

/// Follows one room subject: subscribes, says when the server has the subscription, asks the others who
/// is online, then hands the hub what the other instances publish to the room.
async fn follow_room(
    client: async_nats::Client,
    shared: Arc<Shared>,
    receivers: Receivers,
    team: TeamId,
    generation: u64,
) {
    let subject = wire::room_subject(team);
    let mut subscriber = match client.subscribe(subject.clone()).await {
        Ok(subscriber) => subscriber,
        Err(e) => {
            tracing::warn!(error = %e, %team, "could not follow the room over NATS");
            return;
        }
    };
    // The server answers a flush after it has taken the subscription: everything published to the room
    // from then on comes here.
    match client.flush().await {
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
}
