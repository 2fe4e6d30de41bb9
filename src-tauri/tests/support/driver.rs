//! Driving the built app in a real window: an Xvfb of its own, tauri-driver over WebKitWebDriver, and a
//! small WebDriver client. Shared by the window tests and the window latency benchmark.
#![allow(dead_code, unreachable_pub)] // each includer uses a different part

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use serde_json::{Value, json};
use teamflow_tests::{Client, TestRelay};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One window at a time: WebKit's screenshots stall when several apps render at once on two cores, and
/// each test's timings stay those of a person's machine.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A test's turn at the one window: taken before its relay starts (so that work is not timed against
/// another test's window), held by the window it launches until that closes.
pub struct Turn(tokio::sync::MutexGuard<'static, ()>);

/// Waits for this test's turn at the window.
pub async fn turn() -> Turn {
    Turn(ONE_WINDOW.lock().await)
}

/// How long the window gets to show something (first paint of a debug build included).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The variable naming a file that the window's processes' stderr is appended to (dropped otherwise); the
/// window benchmark marks its keys in it too.
pub const WINDOW_LOG: &str = "TEAMFLOW_WINDOW_LOG";

/// An X server of its own, on whatever display number is free.
pub struct Display {
    _server: Child,
    number: String,
}

impl Display {
    pub async fn start() -> Result<Self> {
        // `-displayfd 1` makes Xvfb pick a free display and print its number once it accepts clients.
        let mut server = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting Xvfb (apt package xvfb; `./x setup` installs it)")?;
        let stdout = server.stdout.take().context("Xvfb stdout")?;
        let mut line = String::new();
        tokio::time::timeout(PATIENCE, BufReader::new(stdout).read_line(&mut line))
            .await
            .context("Xvfb did not report a display")??;
        let number = line.trim().to_owned();
        if number.is_empty() {
            bail!("Xvfb exited without a display");
        }
        Ok(Display { _server: server, number })
    }
}

/// tauri-driver, and a WebDriver session on the app.
pub struct Window {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Driver,
    /// The app's data directory and X server, which outlive the session.
    _data: tempfile::TempDir,
    display: Display,
    _turn: Turn,
}

/// An app that quit, with what it leaves for starting it again: its data directory and X server.
pub struct Quit {
    data: tempfile::TempDir,
    display: Display,
    turn: Turn,
}

impl Quit {
    /// The data directory the app left (`Window::data_dir`).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// Starts the app again on the same data directory and X server, as a person reopening it would.
    pub async fn reopen(self, env: &[(&str, &std::ffi::OsStr)]) -> Result<Window> {
        Window::open(self.turn, self.display, self.data, env, &[]).await
    }
}

impl Window {
    /// Starts the app on an X server of its own with an empty data directory.
    pub async fn launch(turn: Turn) -> Result<Self> {
        Self::launch_with(turn, &[]).await
    }

    /// `launch`, with these environment variables set for the app (e.g. `TEAMFLOW_CA_CERT`).
    pub async fn launch_with(turn: Turn, env: &[(&str, &std::ffi::OsStr)]) -> Result<Self> {
        Self::launch_with_args(turn, env, &[]).await
    }

    /// `launch_with`, the app started with these arguments (a `teamflow://` link, as the system passes it).
    pub async fn launch_with_args(turn: Turn, env: &[(&str, &std::ffi::OsStr)], args: &[&str]) -> Result<Self> {
        let display = Display::start().await?;
        let data = tempfile::tempdir()?;
        Self::open(turn, display, data, env, args).await
    }

    /// `launch` in the given system theme; fails unless the window draws that theme.
    pub async fn launch_in(turn: Turn, theme: Theme) -> Result<Self> {
        let window = Self::launch_with(turn, &theme.env()).await?;
        ensure!(window.is_dark().await? == (theme == Theme::Dark), "the window is not in the {theme:?} theme");
        Ok(window)
    }

    async fn open(
        turn: Turn,
        display: Display,
        data: tempfile::TempDir,
        env: &[(&str, &std::ffi::OsStr)],
        args: &[&str],
    ) -> Result<Self> {
        let data_dir = data.path();
        let (port, native_port) = free_ports()?;
        let mut driver = Command::new("tauri-driver");
        driver
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", format!(":{}", display.number))
            .env("TEAMFLOW_DATA_DIR", data_dir)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .envs(env.iter().copied());
        let mut driver = Driver::start(driver)?;
        // A WebDriver call that never answers fails the test instead of hanging it.
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let base = format!("http://127.0.0.1:{port}");
        // tauri-driver listens before WebKit's driver is up: wait until it says it is ready. A bounded poll,
        // for want of an event: WebKitWebDriver prints nothing when it starts listening, and tauri-driver
        // starts it without a word, so asking `/status` is the only way to know.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(response) = http.get(format!("{base}/status")).send().await
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == json!(true)
            {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                bail!("tauri-driver never became ready");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // A benchmark may compare another build of the app (a baseline) with the same harness.
        let app =
            std::env::var("TEAMFLOW_APP_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_teamflow-desktop").to_owned());
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app, "args": args}}}}))
            .send()
            .await?
            .json()
            .await?;
        let session =
            created["value"]["sessionId"].as_str().with_context(|| format!("no session: {created}"))?.to_owned();
        // Waits in the page (`until_page`) answer within PATIENCE or end with a script timeout.
        let timeouts = format!("{base}/session/{session}/timeouts");
        http.post(timeouts).json(&json!({"script": PATIENCE.as_millis()})).send().await?.error_for_status()?;
        // Everything the session started (WebKitWebDriver, the app, WebKit's processes) is running now:
        // these must all be gone once the window closes.
        driver.record_processes()?;
        Ok(Window { http, base, session, driver, _data: data, display, _turn: turn })
    }

    pub async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await?.json().await?;
        if answer["value"]["error"].is_string() {
            bail!("webdriver {path}: {}", answer["value"]);
        }
        Ok(answer["value"].clone())
    }

    /// The elements matching `css` right now.
    pub async fn all(&self, css: &str) -> Result<Vec<String>> {
        let found = self
            .command(reqwest::Method::POST, "/elements", Some(json!({"using": "css selector", "value": css})))
            .await?;
        Ok(found.as_array().map(|list| list.iter().filter_map(element_id).collect()).unwrap_or_default())
    }

    /// Waits for an element matching `css`.
    pub async fn find(&self, css: &str) -> Result<String> {
        let found = self
            .until_page(&format!("an element {css}"), "return document.querySelector(args[0]);", &[json!(css)])
            .await?;
        element_id(&found).with_context(|| format!("not an element: {found}"))
    }

    pub async fn click(&self, css: &str) -> Result<()> {
        self.on_element(css, "click", json!({})).await
    }

    /// Chooses the option with `value` in the select at `css`, as picking it from the list does. Clicking
    /// the option through WebKitWebDriver shows it chosen without telling the page (no `change` event) when
    /// the select's list was never opened, and React then puts its own value back.
    pub async fn choose(&self, css: &str, value: &str) -> Result<()> {
        let chosen = self
            .command(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({
                    "script": "const select = document.querySelector(arguments[0]);
                               if (!select || ![...select.options].some((o) => o.value === arguments[1])) return false;
                               select.value = arguments[1];
                               select.dispatchEvent(new Event('change', { bubbles: true }));
                               return true;",
                    "args": [css, value],
                })),
            )
            .await?;
        ensure!(chosen == json!(true), "no option {value} in {css}");
        self.until_value(css, value).await
    }

    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        self.on_element(css, "value", json!({"text": text})).await
    }

    /// Finds `css` and acts on it; when React replaced the element in between (a stale reference), finds
    /// it again.
    async fn on_element(&self, css: &str, action: &str, body: Value) -> Result<()> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let element = self.find(css).await?;
            match self.command(reqwest::Method::POST, &format!("/element/{element}/{action}"), Some(body.clone())).await
            {
                Err(e) if is_stale(&e) && tokio::time::Instant::now() < deadline => continue,
                other => return other.map(|_| ()),
            }
        }
    }

    pub async fn text_of(&self, element: &str) -> Result<String> {
        Ok(self
            .command(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    pub async fn script(&self, script: &str) -> Result<Value> {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Waits until some element matching `css` has text containing `text`.
    pub async fn until_text(&self, css: &str, text: &str) -> Result<()> {
        self.until_page(
            &format!("{css} showing {text:?}"),
            // A select's innerText is only its chosen option; the teams one can switch to are all its options.
            "const text = (e) => (e instanceof HTMLSelectElement ? Array.from(e.options, (o) => o.text).join('\\n') : e.innerText);
             return Array.from(document.querySelectorAll(args[0])).some((e) => text(e).includes(args[1]));",
            &[json!(css), json!(text)],
        )
        .await?;
        Ok(())
    }

    /// Waits until exactly `count` elements match `css`; answers them.
    pub async fn until_count(&self, css: &str, count: usize) -> Result<Vec<String>> {
        let found = self
            .until_page(
                &format!("{count} of {css}"),
                "const all = document.querySelectorAll(args[0]); return all.length === args[1] && Array.from(all);",
                &[json!(css), json!(count)],
            )
            .await?;
        found.as_array().map(|list| list.iter().filter_map(element_id).collect()).context("no elements")
    }

    /// Waits until the editor's text (every block's, run together; teammates' caret labels left out) is
    /// exactly `text`.
    pub async fn until_editor_text(&self, text: &str) -> Result<()> {
        self.until_page(
            &format!("the editor holding {text:?}"),
            &format!("{EDITOR_TEXT} return editorText() === args[0];"),
            &[json!(text)],
        )
        .await?;
        Ok(())
    }

    /// Waits until the editor's HTML contains `html` (`<strong>bold</strong>`, say); answers the whole HTML.
    pub async fn until_editor_html(&self, html: &str) -> Result<String> {
        let found = self
            .until_page(
                &format!("the editor showing {html:?}"),
                "const e = document.querySelector('[data-testid=editor]'); return e && e.innerHTML.includes(args[0]) && e.innerHTML;",
                &[json!(html)],
            )
            .await?;
        Ok(found.as_str().unwrap_or_default().to_owned())
    }

    /// Waits in the page until `probe` (a function body over `args`) answers something other than null,
    /// undefined or false, and answers that. It runs now and again on each change to the page (any
    /// mutation of the document, any input event), not on a timer. After `PATIENCE` it fails with a
    /// screenshot to look at.
    pub async fn until_page(&self, what: &str, probe: &str, args: &[Value]) -> Result<Value> {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             const args = Array.from(arguments).slice(0, -1);
             const probe = () => {{ {probe} }};
             let observer = null;
             let answered = false;
             const check = () => {{
               if (answered) return true;
               const found = probe();
               if (found === null || found === undefined || found === false) return false;
               answered = true;
               observer?.disconnect();
               document.removeEventListener('input', check, true);
               done(found);
               return true;
             }};
             if (!check()) {{
               observer = new MutationObserver(check);
               observer.observe(document, {{ subtree: true, childList: true, characterData: true, attributes: true }});
               document.addEventListener('input', check, true);
             }}"
        );
        match self.command(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": args}))).await
        {
            Ok(found) => Ok(found),
            Err(e) if e.to_string().contains("script timeout") => {
                let page = self.script("return document.body.innerText").await.unwrap_or_default();
                let shot = self.capture("failure").await.unwrap_or_else(|e| format!("none, {e}"));
                bail!("the window never showed {what} (screenshot: {shot}); it shows: {page}");
            }
            Err(e) => Err(e),
        }
    }

    /// Polls `probe` until it answers, or fails after `PATIENCE` with a screenshot to look at. A bounded
    /// poll, for probes outside the page that have nothing to wait on (the latency benchmark reads its
    /// timings this way); what the page shows is waited for with `until_page`.
    pub async fn until<T>(&self, what: &str, probe: impl AsyncFn() -> Result<Option<T>>) -> Result<T> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(found) = probe().await? {
                return Ok(found);
            }
            if tokio::time::Instant::now() > deadline {
                let page = self.script("return document.body.innerText").await.unwrap_or_default();
                let shot = self.capture("failure").await.unwrap_or_else(|e| format!("none, {e}"));
                bail!("the window never showed {what} (screenshot: {shot}); it shows: {page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page has painted twice since now, so a screenshot shows what the DOM already holds.
    pub async fn painted(&self) -> Result<()> {
        let script = "const done = arguments[arguments.length - 1];
                      requestAnimationFrame(() => requestAnimationFrame(() => done(true)));";
        self.command(reqwest::Method::POST, "/execute/async", Some(json!({"script": script, "args": []}))).await?;
        Ok(())
    }

    /// Saves what the window shows as `window-{name}.png` under the tests' target directory, once the page
    /// has drawn two more frames (a screen changed just now is in the picture).
    pub async fn screenshot(&self, name: &str) -> Result<String> {
        self.painted().await?;
        self.capture(name).await
    }

    /// `screenshot`, then the same screen in the app's own dark theme (as Settings › Appearance chooses it,
    /// the page's `data-theme`) as `window-{name}-dark.png`, and back: for a screen a test reaches in the
    /// light theme only.
    pub async fn screenshot_and_dark(&self, name: &str) -> Result<()> {
        self.screenshot(name).await?;
        // The stylesheet's own background colour, which its dark palette changes.
        let background = "return getComputedStyle(document.documentElement).getPropertyValue('--bg')";
        let light = self.script(background).await?;
        let before = self
            .script("const t = document.documentElement.dataset.theme ?? null; document.documentElement.dataset.theme = 'dark'; return t")
            .await?;
        let dark = self.script(background).await?;
        ensure!(dark != light, "the page did not turn dark: its background stayed {light}");
        self.screenshot(&format!("{name}-dark")).await?;
        let restore = "const t = arguments[0]; if (t === null) delete document.documentElement.dataset.theme; \
                       else document.documentElement.dataset.theme = t";
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": restore, "args": [before]})))
            .await?;
        Ok(())
    }

    /// Saves the display as it is now as `window-{name}.png`, from the X server's own picture (`import`,
    /// ImageMagick): WebDriver's screenshot stalls on most of the app's screens under WebKitGTK. For a
    /// native dialog, or a page that may not be drawing (a failure), where waiting for frames could stall.
    async fn capture(&self, name: &str) -> Result<String> {
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("window-{name}.png"));
        let taken = Command::new("import")
            .args(["-display", &format!(":{}", self.display.number), "-window", "root"])
            .arg(&path)
            .status()
            .await
            .context("taking a screenshot (`import`, apt package imagemagick; `./x setup` installs it)")?;
        if !taken.success() {
            bail!("import could not take a screenshot of display :{}", self.display.number);
        }
        Ok(path.display().to_string())
    }

    /// Saves what the X display shows as `window-{name}.png` once it differs from the screenshot at
    /// `before` in more than a thousand pixels (ImageMagick's `compare`), for a screen drawn while no
    /// WebDriver session reaches the page. Fails after `PATIENCE`.
    pub async fn capture_once_other_than(&self, name: &str, before: &str) -> Result<String> {
        self.until(&format!("a screen other than {before}"), async || {
            let path = self.capture(name).await?;
            let compared = Command::new("compare").args(["-metric", "AE", before, &path, "null:"]).output().await?;
            // The count of differing pixels, on stderr (in scientific notation when large).
            let differing: f64 = String::from_utf8_lossy(&compared.stderr).trim().parse().unwrap_or(0.0);
            Ok((differing > 1000.0).then_some(path))
        })
        .await
    }

    /// Pastes the clipboard into an input with Ctrl+V, as a person would: WebKit reads the X server's
    /// clipboard, which whatever copied last (this app, say) holds.
    pub async fn paste_into(&self, css: &str) -> Result<()> {
        // U+E009 is WebDriver's Control key, held until the end of the keys sent.
        self.type_into(css, "\u{E009}v").await
    }

    /// Waits until the input matching `css` holds exactly `value`.
    pub async fn until_value(&self, css: &str, value: &str) -> Result<()> {
        self.until_page(
            &format!("{css} holding {value:?}"),
            "return document.querySelector(args[0])?.value === args[1];",
            &[json!(css), json!(value)],
        )
        .await?;
        Ok(())
    }

    /// The value of the input matching `css` (found first, waiting for it).
    pub async fn value_of(&self, css: &str) -> Result<String> {
        self.find(css).await?;
        let value = self
            .command(
                reqwest::Method::POST,
                "/execute/sync",
                Some(json!({"script": "return document.querySelector(arguments[0]).value", "args": [css]})),
            )
            .await?;
        value.as_str().map(str::to_owned).with_context(|| format!("{css} has no value: {value}"))
    }

    /// Whether the page is drawn in the dark theme (its `prefers-color-scheme`, which follows GTK's).
    pub async fn is_dark(&self) -> Result<bool> {
        let dark = self.script("return window.matchMedia('(prefers-color-scheme: dark)').matches").await?;
        dark.as_bool().with_context(|| format!("not a boolean: {dark}"))
    }

    /// Whether the page is drawn dark now, by the theme chosen in the app or else the system's.
    pub async fn is_dark_now(&self) -> Result<bool> {
        let dark = self
            .script(
                "const t = document.documentElement.dataset.theme;
                 return t ? t === 'dark' : window.matchMedia('(prefers-color-scheme: dark)').matches",
            )
            .await?;
        dark.as_bool().with_context(|| format!("not a boolean: {dark}"))
    }

    /// Empties an input so that the page hears of it, as it would of a person deleting the text.
    /// WebDriver's Element Clear sets the value without an `input` event: React never sees it, and its next
    /// render of the field puts the old value back, ahead of whatever is typed next. So the value is set
    /// through the element's own setter (under React's tracker) and an `input` event follows.
    pub async fn clear(&self, css: &str) -> Result<()> {
        self.find(css).await?;
        let script = "const field = document.querySelector(arguments[0]);
             field.focus();
             Object.getOwnPropertyDescriptor(Object.getPrototypeOf(field), 'value').set.call(field, '');
             field.dispatchEvent(new Event('input', { bubbles: true }));";
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": [css]}))).await?;
        self.until_value(css, "").await
    }

    /// Signs `name` (registered by `TestRelay::user`) in through the sign-in form, replacing whatever it
    /// remembered from a previous sign-in.
    pub async fn sign_in(&self, relay: &TestRelay, name: &str) -> Result<()> {
        for field in ["relay-url", "email", "password"] {
            self.clear(&format!("[data-testid={field}]")).await?;
        }
        self.type_into("[data-testid=relay-url]", &relay.url("")).await?;
        self.type_into("[data-testid=email]", &format!("{name}@example.test")).await?;
        self.type_into("[data-testid=password]", "correct horse battery").await?;
        self.click("[data-testid=auth-submit]").await?;
        self.find("[data-testid=team-switcher]").await?;
        Ok(())
    }

    /// Signs out once everything is synced (as a person would: with work unsent the app asks first), and
    /// waits for the sign-in form.
    pub async fn sign_out(&self) -> Result<()> {
        self.find("[data-testid=sync-indicator][data-tone=ok]").await?;
        self.click("[data-testid=sign-out]").await?;
        self.find("[data-testid=auth-form]").await?;
        Ok(())
    }

    /// Creates a team in the window; answers its id, read from the relay as `owner` sees it.
    pub async fn create_team(&self, owner: &Client, name: &str) -> Result<String> {
        self.type_into("[data-testid=new-team-name]", name).await?;
        self.click("[data-testid=create-team]").await?;
        self.until_text("[data-testid=team-switcher]", name).await?;
        let (_, teams) = owner.get("/api/teams").await;
        let id = teams
            .as_array()
            .and_then(|list| list.iter().find(|t| t["name"] == name))
            .and_then(|t| t["id"].as_str())
            .ok_or_else(|| anyhow!("team not on the relay: {teams}"))?
            .to_owned();
        // Listed is not yet chosen: a room frame can list the new team before the window's own reload
        // after creating it opens it, and a team chosen in between would be taken back.
        self.until_value("[data-testid=team-switcher]", &id).await?;
        Ok(id)
    }

    /// Creates a document in the window, types `text` into it, and waits until the relay has it; answers
    /// its URL, read from the relay's registry as `member` of `team` sees it.
    pub async fn create_document(&self, member: &Client, team: &str, title: &str, text: &str) -> Result<String> {
        self.click("[data-testid=nav-documents]").await?;
        self.type_into("[data-testid=document-title]", title).await?;
        self.click("[data-testid=create-document]").await?;
        self.type_into("[data-testid=editor]", text).await?;
        self.until_text("[data-testid=doc-state]", "Saved to relay").await?;
        let (_, documents) = member.get(&format!("/api/teams/{team}/documents")).await;
        Ok(documents
            .as_array()
            .and_then(|list| list.iter().find(|d| d["title"] == title))
            .and_then(|d| d["document_id"].as_str())
            .ok_or_else(|| anyhow!("document not registered: {documents}"))?
            .to_owned())
    }

    /// Waits for the system dialog titled `title` (GTK's, drawn on this window's X server) and drives it
    /// as a person would, with the keyboard: `Some(path)` types the path over the suggested name and
    /// presses Enter, `None` presses Escape. Screenshots it first as `window-{shot}.png`. (xdotool: WebDriver
    /// reaches only the web page, not the native dialog.)
    pub async fn answer_dialog(&self, title: &str, answer: Option<&std::path::Path>, shot: &str) -> Result<()> {
        let display = format!(":{}", self.display.number);
        let xdotool = |args: Vec<String>| {
            let display = display.clone();
            async move {
                let out = tokio::time::timeout(
                    PATIENCE,
                    Command::new("xdotool").args(&args).env("DISPLAY", &display).output(),
                )
                .await
                .with_context(|| format!("xdotool {args:?} did not finish"))?
                .context("running xdotool (apt package xdotool; `./x setup` installs it)")?;
                ensure!(out.status.success(), "xdotool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
                anyhow::Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
            }
        };
        let found =
            xdotool(vec!["search".into(), "--sync".into(), "--onlyvisible".into(), "--name".into(), title.into()])
                .await?;
        let dialog = found.lines().next().context("no dialog window")?.to_owned();
        xdotool(vec!["windowfocus".into(), "--sync".into(), dialog.clone()]).await?;
        self.capture(shot).await?;
        // One call each: xdotool's `type` takes every argument after it as text to type.
        if let Some(path) = answer {
            xdotool(vec!["key".into(), "--clearmodifiers".into(), "ctrl+a".into()]).await?;
            xdotool(vec!["type".into(), "--delay".into(), "5".into(), path.display().to_string()]).await?;
            xdotool(vec!["key".into(), "Return".into()]).await?;
        } else {
            xdotool(vec!["key".into(), "Escape".into()]).await?;
        }
        Ok(())
    }

    /// The editor's text: every block's, run together, teammates' caret labels left out.
    pub async fn editor_text(&self) -> Result<Value> {
        self.script(&format!("{EDITOR_TEXT} return editorText();")).await
    }

    /// Quits the app and starts it again on the same data directory and X server, as a person reopening
    /// it would (`env` as for `launch_with`).
    pub async fn restart(self, env: &[(&str, &std::ffi::OsStr)]) -> Result<Self> {
        self.quit().await?.reopen(env).await
    }

    /// Quits the app, keeping its data directory and X server for `Quit::reopen`.
    pub async fn quit(mut self) -> Result<Quit> {
        let url = format!("{}/session/{}", self.base, self.session);
        self.http.delete(url).send().await?;
        self.driver.stop().await?;
        let Window { _data: data, display, _turn: turn, .. } = self;
        Ok(Quit { data, display, turn })
    }

    /// The app's data directory (`TEAMFLOW_DATA_DIR`): its settings file, the relays' stores.
    /// The app's own processes: the app and every process below it (WebKit's web and network processes),
    /// not the drivers that started it. Each as (pid, name, start time in clock ticks after boot).
    pub fn app_processes(&self) -> Vec<(u32, String, u64)> {
        let all = processes();
        let mut below = vec![self.driver.group];
        let mut app = None;
        while let Some(parent) = below.pop() {
            for p in all.iter().filter(|p| p.parent == parent) {
                // The kernel keeps the first 15 bytes of a process's name.
                if p.name.starts_with("teamflow-deskto") {
                    app = Some(p.clone());
                } else {
                    below.push(p.pid);
                }
            }
        }
        let Some(app) = app else { return Vec::new() };
        let mut tree = vec![app.clone()];
        let mut parents = vec![app.pid];
        while let Some(parent) = parents.pop() {
            for p in all.iter().filter(|p| p.parent == parent) {
                parents.push(p.pid);
                tree.push(p.clone());
            }
        }
        tree.into_iter().map(|p| (p.pid, p.name, p.started)).collect()
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._data.path()
    }

    /// The X display the app draws on (`DISPLAY`), for another process to start there.
    pub fn display(&self) -> String {
        format!(":{}", self.display.number)
    }

    /// Presses and releases keys (WebDriver key codes, e.g. `\u{E004}` for Tab) on whatever has focus, as
    /// a keyboard would: the page sees trusted key events.
    pub async fn press(&self, keys: &[&str]) -> Result<()> {
        let mut actions = Vec::new();
        for key in keys {
            actions.push(json!({"type": "keyDown", "value": key}));
        }
        for key in keys.iter().rev() {
            actions.push(json!({"type": "keyUp", "value": key}));
        }
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.command(reqwest::Method::POST, "/actions", Some(body)).await?;
        Ok(())
    }

    /// Asks the app to end as the system does when a person logs out (SIGTERM to the app's process
    /// alone, not to the drivers), and waits until it has exited. What it does before exiting is the
    /// app's own (`src-tauri/src/quit.rs`); `restart` or `close` then end the session and the drivers.
    pub async fn terminate_app(&self) -> Result<()> {
        let (pid, _, _) = self.app_processes().into_iter().next().context("the app is not running")?;
        let app = Process::read(pid).context("the app exited before it was asked to")?;
        signal(&pid.to_string(), "TERM")?;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while app.is_alive() {
            ensure!(tokio::time::Instant::now() < deadline, "the app did not exit within {PATIENCE:?} of SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Ends the session (which closes the app), then ends tauri-driver with everything it started, and
    /// fails if any of those processes outlived it.
    pub async fn close(self) -> Result<()> {
        self.close_keeping_turn().await.map(drop)
    }

    /// `close`, keeping the turn for the test's next window.
    pub async fn close_keeping_turn(mut self) -> Result<Turn> {
        let url = format!("{}/session/{}", self.base, self.session);
        self.http.delete(url).send().await?;
        self.driver.stop().await?;
        let Window { _turn: turn, .. } = self;
        Ok(turn)
    }
}

/// The id in a WebDriver element reference (an object whose one entry holds it).
fn element_id(reference: &Value) -> Option<String> {
    reference.as_object()?.values().next()?.as_str().map(str::to_owned)
}

fn is_stale(error: &anyhow::Error) -> bool {
    error.to_string().contains("stale element reference")
}

/// tauri-driver in a process group of its own, which everything it starts joins: WebKitWebDriver, the app
/// and WebKit's processes. Killing tauri-driver alone orphans WebKitWebDriver (tauri-driver passes on
/// only SIGTERM, and only to its own child), so the group is signalled as a whole.
struct Driver {
    child: Child,
    /// The process group's id: tauri-driver's pid.
    group: u32,
    /// Drains the group's shared stderr (each process inherits the pipe) and ends at end of file: when the
    /// last process holding the pipe has exited, the event `stop` waits for.
    stderr: Option<tokio::task::JoinHandle<std::io::Result<u64>>>,
    /// The processes the session started, recorded once it was up.
    started: Vec<Process>,
    stopped: bool,
}

impl Driver {
    fn start(mut command: Command) -> Result<Self> {
        // Dropped, unless `TEAMFLOW_WINDOW_LOG` names a file to append it to: the app's and its web process's
        // stderr, where JavaScriptCore writes what its `JSC_*` options ask for (`JSC_logGC=true`). Opened
        // first, so that a path that cannot be written stops the start with its name.
        let log = match std::env::var_os(WINDOW_LOG) {
            Some(path) => Some(tokio::fs::File::from_std(
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&path)
                    .with_context(|| format!("opening {WINDOW_LOG}={}", path.display()))?,
            )),
            None => None,
        };
        let mut child = command
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting tauri-driver (`cargo install tauri-driver --locked`; `./x setup` does it)")?;
        let group = child.id().context("tauri-driver exited at once")?;
        let mut stderr = child.stderr.take().context("tauri-driver's stderr")?;
        let stderr = tokio::spawn(async move {
            match log {
                Some(mut file) => tokio::io::copy(&mut stderr, &mut file).await,
                None => tokio::io::copy(&mut stderr, &mut tokio::io::sink()).await,
            }
        });
        Ok(Driver { child, group, stderr: Some(stderr), started: Vec::new(), stopped: false })
    }

    /// Records the processes in the group and below tauri-driver (one that left the group is still
    /// caught); fails unless WebKitWebDriver is among them, since the check in `stop` is about it.
    fn record_processes(&mut self) -> Result<()> {
        let all = processes();
        let mut started: Vec<Process> = all.iter().filter(|p| p.group == self.group).cloned().collect();
        let mut parents = vec![self.group];
        while let Some(parent) = parents.pop() {
            for p in all.iter().filter(|p| p.parent == parent) {
                parents.push(p.pid);
                if !started.contains(p) {
                    started.push(p.clone());
                }
            }
        }
        if !started.iter().any(|p| p.name == "WebKitWebDriver") {
            bail!("no WebKitWebDriver under tauri-driver: {started:?}");
        }
        self.started = started;
        Ok(())
    }

    /// Asks the whole group to end (tauri-driver, WebKitWebDriver and the app each handle SIGTERM), waits
    /// until the last of them has let go of the shared stderr, and fails if any recorded process, or any
    /// process in the group, is still alive.
    async fn stop(&mut self) -> Result<()> {
        self.stopped = true;
        signal_group(self.group, "TERM")?;
        let stderr = self.stderr.take().context("stopped twice")?;
        let released = tokio::time::timeout(PATIENCE, stderr).await;
        let survivors: Vec<&Process> = self.started.iter().filter(|p| p.is_alive()).collect();
        let in_group: Vec<Process> = processes().into_iter().filter(|p| p.group == self.group).collect();
        let outlived = released.is_err() || !survivors.is_empty() || !in_group.is_empty();
        if outlived {
            // Ended all the same, so a failed check leaves nothing running either.
            signal_group(self.group, "KILL").ok();
        }
        self.child.wait().await?;
        if outlived {
            bail!(
                "processes the window test started outlived it: {survivors:?}; still in its process group: \
                 {in_group:?}"
            );
        }
        released?.context("the stderr reader panicked")?.context("reading tauri-driver's stderr")?;
        Ok(())
    }
}

impl Drop for Driver {
    /// A test that failed before `close` still ends everything it started.
    fn drop(&mut self) {
        if !self.stopped {
            signal_group(self.group, "KILL").ok();
        }
    }
}

/// Sends `signal` to every process in process group `group`. Through `sh`'s built-in `kill`: this crate
/// has no binding to libc's `kill(2)`, and the shell is everywhere.
fn signal_group(group: u32, name: &str) -> Result<()> {
    signal(&format!("-{group}"), name)
}

/// Sends signal `name` to `target`, a pid or a negated process group id.
fn signal(target: &str, name: &str) -> Result<()> {
    let status = std::process::Command::new("sh")
        .args(["-c", "kill -s \"$0\" -- \"$1\"", name, target])
        .stderr(Stdio::null())
        .status()
        .context("running sh to send a signal")?;
    if !status.success() {
        bail!("could not send SIG{name} to {target}");
    }
    Ok(())
}

/// A process as `/proc/<pid>/stat` describes it; `started` (clock ticks after boot) tells a reused pid apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Process {
    pid: u32,
    name: String,
    parent: u32,
    group: u32,
    started: u64,
    /// Has exited, or is exiting: a zombie, or past the point of no return in `exit` (it may already have
    /// closed its files, and so let go of the shared stderr, a moment before it turns zombie).
    ended: bool,
}

impl Process {
    fn read(pid: u32) -> Option<Process> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (head, rest) = stat.rsplit_once(')')?;
        let name = head.split_once('(')?.1.to_owned();
        // After the name: state, ppid, pgrp, ... and starttime, the 22nd field of the line.
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // The kernel's PF_EXITING flag.
        let exiting = fields.get(6)?.parse::<u64>().ok()? & 0x4 != 0;
        Some(Process {
            pid,
            name,
            ended: *fields.first()? == "Z" || exiting,
            parent: fields.get(1)?.parse().ok()?,
            group: fields.get(2)?.parse().ok()?,
            started: fields.get(19)?.parse().ok()?,
        })
    }

    /// Still running: the same process (not a new one on its pid) and not ended (a zombie has exited and
    /// only waits for a parent to collect it).
    fn is_alive(&self) -> bool {
        Process::read(self.pid).is_some_and(|now| now.started == self.started && !now.ended)
    }
}

/// A page function answering the editor's text without the names on teammates' carets.
const EDITOR_TEXT: &str = "const editorText = () => {
    const editor = document.querySelector('[data-testid=editor]');
    if (!editor) return null;
    const copy = editor.cloneNode(true);
    copy.querySelectorAll('.remote-caret').forEach((c) => c.remove());
    return copy.textContent;
  };";

/// Every running process (ended ones left out).
fn processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter_map(Process::read)
        .filter(|p| !p.ended)
        .collect()
}

/// Two distinct free ports: both are held while the second is picked, or the system may hand out the first
/// again, and tauri-driver would then never start WebKit's driver on a port it already listens on.
fn free_ports() -> Result<(u16, u16)> {
    let first = std::net::TcpListener::bind("127.0.0.1:0")?;
    let second = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok((first.local_addr()?.port(), second.local_addr()?.port()))
}

/// The system theme a window is launched in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    Light,
    Dark,
}

impl Theme {
    /// GTK's theme for the app; WebKit's `prefers-color-scheme` follows it.
    pub fn env(self) -> Vec<(&'static str, &'static std::ffi::OsStr)> {
        match self {
            Theme::Light => vec![("GTK_THEME", std::ffi::OsStr::new("Adwaita"))],
            Theme::Dark => vec![("GTK_THEME", std::ffi::OsStr::new("Adwaita:dark"))],
        }
    }

    /// A screenshot's name in this theme: `invite-dialog-light.png`.
    pub fn shot(self, screen: &str) -> String {
        format!("{screen}-{}", if self == Theme::Light { "light" } else { "dark" })
    }
}
