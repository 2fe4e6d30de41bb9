//! The shell's state: the relay the person chose and the node's session for it, whose events become window
//! events. The session (staying online, rooms, open documents, presence) lives in `teamflow_node`; the
//! shell only remembers the relay and maps events.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Runtime};
use tauri_specta::Event;
use teamflow_node::{EventSink, Node, P2pConfig, Session, SessionEvent};
use tokio::sync::Mutex;

use crate::error::AppError;
use crate::events::{DocumentChanged, PresenceChanged, RoomEvent, StatusChanged};

/// What the app remembers between runs, in `settings.json` beside the relays' data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Settings {
    /// The relay last signed in to; the sign-in screen offers it.
    pub relay_url: Option<String>,
    /// Light or dark, or the system's (the default; files from before the choice existed have none).
    #[serde(default)]
    pub theme: Theme,
}

/// The colour theme the window is drawn in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the operating system's light or dark setting.
    #[default]
    System,
    Light,
    Dark,
}

/// Tauri's managed state.
pub struct Shell<R: Runtime> {
    data_root: PathBuf,
    app: AppHandle<R>,
    settings: SettingsFile,
    current: Mutex<Current>,
}

/// Which relay's session the app has, if any.
#[derive(Debug, Default)]
enum Current {
    /// No relay chosen yet (a first start).
    #[default]
    None,
    Open(Arc<Account>),
    /// The last relay's data is open in another TeamFlow (`Shell::open`): it is opened on the first use
    /// after that one has closed.
    HeldElsewhere(String, Refused),
}

/// The answer of the last attempt to open data held elsewhere, for the callers that queued behind it.
/// Each attempt waits up to half a second for the data's lock (`teamflow_node`'s claim) under the shell's
/// lock, and the window asks for several things at once as it starts: without this, each would wait its
/// own half second in turn, to hear the same answer.
#[derive(Debug, Default)]
struct Refused(Option<(Instant, AppError)>);

impl Refused {
    /// The answer of an attempt that ended after `asked` (so made while this caller waited), if any.
    fn since(&self, asked: Instant) -> Option<AppError> {
        self.0.as_ref().filter(|(at, _)| *at >= asked).map(|(_, error)| error.clone())
    }

    /// The attempt that ended `at` answered `error`.
    fn record(&mut self, at: Instant, error: AppError) {
        self.0 = Some((at, error));
    }
}

impl<R: Runtime> std::fmt::Debug for Shell<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell").field("data_root", &self.data_root).finish_non_exhaustive()
    }
}

/// One relay's session.
#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) relay_url: String,
    pub(crate) session: Session,
}

impl Account {
    /// Ends the session, then the node: it stops syncing and its store finishes every write it was
    /// handed, so nothing the node took in is lost when the app quits or moves to another relay.
    async fn close(&self) {
        self.session.close().await;
        self.session.node().shutdown().await;
    }
}

impl<R: Runtime> Shell<R> {
    /// Restores the last relay's node (and with it any sign-in) from `data_root`. When another TeamFlow has
    /// that data open, the app starts all the same: every command answers `DataInUse`, and the data is
    /// opened on the first use after the other has closed.
    pub async fn open(app: AppHandle<R>, data_root: PathBuf) -> Result<Self, AppError> {
        let settings = SettingsFile::new(&data_root);
        let shell = Shell { data_root, app, settings, current: Mutex::new(Current::None) };
        if let Some(relay_url) = shell.settings()?.relay_url {
            let current = match shell.open_account(&relay_url).await {
                Ok(account) => Current::Open(account),
                Err(AppError::DataInUse { path }) => {
                    tracing::warn!(%path, "another TeamFlow has this data open; waiting for it to close");
                    Current::HeldElsewhere(relay_url, Refused::default())
                }
                Err(e) => return Err(e),
            };
            *shell.current.lock().await = current;
        }
        Ok(shell)
    }

    pub fn settings(&self) -> Result<Settings, AppError> {
        self.settings.read()
    }

    /// Remembers the theme chosen in Settings; answers the settings as saved.
    pub fn set_theme(&self, theme: Theme) -> Result<Settings, AppError> {
        self.settings.update(|settings| settings.theme = theme)
    }

