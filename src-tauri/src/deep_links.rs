//! Links that open the app: `teamflow://open?link=<invitation link>`, as the relay's invitation page
//! offers them. Never a password reset link: the link stays in the app's command line, which the
//! machine's other accounts can read while it runs, and a reset token is worth the whole account.
//!
//! The operating system starts the app with the link as its one argument; a second start on the same data
//! hands its arguments to the running app (single-instance: over the session's D-Bus on Linux, one name
//! per data directory) and ends. The shell keeps the latest link until the window takes it: when it starts
//! (a link that came with the app's own start) and whenever `LinkOpened` says one arrived.
//!
//! Any web page can open a `teamflow://` address, so a link only ever fills in a form: the person still
//! reads what it offers (the invitation's preview, the relay's address) and presses the button. A link
//! names a relay the app would accept as typed (`teamflow_node::relay_url`: no path, plain HTTP only on
//! local networks), so it cannot send the app to ask anything of a public plain-HTTP address.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tauri::plugin::TauriPlugin;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_deep_link::DeepLinkExt;
use tauri_specta::Event;
use teamflow_protocol::api::invitations::{APP_SCHEME, is_token_shaped};
use url::Url;

/// Longer than any link the relay makes; a longer one is not ours.
const MAX_LINK: usize = 2048;

/// A link the app was opened with, as the window reads it: the relay's own link, which the forms take
/// as if it had been pasted. Tagged by kind although there is one, so that another kind (a document, say)
/// is a variant the window must handle, not a link it takes for an invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum OpenedLink {
    /// `{relay}/invite/{token}`: to sign up with, or to join a team by when signed in.
    Invitation { link: String },
}

/// A link opened the app while it was running: the window takes it with `take_opened_link`.
#[derive(Debug, Clone, Serialize, specta::Type, tauri_specta::Event)]
pub(crate) struct LinkOpened;

/// The link not yet taken by the window (the latest wins).
#[derive(Debug, Default)]
pub(crate) struct Pending(Mutex<Option<OpenedLink>>);

impl Pending {
    pub(crate) fn take(&self) -> Option<OpenedLink> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    fn put(&self, link: OpenedLink) {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(link);
    }
}

/// Reads `teamflow://open?link=…`; anything else (another action, extra parameters, a link that is not an
/// http(s) invitation link with a token) is none.
fn parse(url: &Url) -> Option<OpenedLink> {
    // The scheme the app is registered for (`plugins.deep-link` in tauri.conf.json).
    if url.scheme() != APP_SCHEME || url.host_str() != Some("open") || !matches!(url.path(), "" | "/") {
        return None;
    }
    let mut pairs = url.query_pairs();
    let (key, link) = pairs.next()?;
    if key != "link" || pairs.next().is_some() || link.len() > MAX_LINK || url.fragment().is_some() {
        return None;
    }
    let inner = Url::parse(&link).ok()?;
    let plain = matches!(inner.scheme(), "http" | "https")
        && inner.host_str().is_some()
        && inner.username().is_empty()
        && inner.password().is_none()
        && inner.query().is_none()
        && inner.fragment().is_none();
    if !plain {
        return None;
    }
    // `{relay}/invite/{token}`, the relay being the link's origin: one the app would take if typed (so no
    // path before `/invite/`).
    let token = inner.path().trim_end_matches('/').strip_prefix("/invite/")?;
    let origin = inner.origin().ascii_serialization();
    let relay_as_typed = teamflow_node::relay_url(&origin).ok()?;
    (is_token_shaped(token) && relay_as_typed == origin).then(|| OpenedLink::Invitation { link: inner.to_string() })
}

/// The name this instance answers to on the session bus (before the plugin's `.SingleInstance`): the app's
/// identifier for its usual data, and one of its own for each other data directory (`TEAMFLOW_DATA_DIR`,
/// as the file system resolves it), so two people's profiles, or the tests' windows, run side by side
/// while a second start on the same data finds the first.
fn instance_id(identifier: &str, data_dir: Option<&Path>) -> String {
    match data_dir {
        None => identifier.to_owned(),
        Some(dir) => {
            // Made first (the shell would make it next): a directory that does not exist yet resolves to
            // nothing, and its first start would take another name than every start after it.
            if let Err(error) = std::fs::create_dir_all(dir) {
                tracing::warn!(%error, dir = %dir.display(), "the data directory could not be made");
            }
            let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned());
            // A bus name's elements may not start with a digit: `d` and the hash's first 8 bytes.
            format!("{identifier}.d{}", hex::encode(&Sha256::digest(dir.as_os_str().as_encoded_bytes())[..8]))
        }
    }
}

/// The single-instance plugin, where it can tell data directories apart: everywhere for the usual data,
/// and on Linux (its D-Bus name is ours to choose) for another `TEAMFLOW_DATA_DIR` too. Elsewhere a second
/// data directory runs without it rather than hand its links to the wrong one.
pub(crate) fn single_instance<R: Runtime>(identifier: &str) -> Option<TauriPlugin<R>> {
    let data_dir = std::env::var_os("TEAMFLOW_DATA_DIR").map(PathBuf::from);
    if data_dir.is_some() && !cfg!(target_os = "linux") {
        return None;
    }
    let plugin = tauri_plugin_single_instance::Builder::new()
        .dbus_id(instance_id(identifier, data_dir.as_deref()))
        .callback(|app, _args, _cwd| raise(app))
        .build();
    Some(plugin)
}

