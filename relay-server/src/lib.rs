//! The TeamFlow relay as a library: `run` serves the HTTP API on a listener until `shutdown` resolves.
//!
//! `main.rs` only parses configuration and calls [`run`]; tests bind port 0 and call the same function.

pub mod access;
pub mod accounts;
pub mod admin;
pub mod analytics;
pub mod auth;
pub mod backup;
pub mod cluster;
pub mod config;
pub mod db;
pub mod devices;
pub mod documents;
pub mod error;
pub mod events;
pub mod http;
pub mod invitations;
pub mod messages;
pub mod metrics;
pub mod p2p;
pub mod projects;
pub mod rooms;
pub mod sessions;
pub mod sync;
pub mod teams;
pub mod tls;
pub mod validate;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::Config;
pub use error::ApiError;

use crate::auth::{PasswordHasher, TokenService};
use crate::http::AppState;

/// Why the relay could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("document sync did not start: {0}")]
    Sync(#[from] sync::StartError),
    #[error("libp2p node did not start: {0}")]
    P2p(#[from] p2p::StartError),
    #[error("data directory {path}: {source}")]
    DataDir { path: std::path::PathBuf, source: std::io::Error },
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("signing key: {0}")]
    Keys(#[from] auth::KeyError),
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error("password hashers did not start: {0}")]
    Hashers(std::io::Error),
    /// `--nats-url` was given, and the relay could not join the other instances through it.
    #[error("{0}")]
    Cluster(#[from] cluster::ClusterError),
}

/// Opens the data directory (database, keys), then serves on `listener` until `shutdown` resolves,
/// finishing in-flight requests before returning. With `config.tls` set it serves HTTPS and WSS on the same
/// listener (see [`tls`]); otherwise plain HTTP.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RelayError> {
    config.validate().map_err(RelayError::Config)?;
    // Before anything is opened: an instance that cannot reach the others must not serve alone.
    let nats = match &config.nats_url {
        Some(url) => Some(cluster::connect(url, config.nats_queue).await?),
        None => None,
    };
    let cluster = nats.as_ref().map(cluster::Connected::cluster).unwrap_or_default();
    let shutdown_token = CancellationToken::new();
    // Whichever way `run` returns, what watches the token stops (the certificate keeper among them).
    let _stop_on_return = shutdown_token.clone().drop_guard();
    // First, so a certificate that does not load stops the relay before anything else starts.
    let tls = tls::Tls::start(&config, shutdown_token.clone()).await?;
    let (rooms, hub) = rooms::spawn_hub(shutdown_token.clone(), cluster.clone());
    let addr = listener.local_addr().map_err(RelayError::Serve)?;
    let writer_stop = CancellationToken::new();
    let (state, writer) =
        build_state(config, addr, (rooms, cluster.clone()), shutdown_token.clone(), writer_stop.clone()).await?;
    // Subscribed before serving: no notice from another instance is missed once a client can connect.
    let cluster_task = match nats {
        Some(nats) => {
            let receivers = cluster::Receivers {
                rooms: state.rooms.clone(),
                events: state.events.clone(),
                live: state.sessions.live.clone(),
            };
            Some(nats.spawn(receivers, shutdown_token.clone()).await?)
        }
        None => None,
    };
    let p2p = start_p2p(&state, shutdown_token.clone()).await?;
    let worker = webhooks::spawn_worker(webhooks::Worker {
        db: state.db.clone(),
        messages: state.messages.clone(),
        events: state.events.clone(),
        access: state.access.clone(),
        queue: state.webhooks.clone(),
        process: state.config.process_webhooks,
        instance: uuid::Uuid::new_v4().to_string(),
        shutdown: shutdown_token.clone(),
    });
    let app = http::router(state.clone());
    let metrics_server = serve_metrics(&state, shutdown_token.clone()).await?;
    let pruner = spawn_limiter_pruning(state.limits.clone());
    let purge = documents::spawn_purge(state.db.clone());
    let key_reload = state.sessions.tokens.clone().spawn_reload(shutdown_token.clone());
    let session_watch =
        sessions::spawn_watch(state.db.clone(), state.sessions.live.clone(), shutdown_token.clone()).await?;
    tracing::info!(%addr, public_url = %state.public_url, tls = tls.is_some(), "relay listening");
    let (listener, tls_keeper) = match tls {
        Some(tls) => {
            let listener = tls::listener::TlsListener::new(listener, tls.acceptor).map_err(RelayError::Serve)?;
            (tls::listener::RelayListener::Tls(listener), Some(tls.keeper))
        }
        None => (tls::listener::RelayListener::Plain(listener), None),
    };
    // Realtime frames and sync messages are small and latency-bound: without TCP_NODELAY, Nagle's
    // algorithm meeting the peer's delayed ACK holds some of them back by about 40 ms. (TLS connections
    // get it before their handshake.)
    let listener = axum::serve::ListenerExt::tap_io(listener, |io| {
        if let tokio_util::either::Either::Left(tcp) = io
            && let Err(e) = tcp.set_nodelay(true)
        {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(RelayError::Serve)?;
    // HTTP is drained; now end the upgraded connections (they see the token) and the tasks we own.
    shutdown_token.cancel();
    state.connections.close();
    if tokio::time::timeout(std::time::Duration::from_secs(5), state.connections.wait()).await.is_err() {
        tracing::warn!("some connections did not close within 5 s");
    }
    pruner.abort();
    purge.abort();
    if let Err(e) = key_reload.await {
        tracing::error!(error = %e, "signing key reload ended abnormally");
    }
    if let Err(e) = session_watch.await {
        tracing::error!(error = %e, "session watch ended abnormally");
    }
    if let Some(server) = metrics_server
        && let Err(e) = server.await
    {
        tracing::error!(error = %e, "metrics listener ended abnormally");
    }
    if let Some(keeper) = tls_keeper
        && let Err(e) = keeper.await
    {
        tracing::error!(error = %e, "TLS certificate keeper ended abnormally");
    }
    if let Err(e) = worker.await {
        tracing::error!(error = %e, "webhook worker ended abnormally");
    }
    // Every poster has stopped: the message writer commits what is queued and ends.
    writer_stop.cancel();
    if let Err(e) = writer.await {
        tracing::error!(error = %e, "message writer ended abnormally");
    }
    state.sync.stop().await;
    if let Some(p2p) = p2p {
        p2p.stopped().await;
    }
    if let Err(e) = hub.await {
        tracing::error!(error = %e, "rooms hub ended abnormally");
    }
    if let Some(task) = cluster_task
        && let Err(e) = task.await
    {
        tracing::error!(error = %e, "cluster task ended abnormally");
    }
    state.db.close().await;
    tracing::info!("relay stopped");
    Ok(())
}

async fn build_state(
    config: Config,
    addr: SocketAddr,
    (rooms, cluster): (rooms::RoomsHandle, cluster::Cluster),
    shutdown: CancellationToken,
    writer_stop: CancellationToken,
) -> Result<(AppState, tokio::task::JoinHandle<()>), RelayError> {
    // Password hashes, webhook secrets, chat and the signing keys live here: the owner's eyes only.
    let data_dir_error = |source| RelayError::DataDir { path: config.data_dir.clone(), source };
    teamflow_sync::private::private_dir(&config.data_dir).map_err(data_dir_error)?;
    let (db, keys) = match &config.database_url {
        None => {
            let database = config.data_dir.join(db::DATABASE_FILE);
            teamflow_sync::private::private_database(&database).map_err(data_dir_error)?;
            let db = db::Db::sqlite(&database).await?;
            db.migrate().await?;
            let file_key = auth::SigningKeys::load_or_create(&config.data_dir)?;
            let keys = auth::identity_key(&db, Some(file_key)).await?;
            (db, keys)
        }
        Some(url) => {
            let db = db::Db::postgres(url).await?;
            db.migrate().await?;
            let keys = auth::identity_key(&db, None).await?;
            (db, keys)
        }
    };
    let access = access::Access::new(db.clone());
    let l = &config.limits;
    let caps = sync::caps::Caps::new(sync::caps::CapsConfig {
        sync_connections_per_user: l.sync_connections_per_user,
        ws_connections_per_user: l.ws_connections_per_user,
        sync_documents_per_user: l.sync_documents_per_user,
        sync_frames_per_second: l.sync_frames_per_second,
        sync_frame_burst: l.sync_frame_burst,
    });
    let memory = sync::Memory { unload_idle: l.sync_unload_idle(), loaded: config.documents_loaded.clone() };
    let sync =
        sync::SyncServer::start(db.clone(), access.clone(), caps, memory, cluster.clone(), l.sync_interval()).await?;
    let tokens =
        Arc::new(TokenService::from_database(db.clone(), &keys, config.issuer(), config.access_token_ttl()).await?);
    let limits = http::rate_limit::RateLimits::new(&config).map_err(RelayError::Config)?;
    let invitations = invitations::Secret::from_keys(&keys);
    let certificates = Arc::new(devices::CertificateIssuer::load(keys, &db).await?);
    let metrics = Arc::new(metrics::Metrics::new(db.clone()));
    metrics.register(sync.counters());
    let events = events::Events::new(access.clone(), rooms.clone(), cluster.clone());
    let live = sessions::LiveSessions::new(config.access_token_ttl());
    live.announce_through(cluster);
    let (messages, writer) = messages::MessageWriter::spawn(db.clone(), events.clone(), writer_stop);
    let state = AppState {
        metrics,
        messages,
        events,
        access,
        rooms,
        sync,
        webhooks: webhooks::Queue::default(),
        webhook_receives: Arc::new(tokio::sync::Semaphore::new(config.limits.max_webhook_receives)),
        public_url: config.public_url(addr).into(),
        shutdown,
        connections: TaskTracker::new(),
        db,
        sessions: accounts::Sessions { live, tokens, refresh_ttl: config.refresh_token_ttl() },
        invitations,
        certificates,
        limits,
        passwords: PasswordHasher::new(config.max_concurrent_hashes(), auth::HASH_QUEUE_TIMEOUT)
            .map_err(RelayError::Hashers)?,
        config: Arc::new(config),
    };
    Ok((state, writer))
}

/// With `--metrics-bind`, serves `/metrics` alone on that address until `shutdown`.
async fn serve_metrics(
    state: &AppState,
    shutdown: CancellationToken,
) -> Result<Option<tokio::task::JoinHandle<()>>, RelayError> {
    let Some(addr) = state.config.metrics_bind else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr).await.map_err(RelayError::Serve)?;
    tracing::info!(addr = %listener.local_addr().map_err(RelayError::Serve)?, "metrics listening");
    let app = http::metrics_router(state.clone());
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned()).await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    })))
}

/// Starts the libp2p node (unless disabled); it publishes where it listens through the certificate issuer.
async fn start_p2p(state: &AppState, shutdown: CancellationToken) -> Result<Option<p2p::P2pNode>, RelayError> {
    if state.config.p2p.disabled {
        return Ok(None);
    }
    let keys = auth::SigningKeys::load_or_create_p2p(&state.config.data_dir)?;
    let revocations = (state.db.clone(), state.access.clone());
    Ok(Some(p2p::start(&keys, &state.config.p2p, state.certificates.clone(), revocations, shutdown).await?))
}

/// Rate limiter state grows with every distinct client; prune it periodically. Owned by `run`, which
/// aborts it on shutdown.
fn spawn_limiter_pruning(limits: http::rate_limit::RateLimits) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            every.tick().await;
            limits.prune();
        }
    })
}
