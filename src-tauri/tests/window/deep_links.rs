//! Links that open the app (`teamflow://open?link=…`, the invitation page's "Open in TeamFlow"): started
//! with an invitation link, the app opens "Create account" with it filled in, its relay and what it offers
//! (a link it does not take leaves it at Sign in; one of another relay says so, and Sign in stays with the
//! person's own relay). A second start on the same data while the app runs (the system opening another
//! link) hands the link over the session's D-Bus and ends, and the running window fills in "Join with a
//! link" with it and what it offers. A link only fills in a form: nobody joins until they press the button.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::json;
use teamflow_protocol::api::invitations::open_in_app;
use teamflow_tests::{Client, PASSWORD, TestRelay};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::driver::{PATIENCE, Window, turn};

/// A link to `team` made by `owner`, as the relay's invitation page shows it.
async fn invitation_link(owner: &Client, team: &str) -> Result<String> {
    let (status, invitation) = owner.post(&format!("/api/teams/{team}/invitations"), &json!({"role": "member"})).await;
    ensure!(status.as_u16() == 201, "{invitation}");
    invitation["url"].as_str().map(str::to_owned).context("the invitation's link")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invitation_link_opens_the_app_at_create_account_with_it_filled_in() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    let studio = ada.create_team("Studio").await;
    let link = invitation_link(&ada, &studio).await?;

    let window = Window::launch_with_args(turn, &[], &[&open_in_app(&link)]).await?;
    window
        .until_page(
            "Create account chosen",
            "return document.querySelector('[data-testid=mode-sign-up]')?.getAttribute('aria-selected') === 'true';",
            &[],
        )
        .await?;
    window.until_value("[data-testid=invitation-link]", &link).await?;
    window.until_value("[data-testid=relay-url]", &relay.url("")).await?;
    window.until_text("[data-testid=invitation-preview]", "Join Studio as member, invited by ada").await?;
    window.screenshot_and_dark("deep-link-sign-up").await?;
    ensure!(
        ada.get(&format!("/api/teams/{studio}/members")).await.1.as_array().map(Vec::len) == Some(1),
        "nobody joined by opening the link"
    );

    window.type_into("[data-testid=display-name]", "Bea").await?;
    window.type_into("[data-testid=email]", "bea@example.test").await?;
    window.type_into("[data-testid=password]", PASSWORD).await?;
    window.click("[data-testid=auth-submit]").await?;
    window.until_text("[data-testid=team-switcher]", "Studio").await?;
    window.close().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_to_another_relay_says_so_and_sign_in_stays_with_the_persons_own() -> Result<()> {
    let turn = turn().await;
    let bus = SessionBus::start().await?;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    ada.create_team("Studio").await;
    // Another relay, and an invitation of its own: what any web page could open the app with.
    let other = TestRelay::start().await;
    let mallory = other.user("mallory").await;
    let lure = mallory.create_team("Payroll").await;
    let link = invitation_link(&mallory, &lure).await?;
    // The same token under a path no relay serves it from: not a link the app takes.
    let malformed = link.replace("/invite/", "/team/invite/");
    let window = Window::launch_with_args(turn, &bus.env(), &[&open_in_app(&malformed)]).await?;
    window.find("[data-testid=auth-form]").await?;
    ensure!(window.all("[data-testid=invitation-link]").await?.is_empty(), "the sign-up form opened");
    // The app works as if started without it; ada's relay is remembered, and her password typed again.
    window.sign_in(&relay, "ada").await?;
    window.until_text("[data-testid=team-switcher]", "Studio").await?;
    window.sign_out().await?;
    window.type_into("[data-testid=email]", "ada@example.test").await?;
    window.type_into("[data-testid=password]", PASSWORD).await?;

    second_start(&window, &bus, &link).await?;
    window.until_value("[data-testid=invitation-link]", &link).await?;
    window.until_value("[data-testid=relay-url]", &other.url("")).await?;
    window.until_text("[data-testid=link-other-relay]", &relay.url("")).await?;
    window.until_value("[data-testid=password]", "").await?;
    window.until_text("[data-testid=invitation-preview]", "Join Payroll as member, invited by mallory").await?;
    window.screenshot_and_dark("deep-link-other-relay").await?;
    // Back to Sign in: at ada's own relay, not the link's.
    window.click("[data-testid=mode-sign-in]").await?;
    window.until_value("[data-testid=relay-url]", &relay.url("")).await?;
    window.close().await
}

/// What the system does when a link is opened while the app runs: starts it again with the link, on the
/// window's display, data and session bus. The start must hand the link over and end.
async fn second_start(window: &Window, bus: &SessionBus, link: &str) -> Result<()> {
    // The same build as the window's (a benchmark may point the driver at another one).
    let app =
        std::env::var("TEAMFLOW_APP_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_teamflow-desktop").to_owned());
    let second = Command::new(app)
        .arg(open_in_app(link))
        .env("DISPLAY", window.display())
        .env("TEAMFLOW_DATA_DIR", window.data_dir())
        .envs(bus.env())
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status();
    let ended =
        tokio::time::timeout(Duration::from_secs(60), second).await.context("the second start kept running")??;
    ensure!(ended.success(), "the second start failed: {ended}");
    let apps = window.app_processes().into_iter().filter(|(_, name, _)| name.starts_with("teamflow-deskto")).count();
    ensure!(apps == 1, "{apps} app processes: the second start did not end");
    Ok(())
}