/// Takes the links the app was started with, and listens for those that arrive while it runs.
pub(crate) fn listen<R: Runtime>(app: &AppHandle<R>) {
    app.manage(Pending::default());
    let deep_link = app.deep_link();
    // Listening first: a link handed over before the start's own is read is not missed (one read twice
    // only fills the same form again).
    let handle = app.clone();
    deep_link.on_open_url(move |event| {
        received(&handle, event.urls());
        if let Err(error) = LinkOpened.emit(&handle) {
            tracing::warn!(%error, "the window could not be told of an opened link");
        }
    });
    match deep_link.get_current() {
        Ok(urls) => received(app, urls.unwrap_or_default()),
        Err(error) => tracing::warn!(%error, "the links the app was started with could not be read"),
    }
}

fn received<R: Runtime>(app: &AppHandle<R>, urls: Vec<Url>) {
    for url in urls {
        match parse(&url) {
            Some(link) => app.state::<Pending>().put(link),
            // The address may hold a token: only its kind is logged.
            None => tracing::warn!(scheme = url.scheme(), action = url.host_str(), "an opened link was not understood"),
        }
    }
}

/// A second start handed its arguments over: the running window comes to the front.
fn raise<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window("main") else { return };
    for (what, done) in [("unminimize", window.unminimize()), ("show", window.show()), ("focus", window.set_focus())] {
        if let Err(error) = done {
            tracing::warn!(%error, "the window could not {what}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUv-_0123";

    fn opened(link: &str) -> Option<OpenedLink> {
        parse(&Url::parse(&teamflow_protocol::api::invitations::open_in_app(link)).ok()?)
    }

    #[test]
    fn reads_invitation_links_as_the_relay_makes_them() {
        let invite = format!("https://relay.example.com/invite/{TOKEN}");
        assert_eq!(opened(&invite), Some(OpenedLink::Invitation { link: invite.clone() }));
        let local = format!("http://127.0.0.1:8080/invite/{TOKEN}/");
        assert_eq!(opened(&local), Some(OpenedLink::Invitation { link: local.clone() }));
    }

    #[test]
    fn refuses_anything_else() {
        let good = format!("https://relay.example.com/invite/{TOKEN}");
        let refused = [
            format!("https://relay.example.com/invite/{}", &TOKEN[..10]),
            format!("https://relay.example.com/invite/{TOKEN}!"),
            format!("https://relay.example.com/elsewhere/{TOKEN}"),
            format!("https://relay.example.com/reset-password/{TOKEN}"),
            format!("javascript://relay.example.com/invite/{TOKEN}"),
            format!("file:///invite/{TOKEN}"),
            format!("https://user:pw@relay.example.com/invite/{TOKEN}"),
            // Relays the app would not take as typed: plain HTTP to a public host, one under a path.
            format!("http://relay.example.com/invite/{TOKEN}"),
            format!("https://relay.example.com/team/invite/{TOKEN}"),
            format!("{good}?next=https://evil.example"),
            format!("{good}#x"),
            format!("https://relay.example.com/invite/{}", "a".repeat(MAX_LINK)),
            "not a url".to_owned(),
        ];
        for link in refused {
            assert_eq!(opened(&link), None, "{link}");
        }
        let encoded: String = url::form_urlencoded::byte_serialize(good.as_bytes()).collect();
        for url in [
            format!("teamflow://join?link={encoded}"),
            format!("teamflow://open/more?link={encoded}"),
            format!("teamflow://open?link={encoded}&then=x"),
            format!("teamflow://open?url={encoded}"),
            format!("teamflow://open?link={encoded}#x"),
            format!("https://open?link={encoded}"),
            "teamflow://open".to_owned(),
        ] {
            assert_eq!(parse(&Url::parse(&url).expect("a url")), None, "{url}");
        }
    }

    #[test]
    fn instances_on_other_data_have_names_of_their_own() {
        let id = "dev.teamflow.desktop";
        assert_eq!(instance_id(id, None), id);
        let dir = tempfile::tempdir().expect("a directory");
        let (work, other) = (dir.path().join("work"), dir.path().join("other"));
        for d in [&work, &other] {
            std::fs::create_dir(d).expect("made");
        }
        let a = instance_id(id, Some(&work));
        assert_ne!(a, instance_id(id, Some(&other)));
        // The same directory, however it is written.
        assert_eq!(a, instance_id(id, Some(&work.join("..").join("work"))));
        // One not made yet gets at its first start the name every later start finds.
        let new = dir.path().join("other").join("..").join("new");
        let first = instance_id(id, Some(&new));
        assert_eq!(first, instance_id(id, Some(&dir.path().join("new"))));
        assert!(a.starts_with("dev.teamflow.desktop.d") && a.len() == id.len() + 2 + 16, "{a}");
    }
}
