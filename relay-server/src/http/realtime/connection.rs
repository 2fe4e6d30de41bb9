//! One `/api/ws` socket: reads client frames in order, writes from its bounded send queue, keeps a heartbeat,
//! enforces the per-connection limits, and lives only as long as its sign-in and its access token (which
//! the client renews in-band with `renew`).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures::{SinkExt, StreamExt};
use governor::{Quota, RateLimiter};
use teamflow_protocol::api::messages::PostMessage;
use teamflow_protocol::api::projects::ProjectPatch;
use teamflow_protocol::api::teams::{Member, Project, Team};
use teamflow_protocol::realtime::{
    ClientMessage, MEMBERS_PER_FRAME, PROJECTS_PER_FRAME, PROTOCOL_VERSION, PresentMember, ServerMessage,
};
use teamflow_protocol::{ErrorCode, ProjectId, TeamId, UserId};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::access::Membership;
use crate::auth::AccessToken;
use crate::db::Db;
use crate::error::ApiError;
use crate::http::AppState;
use crate::rooms::{ConnId, frame};
use crate::sessions::{CLOSE_SESSION_ENDED, CLOSE_TOKEN_EXPIRED, LiveGuard};
use crate::{messages, projects, teams};

/// Malformed frames tolerated before the connection is closed with 1008.
const MAX_MALFORMED: u32 = 5;

/// How long a closed connection waits for the client's close frame (reading and dropping anything else).
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Why the relay ends a connection.
struct Close {
    code: u16,
    reason: &'static str,
}

