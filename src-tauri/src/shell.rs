//! The shell's state: the relay the person chose, the node for it, and the tasks that turn the node's
//! streams (status, rooms, documents, presence) into window events. Every task belongs to the account
//! that started it and stops with it (sign-out, switching relays, closing the app).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime};
use tauri_specta::Event;
use teamflow_node::{Node, NodeError, P2pConfig};
use teamflow_protocol::TeamId;
use teamflow_sync::PresenceSession;
use teamflow_sync::samod::DocHandle;
use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::AppError;
use crate::events::{DocumentChanged, PresenceChanged, RoomEvent, StatusChanged};

/// What the app remembers between runs, in `settings.json` beside the relays' data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Settings {
    /// The relay last signed in to; the sign-in screen offers it.
    pub relay_url: Option<String>,
}

/// Tauri's managed state.
pub struct Shell<R: Runtime> {
    data_root: PathBuf,
    app: AppHandle<R>,
    account: Mutex<Option<Arc<Account>>>,
}

impl<R: Runtime> std::fmt::Debug for Shell<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell").field("data_root", &self.data_root).finish_non_exhaustive()
    }
}

/// One relay's node and everything running on its behalf.
pub(crate) struct Account {
    pub(crate) relay_url: String,
    pub(crate) node: Arc<Node>,
    stop: CancellationToken,
    tasks: TaskTracker,
    /// Stops the current sign-in's sync and delivery task (one at a time; sign-out stops it).
    syncing: std::sync::Mutex<Option<CancellationToken>>,
    /// Joined rooms: a sender to say "typing" on each.
    rooms: std::sync::Mutex<HashMap<TeamId, mpsc::Sender<()>>>,
    documents: Mutex<HashMap<String, Arc<OpenDocument>>>,
}

/// A document open in the window.
pub(crate) struct OpenDocument {
    pub(crate) handle: DocHandle,
    pub(crate) presence: PresenceSession,
    /// Stops the document's event tasks when it closes.
    _stop: tokio_util::sync::DropGuard,
}

impl<R: Runtime> Shell<R> {
    /// Restores the last relay's node (and with it any sign-in) from `data_root`.
    pub async fn open(app: AppHandle<R>, data_root: PathBuf) -> Result<Self, AppError> {
        let shell = Shell { data_root, app, account: Mutex::new(None) };
        if let Some(relay_url) = shell.settings()?.relay_url {
            let account = shell.open_account(&relay_url).await?;
            *shell.account.lock().await = Some(account);
        }
        Ok(shell)
    }