    /// The current relay's session, or `SignedOut` when no relay was ever chosen. While another TeamFlow
    /// holds the last relay's data, each call tries to open it again, and answers `DataInUse` until it can;
    /// calls that waited behind an attempt take its answer (`Refused`).
    pub(crate) async fn account(&self) -> Result<Arc<Account>, AppError> {
        let asked = Instant::now();
        let mut current = self.current.lock().await;
        match &mut *current {
            Current::Open(account) => Ok(account.clone()),
            Current::None => Err(AppError::SignedOut),
            Current::HeldElsewhere(relay_url, refused) => {
                if let Some(error) = refused.since(asked) {
                    return Err(error);
                }
                let relay_url = relay_url.clone();
                match self.open_account(&relay_url).await {
                    Ok(account) => {
                        *current = Current::Open(account.clone());
                        Ok(account)
                    }
                    Err(error) => {
                        if let Current::HeldElsewhere(_, refused) = &mut *current {
                            refused.record(Instant::now(), error.clone());
                        }
                        Err(error)
                    }
                }
            }
        }
    }

    /// The node, when a relay was chosen (signed in or not).
    pub(crate) async fn node(&self) -> Result<Arc<Node>, AppError> {
        Ok(self.account().await?.session.node().clone())
    }

    /// The session for `relay_url`, switching to it (and remembering it) if another relay was in use.
    pub(crate) async fn use_relay(&self, relay_url: &str) -> Result<Arc<Account>, AppError> {
        let relay_url = normalize_relay_url(relay_url)?;
        let mut current = self.current.lock().await;
        if let Current::Open(account) = &*current
            && account.relay_url == relay_url
        {
            return Ok(account.clone());
        }
        // Another relay chosen: the old session ends, and a relay whose data was held elsewhere is no
        // longer waited for, once the new one is open (until then, still).
        let previous = std::mem::take(&mut *current);
        if let Current::Open(old) = &previous {
            old.close().await;
        }
        let account = match self.open_account(&relay_url).await {
            Ok(account) => account,
            Err(e) => {
                if let Current::HeldElsewhere(held, mut refused) = previous {
                    // The same relay's data, still held: the callers queued meanwhile take this answer.
                    if held == relay_url {
                        refused.record(Instant::now(), e.clone());
                    }
                    *current = Current::HeldElsewhere(held, refused);
                }
                return Err(e);
            }
        };
        *current = Current::Open(account.clone());
        // The session is open and works without the file: a failed save only means the next start does
        // not offer this relay.
        if let Err(e) = self.settings.update(|settings| settings.relay_url = Some(relay_url)) {
            tracing::warn!(error = %e, "the relay chosen was not saved in settings.json");
        }
        Ok(account)
    }

    async fn open_account(&self, relay_url: &str) -> Result<Arc<Account>, AppError> {
        let dir = self.data_root.join("relays").join(slug(relay_url));
        let node = Arc::new(Node::open(&dir, relay_url).await?);
        let session = Session::start(node, window_events(self.app.clone()), P2pConfig::default()).await;
        Ok(Arc::new(Account { relay_url: relay_url.to_owned(), session }))
    }

    /// Stops everything the current session runs and lets the node's store finish writing (the app is
    /// closing).
    pub async fn close(&self) {
        if let Current::Open(account) = std::mem::take(&mut *self.current.lock().await) {
            account.close().await;
        }
    }
}

/// `settings.json` beside the relays' data, read and written whole. One change at a time in this app: a
/// theme chosen while a relay is being switched to must not undo the switch, nor the switch the theme.
struct SettingsFile {
    dir: PathBuf,
    changing: std::sync::Mutex<()>,
}

impl SettingsFile {
    fn new(dir: &Path) -> Self {
        SettingsFile { dir: dir.to_owned(), changing: std::sync::Mutex::new(()) }
    }