/// A D-Bus session bus of the test's own, as a desktop session has (the single-instance plugin's channel).
struct SessionBus {
    _daemon: Child,
    address: String,
}

impl SessionBus {
    async fn start() -> Result<Self> {
        let mut daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting dbus-daemon (apt package dbus-daemon; `./x setup` installs it)")?;
        let mut address = String::new();
        let stdout = daemon.stdout.take().context("dbus-daemon's output")?;
        tokio::time::timeout(PATIENCE, BufReader::new(stdout).read_line(&mut address))
            .await
            .context("dbus-daemon gave no address")??;
        let address = address.trim().to_owned();
        ensure!(!address.is_empty(), "dbus-daemon exited without an address");
        Ok(SessionBus { _daemon: daemon, address })
    }

    /// The environment that points an app at this bus.
    fn env(&self) -> [(&'static str, &std::ffi::OsStr); 1] {
        [("DBUS_SESSION_BUS_ADDRESS", std::ffi::OsStr::new(&self.address))]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_hands_its_link_to_the_running_app_which_fills_in_join() -> Result<()> {
    let turn = turn().await;
    let bus = SessionBus::start().await?;
    let relay = TestRelay::start().await;
    let ada = relay.user("ada").await;
    relay.user("bob").await;
    let studio = ada.create_team("Studio").await;
    let link = invitation_link(&ada, &studio).await?;
    let window = Window::launch_with(turn, &bus.env()).await?;
    window.sign_in(&relay, "bob").await?;
    // Bob is typing a team's name when the link arrives: his keys must stay there.
    window.type_into("[data-testid=new-team-name]", "Garden").await?;

    second_start(&window, &bus, &link).await?;

    window.until_value("[data-testid=join-link]", &link).await?;
    window.until_text("[data-testid=join-preview]", "Join Studio as member, invited by ada").await?;
    // The focus stays where it was (a key pressed there must not join), and Join waits for a click.
    window
        .until_page("Join ready", "return !document.querySelector('[data-testid=join-with-link]').disabled;", &[])
        .await?;
    let focused = window.script("return document.activeElement?.dataset?.testid ?? null;").await?;
    ensure!(focused == json!("new-team-name"), "the focus moved: {focused}");
    ensure!(
        ada.get(&format!("/api/teams/{studio}/members")).await.1.as_array().map(Vec::len) == Some(1),
        "bob joined without pressing Join"
    );
    window.screenshot_and_dark("deep-link-join").await?;

    window.click("[data-testid=join-with-link]").await?;
    window.until_text("[data-testid=team-switcher]", "Studio").await?;
    ensure!(ada.get(&format!("/api/teams/{studio}/members")).await.1.as_array().map(Vec::len) == Some(2), "bob joined");
    window.close().await
}

/// Where the single-instance hand-over cannot work (no session bus, another data directory elsewhere), a
/// second TeamFlow on the same data starts but does not open it: it says another TeamFlow has it open,
/// instead of writing the same files, and goes on once the other has closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_on_data_another_teamflow_has_open_says_so_and_goes_on_once_it_closes() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    relay.user("ada").await;
    let window = Window::launch(turn).await?;
    window.sign_in(&relay, "ada").await?;
    window.find("[data-testid=nav-chat]").await?;

    // The other TeamFlow, started while this one was closed: anything holding the lock of the relay's data
    // directory, as a node does.
    let quit = window.quit().await?;
    let relays = quit.data_dir().join("relays");
    let relay_dir = std::fs::read_dir(&relays)?.next().context("the relay's data directory")??.path();
    let lock = std::fs::OpenOptions::new().write(true).open(relay_dir.join("node.lock"))?;
    lock.try_lock().context("the lock is free once the app has quit")?;
    let window = quit.reopen(&[]).await?;
    window
        .until_text("[data-testid=data-in-use] [role=alert]", "Another TeamFlow on this device has this data open")
        .await?;
    window.screenshot_and_dark("data-in-use").await?;
    // Tried again while the other still has it: the button says it is trying (the node asks for the lock
    // again for half a second), then the same answer (a second refusal counted). Watched from before the
    // click, so a slow driver cannot miss the moment.
    window
        .script(
            "const button = document.querySelector('[data-testid=data-in-use-retry]');
             window.sawTrying = false;
             new MutationObserver(() => {
               if (button.disabled && button.textContent === 'Trying…') window.sawTrying = true;
             }).observe(button, { attributes: true, childList: true, characterData: true, subtree: true });",
        )
        .await?;
    window.click("[data-testid=data-in-use-retry]").await?;
    window.find("[data-testid=data-in-use][data-refused='2'] [data-testid=data-in-use-retry]:enabled").await?;
    ensure!(window.script("return window.sawTrying").await? == json!(true), "the button never said Trying…");

    lock.unlock()?;
    window.click("[data-testid=data-in-use-retry]").await?;
    // Signed in as before: the other TeamFlow's closing was all it needed.
    window.find("[data-testid=nav-chat]").await?;
    window.close().await
}