    pub fn settings(&self) -> Result<Settings, AppError> {
        match std::fs::read(self.data_root.join("settings.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AppError::Local { message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(AppError::Local { message: e.to_string() }),
        }
    }

    fn save_settings(&self, settings: &Settings) -> Result<(), AppError> {
        let local = |e: std::io::Error| AppError::Local { message: e.to_string() };
        std::fs::create_dir_all(&self.data_root).map_err(local)?;
        let json = serde_json::to_vec_pretty(settings).map_err(|e| AppError::Local { message: e.to_string() })?;
        // Written beside and renamed over, so a crash never leaves half a file.
        let partial = self.data_root.join("settings.json.partial");
        std::fs::write(&partial, json).map_err(local)?;
        std::fs::rename(partial, self.data_root.join("settings.json")).map_err(local)
    }

    /// The current account, or `SignedOut` when no relay was ever chosen.
    pub(crate) async fn account(&self) -> Result<Arc<Account>, AppError> {
        self.account.lock().await.clone().ok_or(AppError::SignedOut)
    }

    /// The node, when a relay was chosen (signed in or not).
    pub(crate) async fn node(&self) -> Result<Arc<Node>, AppError> {
        Ok(self.account().await?.node.clone())
    }

    /// The account for `relay_url`, switching to it (and remembering it) if another relay was in use.
    pub(crate) async fn use_relay(&self, relay_url: &str) -> Result<Arc<Account>, AppError> {
        let relay_url = normalize_relay_url(relay_url)?;
        let mut current = self.account.lock().await;
        if let Some(account) = current.as_ref()
            && account.relay_url == relay_url
        {
            return Ok(account.clone());
        }
        if let Some(old) = current.take() {
            old.close().await;
        }
        let account = self.open_account(&relay_url).await?;
        self.save_settings(&Settings { relay_url: Some(relay_url) })?;
        *current = Some(account.clone());
        Ok(account)
    }

    async fn open_account(&self, relay_url: &str) -> Result<Arc<Account>, AppError> {
        let dir = self.data_root.join("relays").join(slug(relay_url));
        let node = Arc::new(Node::open(&dir, relay_url).await?);
        let account = Arc::new(Account {
            relay_url: relay_url.to_owned(),
            node,
            stop: CancellationToken::new(),
            tasks: TaskTracker::new(),
            syncing: std::sync::Mutex::new(None),
            rooms: std::sync::Mutex::new(HashMap::new()),
            documents: Mutex::new(HashMap::new()),
        });
        account.tasks.spawn(forward_status(account.node.clone(), self.app.clone(), account.stop.clone()));
        if account.node.user().await.is_some() {
            account.start_syncing();
        }
        Ok(account)
    }

    /// Stops everything the current account runs (the app is closing).
    pub async fn close(&self) {
        if let Some(account) = self.account.lock().await.take() {
            account.close().await;
        }
    }

    pub(crate) fn app(&self) -> &AppHandle<R> {
        &self.app
    }
}

impl Account {
    /// Keeps the node online (retrying the first connection; the sync client redials after that) and
    /// delivering its outbox, until the account stops.
    pub(crate) fn start_syncing(&self) {
        let node = self.node.clone();
        let stop = self.stop.child_token();
        let previous = self.syncing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).replace(stop.clone());
        if let Some(previous) = previous {
            previous.cancel();
        }
        let (peering, peering_stop) = (node.clone(), stop.clone());
        self.tasks.spawn(async move {
            tokio::select! {
                () = peering_stop.cancelled() => {}
                () = peering.keep_peering(P2pConfig::default()) => {}
            }
        });
        self.tasks.spawn(async move {
            let mut delay = Duration::from_millis(250);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    online = node.go_online() => match online {
                        Ok(()) => break,
                        Err(NodeError::SignedOut) => return,
                        Err(e) => tracing::info!(error = %e, "relay unreachable; will retry"),
                    },
                }
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(delay) => delay = (delay * 2).min(Duration::from_secs(10)),
                }
            }
            tokio::select! {
                () = stop.cancelled() => {}
                () = node.keep_delivering() => {}
            }
        });
    }

    /// Joins a team's room (once) and forwards its frames to the window as `RoomEvent`s.
    pub(crate) async fn join_room<R: Runtime>(&self, app: &AppHandle<R>, team: TeamId) -> Result<(), AppError> {
        if self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains_key(&team) {
            return Ok(());
        }
        let mut room = self.node.join_room(team).await?;
        let (typing, mut typed) = mpsc::channel(1);
        self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(team, typing);
        let app = app.clone();
        let stop = self.stop.clone();
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    Some(()) = typed.recv() => room.typing(),
                    frame = room.frames.recv() => match frame {
                        Some(frame) => {
                            if let Err(e) = (RoomEvent { team_id: team, frame }).emit(&app) {
                                tracing::warn!(error = %e, "room event not delivered to the window");
                            }
                        }
                        None => return,
                    },
                }
            }
        });
        Ok(())
    }

    /// Says "typing" in a joined room; nothing when the room is not joined.
    pub(crate) fn typing(&self, team: TeamId) {
        let rooms = self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(typing) = rooms.get(&team)
            && typing.try_send(()).is_err()
        {
            tracing::trace!("typing hint already on its way");
        }
    }

    /// The open document for `url`, opening it (from local storage, or the relay) on first use.
    pub(crate) async fn document<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        url: &str,
    ) -> Result<Arc<OpenDocument>, AppError> {
        let mut documents = self.documents.lock().await;
        if let Some(open) = documents.get(url) {
            return Ok(open.clone());
        }
        let parsed: teamflow_protocol::DocumentUrl =
            url.parse().map_err(|_| AppError::invalid(format!("{url} is not a document URL")))?;
        let handle = self.node.open_document(&parsed).await?.ok_or_else(|| AppError::not_found("document"))?;
        let presence = self.node.join_presence(&handle).await?;
        let stop = self.stop.child_token();
        self.tasks.spawn(forward_changes(handle.clone(), url.to_owned(), app.clone(), stop.clone()));
        self.tasks.spawn(forward_presence(presence.peers(), url.to_owned(), app.clone(), stop.clone()));
        let open = Arc::new(OpenDocument { handle, presence, _stop: stop.drop_guard() });
        documents.insert(url.to_owned(), open.clone());
        Ok(open)
    }

    pub(crate) async fn close_document(&self, url: &str) {
        self.documents.lock().await.remove(url);
    }

    /// Stops the account's tasks and peer-to-peer sync and waits for them; the node closes when the last
    /// handle to it goes.
    pub(crate) async fn close(&self) {
        self.stop.cancel();
        self.node.stop_p2p().await;
        self.documents.lock().await.clear();
        self.tasks.close();
        self.tasks.wait().await;
    }

    /// Signs out: stops rooms and documents, then forgets the sign-in.
    pub(crate) async fn sign_out(&self) -> Result<(), AppError> {
        if let Some(syncing) = self.syncing.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            syncing.cancel();
        }
        self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.documents.lock().await.clear();
        Ok(self.node.sign_out().await?)
    }
}

