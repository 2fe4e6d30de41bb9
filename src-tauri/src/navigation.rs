//! The window shows the app's own pages and nothing else: a navigation anywhere else (a link dragged onto the
//! window, the page's context menu's "Open Link", a script) is refused. Links open in the system browser,
//! through the `open_link` command, never in this webview, where a page could reach the app's commands.

use tauri::plugin::{Builder, TauriPlugin};
use tauri::{Manager as _, Runtime, Url};

/// The plugin that refuses every navigation away from the app's own pages.
pub(crate) fn guard<R: Runtime>() -> TauriPlugin<R> {
    Builder::new("navigation-guard")
        .on_navigation(|webview, url| {
            let own = is_own_page(url, webview.config().build.dev_url.as_ref());
            if !own {
                tracing::warn!(%url, "the window was asked to leave the app; refused");
            }
            own
        })
        .build()
}

/// Whether `url` is one of the app's own pages: the bundled pages (`tauri://localhost` on Linux and macOS,
/// `http(s)://tauri.localhost` on Windows), or the development server's when the app runs from it.
fn is_own_page(url: &Url, dev_url: Option<&Url>) -> bool {
    let bundled = match url.scheme() {
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => url.host_str() == Some("tauri.localhost"),
        _ => false,
    };
    bundled || dev_url.is_some_and(|dev| dev.origin() == url.origin())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().expect("url")
    }

    #[test]
    fn only_the_apps_own_pages_are_shown() {
        let dev = url("http://localhost:5173");
        for own in [
            "tauri://localhost",
            "tauri://localhost/index.html#chat",
            "http://tauri.localhost/",
            "https://tauri.localhost/x",
        ] {
            assert!(is_own_page(&url(own), None), "{own}");
        }
        assert!(is_own_page(&url("http://localhost:5173/src/main.tsx"), Some(&dev)));
        for elsewhere in [
            "https://example.com/",
            "http://localhost:5173/",
            "tauri://example.com/",
            "http://tauri.localhost.example.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "data:text/html,<b>hi</b>",
            "about:blank",
        ] {
            assert!(!is_own_page(&url(elsewhere), None), "{elsewhere}");
        }
        assert!(!is_own_page(&url("http://localhost:5174/"), Some(&dev)), "another port is another origin");
    }
}