    fn read(&self) -> Result<Settings, AppError> {
        match std::fs::read(self.dir.join("settings.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| AppError::Local { message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(AppError::Local { message: e.to_string() }),
        }
    }

    /// Reads the settings, changes them and saves them; answers them as saved.
    fn update(&self, change: impl FnOnce(&mut Settings)) -> Result<Settings, AppError> {
        let _one_at_a_time = self.changing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut settings = self.read()?;
        change(&mut settings);
        let local = |e: std::io::Error| AppError::Local { message: e.to_string() };
        std::fs::create_dir_all(&self.dir).map_err(local)?;
        let json = serde_json::to_vec_pretty(&settings).map_err(|e| AppError::Local { message: e.to_string() })?;
        // Written beside and renamed over, so a crash never leaves half a file; named for this process, so
        // a second TeamFlow on the same data (the already-open screen's) never renames this one's half.
        let partial = self.dir.join(format!("settings.json.{}.partial", std::process::id()));
        std::fs::write(&partial, json).map_err(local)?;
        if let Err(e) = std::fs::rename(&partial, self.dir.join("settings.json")) {
            // Not left behind: each process writes a name of its own, so leftovers would pile up.
            if let Err(cleanup) = std::fs::remove_file(&partial) {
                tracing::warn!(error = %cleanup, path = %partial.display(), "a half-saved settings file stays");
            }
            return Err(local(e));
        }
        Ok(settings)
    }
}

/// The session's events as window events.
fn window_events<R: Runtime>(app: AppHandle<R>) -> EventSink {
    Arc::new(move |event| {
        let emitted = match event {
            SessionEvent::Status(status) => StatusChanged(status).emit(&app),
            SessionEvent::Room { team, frame } => RoomEvent { team_id: team, frame }.emit(&app),
            SessionEvent::DocumentChanged { url } => DocumentChanged { url }.emit(&app),
            SessionEvent::Presence { url, peers } => PresenceChanged { url, peers }.emit(&app),
        };
        if let Err(e) = emitted {
            tracing::warn!(error = %e, "event not delivered to the window");
        }
    })
}

/// A relay URL as typed ("relay.example.com:8080/") made canonical, or refused with the reason (plain
/// http to a public host, a malformed address): see `teamflow_node::relay_url`.
pub(crate) fn normalize_relay_url(input: &str) -> Result<String, AppError> {
    teamflow_node::relay_url(input).map_err(|e| AppError::invalid(e.to_string()))
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
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_caller_that_waited_behind_a_refused_attempt_takes_its_answer_and_a_later_one_tries_again() {
        let in_use = AppError::DataInUse { path: "/data/relays/a".into() };
        let mut refused = Refused::default();
        let first = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(refused.since(first), None, "nothing tried yet: the first caller tries");
        // The second caller asked while the first caller's attempt was under way, which then failed.
        let second = first + ms(1);
        refused.record(first + ms(500), in_use.clone());
        assert_eq!(refused.since(first), Some(in_use.clone()));
        assert_eq!(refused.since(second), Some(in_use.clone()), "asked before the refusal: the same answer");
        // Asked after that answer: the other TeamFlow may have closed since, so it is tried again.
        let third = first + ms(501);
        assert_eq!(refused.since(third), None);
        refused.record(first + ms(900), AppError::SignedOut);
        assert_eq!(refused.since(third), Some(AppError::SignedOut), "the latest attempt's answer, whatever it was");
    }

    #[test]
    fn settings_from_before_themes_follow_the_system_and_unknown_themes_are_refused() {
        let old: Settings = serde_json::from_str(r#"{"relay_url":"https://relay.example.com"}"#).expect("old file");
        assert_eq!(old.theme, Theme::System);
        let dark: Settings = serde_json::from_str(r#"{"relay_url":null,"theme":"dark"}"#).expect("dark");
        assert_eq!(dark.theme, Theme::Dark);
        assert!(serde_json::from_str::<Settings>(r#"{"relay_url":null,"theme":"purple"}"#).is_err());
    }

    #[test]
    fn settings_changed_at_once_from_two_threads_both_stay() {
        let dir = tempfile::tempdir().expect("dir");
        let file = SettingsFile::new(dir.path());
        let rounds = 200;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for round in 0..rounds {
                    file.update(|s| s.relay_url = Some(format!("https://relay-{round}.example.com"))).expect("relay");
                }
            });
            scope.spawn(|| {
                for round in 0..rounds {
                    let theme = if round % 2 == 0 { Theme::Light } else { Theme::Dark };
                    file.update(|s| s.theme = theme).expect("theme");
                }
            });
        });
        let last = file.read().expect("read");
        assert_eq!(last.relay_url.as_deref(), Some("https://relay-199.example.com"), "the last relay chosen");
        assert_eq!(last.theme, Theme::Dark, "the last theme chosen");
    }

    #[test]
    fn relay_urls_are_made_canonical() {
        assert_eq!(normalize_relay_url(" relay.example.com/ ").expect("url"), "https://relay.example.com");
        assert_eq!(normalize_relay_url("http://127.0.0.1:8080").expect("url"), "http://127.0.0.1:8080");
        assert!(matches!(normalize_relay_url("   "), Err(AppError::Invalid { .. })));
        assert!(matches!(normalize_relay_url("https://"), Err(AppError::Invalid { .. })));
        assert!(matches!(normalize_relay_url("ftp://relay"), Err(AppError::Invalid { .. })));
        assert!(matches!(normalize_relay_url("http://relay.example.com"), Err(AppError::Invalid { .. })));
        assert_eq!(slug("http://127.0.0.1:8080"), "127.0.0.1_8080");
    }
}