async fn forward_status<R: Runtime>(node: Arc<Node>, app: AppHandle<R>, stop: CancellationToken) {
    let mut status = node.watch_status();
    loop {
        let current = status.borrow_and_update().clone();
        if let Err(e) = StatusChanged(current).emit(&app) {
            tracing::warn!(error = %e, "status not delivered to the window");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = status.changed() => if changed.is_err() { return },
        }
    }
}

async fn forward_changes<R: Runtime>(handle: DocHandle, url: String, app: AppHandle<R>, stop: CancellationToken) {
    use futures::StreamExt;
    let mut changes = std::pin::pin!(handle.changes());
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            change = changes.next() => match change {
                Some(_) => {
                    if let Err(e) = (DocumentChanged { url: url.clone() }).emit(&app) {
                        tracing::warn!(error = %e, "document change not delivered to the window");
                    }
                }
                None => return,
            },
        }
    }
}

async fn forward_presence<R: Runtime>(
    mut peers: tokio::sync::watch::Receiver<Vec<teamflow_sync::Presence>>,
    url: String,
    app: AppHandle<R>,
    stop: CancellationToken,
) {
    loop {
        let current = peers.borrow_and_update().clone();
        if let Err(e) = (PresenceChanged { url: url.clone(), peers: current }).emit(&app) {
            tracing::warn!(error = %e, "presence not delivered to the window");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            changed = peers.changed() => if changed.is_err() { return },
        }
    }
}

/// A relay URL as typed ("relay.example.com:8080/") made canonical: a scheme, no trailing slash.
pub(crate) fn normalize_relay_url(input: &str) -> Result<String, AppError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(AppError::invalid("enter your team's relay address"));
    }
    let (scheme, rest) = match trimmed.split_once("://") {
        Some((scheme @ ("http" | "https"), rest)) => (scheme, rest),
        Some(_) => return Err(AppError::invalid(format!("{input} is not an http or https address"))),
        None => ("https", trimmed),
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('/') && host.starts_with('/') {
        return Err(AppError::invalid(format!("{input} is not a relay address")));
    }
    Ok(format!("{scheme}://{host}"))
}

/// A directory name for a relay's data: readable, and distinct per relay.
fn slug(relay_url: &str) -> String {
    relay_url
        .split_once("://")
        .map_or(relay_url, |(_, rest)| rest)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
        .collect()
}

/// Where the app keeps its data: `TEAMFLOW_DATA_DIR` when set (tests, portable installs), else the
/// platform's app-data directory.
pub(crate) fn data_root<R: Runtime>(app: &AppHandle<R>) -> Result<PathBuf, AppError> {
    use tauri::Manager;
    if let Some(dir) = std::env::var_os("TEAMFLOW_DATA_DIR") {
        return Ok(Path::new(&dir).to_owned());
    }
    app.path().app_data_dir().map_err(|e| AppError::Local { message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls_are_made_canonical() {
        assert_eq!(normalize_relay_url(" relay.example.com/ ").expect("url"), "https://relay.example.com");
        assert_eq!(normalize_relay_url("http://127.0.0.1:8080").expect("url"), "http://127.0.0.1:8080");
        assert!(matches!(normalize_relay_url("   "), Err(AppError::Invalid { .. })));
        assert!(matches!(normalize_relay_url("https://"), Err(AppError::Invalid { .. })));
        assert!(matches!(normalize_relay_url("ftp://relay"), Err(AppError::Invalid { .. })));
        assert_eq!(slug("http://127.0.0.1:8080"), "127.0.0.1_8080");
    }
}
