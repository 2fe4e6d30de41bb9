//! End to end in a real window: the built app under Xvfb, driven through WebDriver (tauri-driver over
//! WebKitWebDriver), against a real relay on loopback. A teammate acts through the relay's API and a
//! sync client, so what the window shows is checked against what others see, both ways.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use teamflow_tests::{TestRelay, sync_client, text_when};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// One window at a time: WebKit's screenshots stall when several apps render at once on two cores, and
/// each test's timings stay those of a person's machine.
static ONE_WINDOW: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How long the window gets to show something (first paint of a debug build included).
const PATIENCE: Duration = Duration::from_secs(30);

/// An X server of its own, on whatever display number is free.
struct Display {
    _server: Child,
    number: String,
}

impl Display {
    async fn start() -> Result<Self> {
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
struct Window {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
}

impl Window {
    async fn open(display: &Display, data_dir: &std::path::Path) -> Result<Self> {
        let port = free_port()?;
        let native_port = free_port()?;
        let driver = Command::new("tauri-driver")
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .env("DISPLAY", format!(":{}", display.number))
            .env("TEAMFLOW_DATA_DIR", data_dir)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting tauri-driver (`cargo install tauri-driver --locked`; `./x setup` does it)")?;
        // A WebDriver call that never answers fails the test instead of hanging it.
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let base = format!("http://127.0.0.1:{port}");
        // tauri-driver listens before WebKit's driver is up: wait until it says it is ready.
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
        let app = env!("CARGO_BIN_EXE_teamflow-desktop");
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}}))
            .send()
            .await?
            .json()
            .await?;
        let session =
            created["value"]["sessionId"].as_str().with_context(|| format!("no session: {created}"))?.to_owned();
        Ok(Window { http, base, session, driver })
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
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
    async fn all(&self, css: &str) -> Result<Vec<String>> {
        let found = self
            .command(reqwest::Method::POST, "/elements", Some(json!({"using": "css selector", "value": css})))
            .await?;
        Ok(found
            .as_array()
            .map(|list| {
                list.iter().filter_map(|e| e.as_object()?.values().next()?.as_str().map(str::to_owned)).collect()
            })
            .unwrap_or_default())
    }

    /// Waits for an element matching `css`.
    async fn find(&self, css: &str) -> Result<String> {
        self.until(&format!("an element {css}"), async || Ok(self.all(css).await?.into_iter().next())).await
    }

    async fn click(&self, css: &str) -> Result<()> {
        let element = self.find(css).await?;
        self.command(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await?;
        Ok(())
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let element = self.find(css).await?;
        self.command(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({"text": text}))).await?;
        Ok(())
    }

    async fn text_of(&self, element: &str) -> Result<String> {
        Ok(self
            .command(reqwest::Method::GET, &format!("/element/{element}/text"), None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn script(&self, script: &str) -> Result<Value> {
        self.command(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// Waits until some element matching `css` has text containing `text`.
    async fn until_text(&self, css: &str, text: &str) -> Result<()> {
        self.until(&format!("{css} showing {text:?}"), async || {
            for element in self.all(css).await? {
                if self.text_of(&element).await?.contains(text) {
                    return Ok(Some(()));
                }
            }
            Ok(None)
        })
        .await
    }

    /// Polls `probe` until it answers, or fails after `PATIENCE` with a screenshot to look at.
    async fn until<T>(&self, what: &str, probe: impl AsyncFn() -> Result<Option<T>>) -> Result<T> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(found) = probe().await? {
                return Ok(found);
            }
            if tokio::time::Instant::now() > deadline {
                let page = self.script("return document.body.innerText").await.unwrap_or_default();
                let shot = self.screenshot("failure").await.unwrap_or_default();
                bail!("the window never showed {what} (screenshot: {shot}); it shows: {page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a screenshot under the target directory; answers its path.
    async fn screenshot(&self, name: &str) -> Result<String> {
        use base64::Engine;
        let png = self.command(reqwest::Method::GET, "/screenshot", None).await?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap_or_default())?;
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("window-{name}.png"));
        std::fs::write(&path, bytes)?;
        Ok(path.display().to_string())
    }

    async fn close(mut self) -> Result<()> {
        let url = format!("{}/session/{}", self.base, self.session);
        self.http.delete(url).send().await?;
        self.driver.kill().await?;
        Ok(())
    }
}

/// Signs `name` (registered by `TestRelay::user`) in through the sign-in form.
async fn sign_in(window: &Window, relay: &TestRelay, name: &str) -> Result<()> {
    window.type_into("[data-testid=relay-url]", &relay.url("")).await?;
    window.type_into("[data-testid=email]", &format!("{name}@example.test")).await?;
    window.type_into("[data-testid=password]", "correct horse battery").await?;
    window.click("[data-testid=auth-submit]").await?;
    window.find("[data-testid=team-switcher]").await?;
    Ok(())
}

/// Creates a team in the window; answers its id, read from the relay as `owner` sees it.
async fn create_team(window: &Window, owner: &teamflow_tests::Client, name: &str) -> Result<String> {
    window.type_into("[data-testid=new-team-name]", name).await?;
    window.click("[data-testid=create-team]").await?;
    window.until_text("[data-testid=team-switcher]", name).await?;
    let (_, teams) = owner.get("/api/teams").await;
    Ok(teams
        .as_array()
        .and_then(|list| list.iter().find(|t| t["name"] == name))
        .and_then(|t| t["id"].as_str())
        .ok_or_else(|| anyhow!("team not on the relay: {teams}"))?
        .to_owned())
}

/// The editor's text as the textarea holds it.
async fn editor_text(window: &Window) -> Result<Value> {
    window.script("return document.querySelector('[data-testid=editor]').value").await
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_chats_plans_and_writes_with_a_teammate() -> Result<()> {
    let _one = ONE_WINDOW.lock().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let display = Display::start().await?;
    let data = tempfile::tempdir()?;
    let window = Window::open(&display, data.path()).await?;

    // A wrong password is refused with the relay's reason, and nothing else happens.
    window.type_into("[data-testid=relay-url]", &relay.url("")).await?;
    window.type_into("[data-testid=email]", "ada@example.test").await?;
    window.type_into("[data-testid=password]", "not her password").await?;
    window.click("[data-testid=auth-submit]").await?;
    window.until_text("[data-testid=auth-error]", "").await?;
    let refusal = window.text_of(&window.find("[data-testid=auth-error]").await?).await?;
    assert!(!refusal.is_empty(), "a refused sign-in says why");

    // The right one opens the workspace.
    let password = window.find("[data-testid=password]").await?;
    window.command(reqwest::Method::POST, &format!("/element/{password}/clear"), Some(json!({}))).await?;
    window.type_into("[data-testid=password]", "correct horse battery").await?;
    window.click("[data-testid=auth-submit]").await?;
    window.find("[data-testid=team-switcher]").await?;

    // A team made in the window exists on the relay; bob joins it there.
    let team = create_team(&window, &ada, "Launch").await?;
    ada.add_member(&team, "bob@example.test", "member").await;

    // Chat: ada's message reaches bob; bob's reaches the window live.
    window.type_into("[data-testid=composer]", "hello from the window").await?;
    window.click("[data-testid=send]").await?;
    window.until_text("[data-testid=message][data-state=sent]", "hello from the window").await?;
    let (_, page) = bob.get(&format!("/api/teams/{team}/messages")).await;
    assert!(page.to_string().contains("hello from the window"), "bob sees ada's message: {page}");
    let (status, _) = bob
        .post(&format!("/api/teams/{team}/messages"), &json!({"client_id": "bob-1", "content": "hi ada, bob here"}))
        .await;
    assert!(status.is_success());
    window.until_text("[data-testid=message]", "hi ada, bob here").await?;

    // Projects: made in the window, listed for bob.
    window.click("[data-testid=nav-projects]").await?;
    window.type_into("[data-testid=project-name]", "Website relaunch").await?;
    window.click("[data-testid=create-project]").await?;
    window.until_text("[data-testid=project]", "Website relaunch").await?;
    let (_, projects) = bob.get(&format!("/api/teams/{team}/projects")).await;
    assert!(projects.to_string().contains("Website relaunch"), "bob sees the project: {projects}");
    window.click("[data-testid=edit-project]").await?;
    let name = window.find("[data-testid=edit-project-name]").await?;
    window.command(reqwest::Method::POST, &format!("/element/{name}/clear"), Some(json!({}))).await?;
    window.type_into("[data-testid=edit-project-name]", "Website relaunch 2027").await?;
    window.click("[data-testid=save-project]").await?;
    window.until_text("[data-testid=project]", "Website relaunch 2027").await?;
    window
        .until("the renamed project on the relay", async || {
            let (_, projects) = bob.get(&format!("/api/teams/{team}/projects")).await;
            Ok(projects.to_string().contains("Website relaunch 2027").then_some(()))
        })
        .await?;

    // Settings: an owner's change is saved on the relay.
    window.click("[data-testid=nav-settings]").await?;
    window.type_into("[data-testid=team-description]", "We ship the website").await?;
    window.click("[data-testid=save-settings]").await?;
    window.find("[data-testid=settings-saved]").await?;
    let (_, settings) = bob.get(&format!("/api/teams/{team}/settings")).await;
    assert_eq!(settings["description"], "We ship the website");

    // A document typed in the window syncs to bob; bob's edit shows in the window without losing ada's.
    window.click("[data-testid=nav-documents]").await?;
    window.type_into("[data-testid=document-title]", "Plan").await?;
    window.click("[data-testid=create-document]").await?;
    window.type_into("[data-testid=editor]", "Hello team").await?;
    window.until_text("[data-testid=doc-state]", "Saved to relay").await?;
    let (_, documents) = bob.get(&format!("/api/teams/{team}/documents")).await;
    let url = documents
        .as_array()
        .and_then(|list| list.iter().find(|d| d["title"] == "Plan"))
        .and_then(|d| d["document_id"].as_str())
        .ok_or_else(|| anyhow!("document not registered: {documents}"))?
        .to_owned();
    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob can open the document")?;
    text_when(&handle, |t| t == "Hello team").await;
    teamflow_sync::splice_text(&handle, 0, 0, "Bob: ")?;
    window
        .until("bob's edit in the editor", async || {
            Ok((editor_text(&window).await? == json!("Bob: Hello team")).then_some(()))
        })
        .await?;
    // Ada keeps typing at the end: her caret stayed after her own text, so this lands after "team".
    window.type_into("[data-testid=editor]", "!").await?;
    text_when(&handle, |t| t == "Bob: Hello team!").await;

    let shot = window.screenshot("editor").await?;
    assert!(std::fs::metadata(&shot)?.len() > 1000, "a real screenshot at {shot}");
    window.close().await?;
    drop(display);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_written_offline_waits_visibly_and_goes_out_when_the_relay_returns() -> Result<()> {
    let _one = ONE_WINDOW.lock().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let display = Display::start().await?;
    let data = tempfile::tempdir()?;
    let window = Window::open(&display, data.path()).await?;
    sign_in(&window, &relay, "ada").await?;
    let team = create_team(&window, &ada, "Offline").await?;
    window.find("[data-testid=sync-indicator][data-tone=ok]").await?;

    let addr = relay.addr;
    let dir = relay.stop().await;
    window.find("[data-testid=sync-indicator]:not([data-tone=ok])").await?;
    window.type_into("[data-testid=composer]", "written on the train").await?;
    window.click("[data-testid=send]").await?;
    window.until_text("[data-testid=message][data-state=pending]", "written on the train").await?;

    let config = teamflow_tests::test_config(dir.path());
    let relay = TestRelay::start_at(dir, config, addr).await;
    window.until_text("[data-testid=message][data-state=sent]", "written on the train").await?;
    window.find("[data-testid=sync-indicator][data-tone=ok]").await?;
    let (_, page) = ada.get(&format!("/api/teams/{team}/messages")).await;
    let delivered = page["messages"].as_array().map_or(0, |m| m.len());
    assert_eq!(delivered, 1, "delivered exactly once: {page}");
    window.close().await?;
    drop(relay);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teammates_cursor_shows_by_name_and_history_shows_an_earlier_version() -> Result<()> {
    let _one = ONE_WINDOW.lock().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let bob = relay.user("bob").await;
    let display = Display::start().await?;
    let data = tempfile::tempdir()?;
    let window = Window::open(&display, data.path()).await?;
    sign_in(&window, &relay, "ada").await?;
    let team = create_team(&window, &ada, "Writers").await?;
    ada.add_member(&team, "bob@example.test", "member").await;
    window.click("[data-testid=nav-documents]").await?;
    window.type_into("[data-testid=document-title]", "Essay").await?;
    window.click("[data-testid=create-document]").await?;
    window.type_into("[data-testid=editor]", "first draft").await?;
    window.until_text("[data-testid=doc-state]", "Saved to relay").await?;
    let (_, documents) = bob.get(&format!("/api/teams/{team}/documents")).await;
    let url = documents[0]["document_id"].as_str().context("registered")?.to_owned();

    // Bob opens it with his cursor selecting "first".
    let bob_sync = sync_client(&relay, &bob, "bob-laptop").await;
    let handle = bob_sync.open(&url.parse()?).await?.context("bob opens it")?;
    text_when(&handle, |t| t == "first draft").await;
    let me = teamflow_sync::Presence {
        user_id: bob.user_id().await.parse()?,
        peer_id: bob_sync.peer_id().to_string(),
        name: "Bob".into(),
        color: "#3cb44b".into(),
        cursor: Some(teamflow_sync::Cursor { anchor: 0, head: 5 }),
    };
    let _presence = teamflow_sync::PresenceSession::join(&handle, me, teamflow_sync::PresenceConfig::default());
    window.until_text("[data-testid=remote-caret]", "Bob").await?;
    window.until_text("[data-testid=peers]", "Bob").await?;

    // Bob adds to the end, where ada's caret is: his text goes after her caret, so her typing continues
    // before it. History then has three versions: ada's draft, bob's addition, ada's addition.
    teamflow_sync::splice_text(&handle, 11, 0, " (bob)")?;
    window
        .until("bob's addition", async || Ok((editor_text(&window).await? == json!("first draft (bob)")).then_some(())))
        .await?;
    window.type_into("[data-testid=editor]", " and more").await?;
    text_when(&handle, |t| t == "first draft and more (bob)").await;
    window.click("[data-testid=history]").await?;
    let versions = window
        .until("three versions", async || {
            let entries = window.all("[data-testid=history-list] button").await?;
            Ok((entries.len() == 3).then_some(entries))
        })
        .await?;
    // Newest first: the middle one is the document right after bob's addition.
    window.command(reqwest::Method::POST, &format!("/element/{}/click", versions[1]), Some(json!({}))).await?;
    window.until_text("[data-testid=past-version] pre", "first draft (bob)").await?;
    let past = window.text_of(&window.find("[data-testid=past-version] pre").await?).await?;
    assert_eq!(past, "first draft (bob)");
    assert_eq!(editor_text_after_back(&window).await?, json!("first draft and more (bob)"));
    window.close().await?;
    Ok(())
}

/// Leaves the past version and answers the live editor's text.
async fn editor_text_after_back(window: &Window) -> Result<Value> {
    window.click("[data-testid=past-version] button").await?;
    window.find("[data-testid=editor]").await?;
    editor_text(window).await
}
