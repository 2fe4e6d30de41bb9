//! Settings › Your account against a real relay: a new display name shows in the sidebar and on the relay;
//! a wrong current password is refused in words, the right one signs the account's other devices out and
//! keeps this one; signing out everywhere returns the window to the sign-in form. A forgotten password is
//! set again from the sign-in screen with the administrator's reset link. Screenshots in both themes.

use anyhow::{Result, ensure};
use serde_json::json;
use teamflow_tests::{PASSWORD, TestRelay};

use crate::driver::{Theme, Window, turn};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_renames_themselves_changes_their_password_and_signs_out_everywhere() -> Result<()> {
    walk_through(Theme::Light).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_panel_in_the_dark_theme() -> Result<()> {
    walk_through(Theme::Dark).await
}

async fn walk_through(theme: Theme) -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    // Ada's other device: a sign-in of her own, which the password change ends.
    let phone = relay.user("ada").await;
    let window = Window::launch_in(turn, theme).await?;
    window.sign_in(&relay, "ada").await?;
    window.create_team(&phone, "Studio").await?;
    window.click("[data-testid=nav-settings]").await?;
    window.find("[data-testid=account-settings]").await?;

    window.clear("[data-testid=account-display-name]").await?;
    window.type_into("[data-testid=account-display-name]", "Ada Lovelace").await?;
    window.click("[data-testid=save-display-name]").await?;
    window.until_text("[data-testid=display-name-saved]", "Saved.").await?;
    window.until_text(".sidebar .me", "Ada Lovelace").await?;
    let (_, me) = phone.get("/api/me").await;
    ensure!(me["user"]["display_name"] == "Ada Lovelace", "on the relay: {me}");

    window.type_into("[data-testid=current-password]", "not my password").await?;
    window.type_into("[data-testid=new-password]", "a much longer password").await?;
    window.click("[data-testid=change-password]").await?;
    window.until_text("[data-testid=password-error]", "The current password is not correct.").await?;
    window.script("document.querySelector('[data-testid=password-error]').scrollIntoView({ block: 'center' })").await?;
    window.screenshot(&theme.shot("account-password-refused")).await?;
    ensure!(phone.get("/api/me").await.0.is_success(), "a refused change signs nobody out");

    window.clear("[data-testid=current-password]").await?;
    window.type_into("[data-testid=current-password]", PASSWORD).await?;
    window.click("[data-testid=change-password]").await?;
    window.find("[data-testid=password-changed]").await?;
    window.script("document.querySelector('[data-testid=account-settings]').scrollIntoView()").await?;
    window.screenshot(&theme.shot("account")).await?;
    ensure!(phone.get("/api/me").await.0.as_u16() == 401, "the other device is signed out");
    // This window's sign-in still works with the relay: a message goes out.
    window.click("[data-testid=nav-chat]").await?;
    window.type_into("[data-testid=composer]", "still here").await?;
    window.click("[data-testid=send]").await?;
    window.until_text("[data-testid=message][data-state=sent]", "still here").await?;
    window.click("[data-testid=nav-settings]").await?;

    window.click("[data-testid=start-sign-out-everywhere]").await?;
    window.find("[data-testid=confirm-sign-out-everywhere]").await?;
    window.screenshot(&theme.shot("account-sign-out-everywhere")).await?;
    window.click("[data-testid=confirm-sign-out-everywhere]").await?;
    window.find("[data-testid=auth-form]").await?;
    let (status, body) = relay
        .client()
        .post("/api/auth/login", &json!({ "email": "ada@example.test", "password": "a much longer password" }))
        .await;
    ensure!(status.is_success(), "the new password signs in: {body}");
    window.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_password_is_set_again_with_the_administrators_reset_link() -> Result<()> {
    let turn = turn().await;
    let relay = TestRelay::start().await;
    relay.user("ada").await;
    // What `teamflow-relay admin reset-password ada@example.test` prints, run on the relay's own data.
    let target = teamflow_relay::admin::Target {
        data_dir: relay.data_dir().to_path_buf(),
        public_url: relay.url(""),
        database_url: relay.database_url().map(str::to_owned),
    };
    let mut printed = Vec::new();
    teamflow_relay::admin::Admin::ResetPassword { email: "ada@example.test".into(), target }.run(&mut printed).await?;
    let printed = String::from_utf8(printed)?;
    let link = printed.lines().next().unwrap_or_default().to_owned();
    ensure!(link.contains("/reset-password/"), "a reset link: {printed}");

    let window = Window::launch(turn).await?;
    window.click("[data-testid=forgot-password]").await?;
    window.type_into("[data-testid=reset-link]", &link).await?;
    window.until_value("[data-testid=reset-relay-url]", &relay.url("")).await?;
    window.type_into("[data-testid=reset-new-password]", "a much longer password").await?;
    window.screenshot_and_dark("reset-password").await?;
    window.click("[data-testid=reset-submit]").await?;
    window.until_text("[data-testid=auth-notice]", "Password changed").await?;
    window.screenshot("reset-password-done").await?;

    window.clear("[data-testid=email]").await?;
    window.type_into("[data-testid=email]", "ada@example.test").await?;
    window.type_into("[data-testid=password]", "a much longer password").await?;
    window.click("[data-testid=auth-submit]").await?;
    window.find("[data-testid=team-switcher]").await?;
    window.close().await?;
    Ok(())
}