/// Serves one upgraded socket until either side ends it, its sign-in ends, its token expires unrenewed, or
/// the relay shuts down.
pub(super) async fn serve(state: AppState, token: AccessToken, live: LiveGuard, socket: WebSocket) {
    let user = token.user;
    let (renewed, mut expiry) = watch::channel(tokio::time::Instant::now() + token.remaining());
    let limits = &state.config.limits;
    let (send_queue, mut outgoing) = mpsc::channel::<Utf8Bytes>(limits.ws_queue);
    let kill = CancellationToken::new();
    let conn = state.rooms.connect(user, send_queue.clone(), kill.clone()).await;

    let (mut sink, mut stream) = socket.split();
    let started = Instant::now();
    let last_heard = AtomicU64::new(0);
    let heartbeat = Duration::from_secs(limits.ws_heartbeat_secs);

    let welcome = frame(&ServerMessage::Welcome { protocol: PROTOCOL_VERSION, user_id: user });
    let close = if sink.send(Message::Text(welcome)).await.is_err() {
        None
    } else {
        let writer = async {
            let mut beat = tokio::time::interval(heartbeat);
            beat.tick().await;
            let expires = tokio::time::sleep_until(*expiry.borrow_and_update());
            tokio::pin!(expires);
            loop {
                tokio::select! {
                    biased;
                    () = state.shutdown.cancelled() => {
                        return Some(Close { code: close_code::AWAY, reason: "the relay is shutting down" });
                    }
                    reason = live.ended() => return Some(Close { code: CLOSE_SESSION_ENDED, reason }),
                    () = &mut expires => {
                        return Some(Close { code: CLOSE_TOKEN_EXPIRED, reason: "token_expired" });
                    }
                    Ok(()) = expiry.changed() => {
                        expires.as_mut().reset(*expiry.borrow_and_update());
                    }
                    () = kill.cancelled() => {
                        return Some(Close { code: close_code::AGAIN, reason: "too slow: the outgoing queue filled up" });
                    }
                    next = outgoing.recv() => {
                        let text = next?;
                        if sink.send(Message::Text(text)).await.is_err() {
                            return None;
                        }
                    }
                    _ = beat.tick() => {
                        let silent_ms = elapsed_ms(started).saturating_sub(last_heard.load(Ordering::Relaxed));
                        if u128::from(silent_ms) > 2 * heartbeat.as_millis() {
                            return Some(Close { code: close_code::AWAY, reason: "no heartbeat" });
                        }
                        if sink.send(Message::Ping(Default::default())).await.is_err() {
                            return None;
                        }
                    }
                }
            }
        };
        let reader = async {
            let mut session = Session::new(&state, conn, (&token, &renewed), send_queue.clone());
            while let Some(Ok(message)) = stream.next().await {
                last_heard.store(elapsed_ms(started), Ordering::Relaxed);
                let outcome = match message {
                    Message::Text(text) => session.on_text(text.as_str()).await,
                    Message::Binary(_) => session.malformed("frames must be JSON text".into()),
                    Message::Ping(_) | Message::Pong(_) => Ok(()),
                    Message::Close(_) => return None,
                };
                if let Err(close) = outcome {
                    return Some(close);
                }
            }
            None
        };
        tokio::select! {
            close = writer => close,
            close = reader => close,
        }
    };
    if let Some(Close { code, reason }) = close {
        // Deliver what was already queued (the error frames explaining a policy close), except to a
        // client that was closed for not reading.
        if code != close_code::AGAIN {
            while let Ok(text) = outgoing.try_recv() {
                if sink.send(Message::Text(text)).await.is_err() {
                    break;
                }
            }
        }
        let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
        if let Err(e) = sink.send(Message::Close(Some(frame))).await {
            tracing::debug!(error = %e, "close frame not delivered");
        }
        // Finish the closing handshake: read and drop what the client still sends until its close frame.
        // Closing with unread bytes would make the kernel reset the connection, and a reset can destroy the
        // error frames and the close just sent before the client reads them.
        let grace = tokio::time::sleep(CLOSE_GRACE);
        tokio::pin!(grace);
        loop {
            tokio::select! {
                () = &mut grace => break,
                next = stream.next() => match next {
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        tracing::info!(%user, code, reason, "closed realtime connection");
    }
    state.rooms.disconnect(conn).await;
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A connection's request handling, with its own limits.
struct Session<'a> {
    state: &'a AppState,
    conn: ConnId,
    user: UserId,
    /// The sign-in the connection belongs to: a renewal must come from the same one.
    session: &'a str,
    /// Where a renewal moves the connection's deadline.
    renewed: &'a watch::Sender<tokio::time::Instant>,
    send_queue: mpsc::Sender<Utf8Bytes>,
    limiter: governor::DefaultDirectRateLimiter,
    malformed: u32,
    over_limit: u32,
}

impl<'a> Session<'a> {
    fn new(
        state: &'a AppState,
        conn: ConnId,
        (token, renewed): (&'a AccessToken, &'a watch::Sender<tokio::time::Instant>),
        send_queue: mpsc::Sender<Utf8Bytes>,
    ) -> Self {
        let limits = &state.config.limits;
        let per_second = NonZeroU32::new(limits.ws_messages_per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.ws_message_burst).unwrap_or(NonZeroU32::MIN);
        Self {
            state,
            conn,
            user: token.user,
            session: &token.session,
            renewed,
            send_queue,
            limiter: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            malformed: 0,
            over_limit: 0,
        }
    }

    async fn on_text(&mut self, text: &str) -> Result<(), Close> {
        if self.limiter.check().is_err() {
            self.over_limit += 1;
            // Persisting far past the limit is abuse, not a burst.
            if self.over_limit > self.state.config.limits.ws_message_burst {
                return Err(Close { code: close_code::POLICY, reason: "message rate exceeded" });
            }
            return self.send(&error(ErrorCode::RateLimited, "too many messages; slow down", None));
        }
        self.over_limit = 0;
        match serde_json::from_str::<ClientMessage>(text) {
            Ok(message) => self.dispatch(message).await,
            Err(e) => self.malformed(format!("unreadable frame: {e}")),
        }
    }

    fn malformed(&mut self, why: String) -> Result<(), Close> {
        self.malformed += 1;
        if self.malformed > MAX_MALFORMED {
            return Err(Close { code: close_code::POLICY, reason: "too many malformed frames" });
        }
        self.send(&error(ErrorCode::ValidationFailed, &why, None))
    }

    /// Queues a reply. The client's own queue being full means it is not reading: end the connection.
    fn send(&self, message: &ServerMessage) -> Result<(), Close> {
        match self.send_queue.try_send(frame(message)) {
            Ok(()) | Err(TrySendError::Closed(_)) => Ok(()),
            Err(TrySendError::Full(_)) => {
                Err(Close { code: close_code::AGAIN, reason: "too slow: the outgoing queue filled up" })
            }
        }
    }

    async fn dispatch(&mut self, message: ClientMessage) -> Result<(), Close> {
        let reference = reference(&message);
        let replies = match message {
            ClientMessage::JoinTeam { team_id } => self.join(team_id).await,
            ClientMessage::LeaveTeam { team_id } => {
                self.state.rooms.leave(self.conn, team_id).await;
                Ok(Vec::new())
            }
            ClientMessage::SendMessage { team_id, client_msg_id, content, kind } => {
                self.send_message(team_id, PostMessage { client_id: client_msg_id, content, kind }).await
            }
            ClientMessage::UpdateProject { team_id, project_id, project } => {
                self.update_project(team_id, project_id, project).await
            }
            ClientMessage::Typing { team_id } => self.typing(team_id).await,
            ClientMessage::Ping { nonce } => Ok(vec![ServerMessage::Pong { nonce }]),
            ClientMessage::Renew { token } => self.renew(&token).await,
        };
        match replies {
            Ok(replies) => replies.iter().try_for_each(|reply| self.send(reply)),
            Err(e) => {
                if e.status().is_server_error() {
                    tracing::error!(error = %e, "realtime request failed");
                }
                let body = e.body();
                self.send(&error(body.error.code, &body.error.message, Some(reference)))
            }
        }
    }

    /// Moves the connection's deadline to a fresh token's expiry. The token must be valid and of the same
    /// user and sign-in: a connection never changes whose it is.
    async fn renew(&self, token: &str) -> Result<Vec<ServerMessage>, ApiError> {
        let verified = self.state.sessions.tokens.verify(token).await;
        let token = verified.and_then(|token| self.state.sessions.live.check(token)).map_err(|_| {
            ApiError::Unauthorized("the token is not valid; the connection ends when the current one expires")
        })?;
        if token.user != self.user || token.session != self.session {
            return Err(ApiError::Forbidden("renew with a token of this connection's own sign-in"));
        }
        let remaining = token.remaining();
        self.renewed.send_replace(tokio::time::Instant::now() + remaining);
        Ok(vec![ServerMessage::Renewed { expires_in: remaining.as_secs() }])
    }

    /// The frame's one membership check. A non-member is told `forbidden`, whether or not the team exists.
    async fn member(&self, team: TeamId) -> Result<Membership, ApiError> {
        self.state.access.member(team, self.user).await.map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::Forbidden("not a member of this team"),
            other => other,
        })
    }

    /// Joins the room: the socket gets `team_state`, then `team_members` and `team_projects` frames for a
    /// team too large for one, then the room's frames; nothing is answered beside them.
    async fn join(&self, team: TeamId) -> Result<Vec<ServerMessage>, ApiError> {
        let member = self.member(team).await?;
        // Join (pending: frames held, nothing sent) first, then read and check membership again in that
        // read: an event committed meanwhile is held, and sent after the state (which may include it
        // already: clients deduplicate by message `seq` and ids), never before a state older than it. A
        // removal committed before the read fails the check; one committed after it reaches the hub after
        // the join and fails the confirmation. Either way, and on any failed read, the socket leaves.
        let rooms = &self.state.rooms;
        rooms.join(self.conn, team).await;
        let (info, members, projects, latest_seq) = match read_team(&self.state.db, &member).await {
            Ok(read) => read,
            Err(e) => {
                rooms.leave(self.conn, team).await;
                return Err(e);
            }
        };
        // Who comes or goes after this is told in a held frame. This socket is online once confirmed.
        let mut online = rooms.online(team).await;
        if !online.contains(&self.user) {
            online.push(self.user);
        }
        let members: Vec<PresentMember> = members
            .into_iter()
            .map(|member| PresentMember { online: online.contains(&member.user_id), member })
            .collect();
        // A frame's size stays in the socket's write buffer for the life of the connection: a big team is
        // sent in pages rather than one large frame.
        let mut pages = members.chunks(MEMBERS_PER_FRAME).map(<[PresentMember]>::to_vec);
        let mut project_pages = projects.chunks(PROJECTS_PER_FRAME).map(<[Project]>::to_vec);
        let state = ServerMessage::TeamState {
            team: info,
            members: pages.next().unwrap_or_default(),
            projects: project_pages.next().unwrap_or_default(),
            latest_seq,
        };
        let frames = std::iter::once(state)
            .chain(pages.map(|members| ServerMessage::TeamMembers { team_id: team, members }))
            .chain(project_pages.map(|projects| ServerMessage::TeamProjects { team_id: team, projects }))
            .map(|message| frame(&message))
            .collect();
        if !rooms.confirm(self.conn, team, frames).await {
            rooms.leave(self.conn, team).await;
            return Err(ApiError::Forbidden("not a member of this team"));
        }
        Ok(Vec::new())
    }

    async fn send_message(&self, team: TeamId, input: PostMessage) -> Result<Vec<ServerMessage>, ApiError> {
        let member = self.member(team).await?;
        let client_msg_id = input.client_id.clone();
        let (message, _) = self.state.messages.post(&member, input).await?;
        Ok(vec![ServerMessage::MessageAck { team_id: team, client_msg_id, message_id: message.id, seq: message.seq }])
    }

    async fn update_project(
        &self,
        team: TeamId,
        project: ProjectId,
        input: ProjectPatch,
    ) -> Result<Vec<ServerMessage>, ApiError> {
        // Answered as its REST twin is: a non-member gets `not_found`.
        let member = self.state.access.member(team, self.user).await?;
        projects::patch(&self.state.db, &self.state.events, &member, project, input).await?;
        Ok(Vec::new())
    }

    async fn typing(&self, team: TeamId) -> Result<Vec<ServerMessage>, ApiError> {
        self.member(team).await?;
        let typing = ServerMessage::Typing { team_id: team, user_id: self.user };
        self.state.rooms.broadcast(team, &typing, Some(self.conn)).await;
        Ok(Vec::new())
    }
}

/// What `team_state` and its pages carry, read in one transaction so that they agree with each other.
async fn read_team(db: &Db, member: &Membership) -> Result<(Team, Vec<Member>, Vec<Project>, i64), ApiError> {
    let mut tx = db.pool().begin().await?;
    // The join's second check, in the read itself: still a member when the snapshot was taken.
    if crate::access::role_in(&mut *tx, member.team(), member.user()).await?.is_none() {
        return Err(ApiError::Forbidden("not a member of this team"));
    }
    let team = teams::get(&mut *tx, member).await?;
    let members = teams::members(&mut *tx, member).await?;
    let projects = projects::list(&mut *tx, member).await?;
    let latest_seq = messages::latest_seq(&mut *tx, member.team()).await?;
    tx.commit().await?;
    Ok((team, members, projects, latest_seq))
}

fn error(code: ErrorCode, message: &str, reference: Option<String>) -> ServerMessage {
    ServerMessage::Error { code, message: message.to_owned(), reference }
}

fn reference(message: &ClientMessage) -> String {
    match message {
        ClientMessage::SendMessage { client_msg_id, .. } => client_msg_id.clone(),
        ClientMessage::JoinTeam { .. } => "join_team".into(),
        ClientMessage::LeaveTeam { .. } => "leave_team".into(),
        ClientMessage::UpdateProject { .. } => "update_project".into(),
        ClientMessage::Typing { .. } => "typing".into(),
        ClientMessage::Ping { .. } => "ping".into(),
        ClientMessage::Renew { .. } => "renew".into(),
    }
}
