//! Signing in and out, the account's own controls (name, password, other sign-ins, deletion), the
//! remembered relay, and the node's status.

use tauri::{State, Wry};
use teamflow_node::Status;
use teamflow_protocol::api::auth::User;

use crate::error::AppError;
use crate::shell::{Settings, Shell, Theme};

#[tauri::command]
#[specta::specta]
pub(crate) async fn settings(shell: State<'_, Shell<Wry>>) -> Result<Settings, AppError> {
    shell.settings()
}

/// Remembers the window's theme (System, Light or Dark) for the next start.
#[tauri::command]
#[specta::specta]
pub(crate) async fn set_theme(shell: State<'_, Shell<Wry>>, theme: Theme) -> Result<Settings, AppError> {
    shell.set_theme(theme)
}

/// Who is signed in, if anyone.
#[tauri::command]
#[specta::specta]
pub(crate) async fn session(shell: State<'_, Shell<Wry>>) -> Result<Option<User>, AppError> {
    match shell.node().await {
        Ok(node) => Ok(node.user().await),
        Err(AppError::SignedOut) => Ok(None),
        Err(e) => Err(e),
    }
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn sign_up(
    shell: State<'_, Shell<Wry>>,
    relay_url: String,
    email: String,
    password: String,
    display_name: String,
) -> Result<User, AppError> {
    let account = shell.use_relay(&relay_url).await?;
    Ok(account.session.sign_up(&email, &password, &display_name).await?)
}

/// Signs up with an invitation (its link or token): the new account joins the invitation's team. On a
/// relay that registers by invitation, this is how everyone after its first account signs up.
#[tauri::command]
#[specta::specta]
pub(crate) async fn sign_up_with_invitation(
    shell: State<'_, Shell<Wry>>,
    relay_url: String,
    email: String,
    password: String,
    display_name: String,
    invitation: String,
) -> Result<User, AppError> {
    let account = shell.use_relay(&relay_url).await?;
    Ok(account.session.sign_up_with_invitation(&email, &password, &display_name, &invitation).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn sign_in(
    shell: State<'_, Shell<Wry>>,
    relay_url: String,
    email: String,
    password: String,
) -> Result<User, AppError> {
    let account = shell.use_relay(&relay_url).await?;
    Ok(account.session.sign_in(&email, &password).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn sign_out(shell: State<'_, Shell<Wry>>) -> Result<(), AppError> {
    Ok(shell.account().await?.session.sign_out().await?)
}

/// Sets a new password with a reset link from the relay's administrator (the person is not signed in): the
/// relay is the one the form names, or the link's own.
#[tauri::command]
#[specta::specta]
pub(crate) async fn reset_password(relay_url: String, link: String, new_password: String) -> Result<(), AppError> {
    let relay_url = crate::shell::normalize_relay_url(&relay_url)?;
    Ok(teamflow_node::reset_password(&relay_url, &link, &new_password).await?)
}

/// Changes the display name everyone in the person's teams sees.
#[tauri::command]
#[specta::specta]
pub(crate) async fn update_display_name(shell: State<'_, Shell<Wry>>, display_name: String) -> Result<User, AppError> {
    Ok(shell.account().await?.session.update_display_name(&display_name).await?)
}

/// Changes the password; the account's other sign-ins end, this one stays.
#[tauri::command]
#[specta::specta]
pub(crate) async fn change_password(
    shell: State<'_, Shell<Wry>>,
    current_password: String,
    new_password: String,
) -> Result<(), AppError> {
    Ok(shell.account().await?.session.change_password(&current_password, &new_password).await?)
}

/// Ends every sign-in of the account, on every device, this one included.
#[tauri::command]
#[specta::specta]
pub(crate) async fn sign_out_everywhere(shell: State<'_, Shell<Wry>>) -> Result<(), AppError> {
    Ok(shell.account().await?.session.sign_out_everywhere().await?)
}

/// Deletes the account (its password asked again) and signs out.
#[tauri::command]
#[specta::specta]
pub(crate) async fn delete_account(shell: State<'_, Shell<Wry>>, password: String) -> Result<(), AppError> {
    Ok(shell.account().await?.session.delete_account(&password).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn status(shell: State<'_, Shell<Wry>>) -> Result<Status, AppError> {
    match shell.node().await {
        Ok(node) => Ok(node.status().await?),
        Err(AppError::SignedOut) => Ok(Status::default()),
        Err(e) => Err(e),
    }
}
