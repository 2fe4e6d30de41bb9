//! A team's integrations (GitHub, Slack, Trello) for its owners and admins: connect (the secret shown once),
//! list, rotate the secret, remove, and the events the relay gave up on.

use tauri::{State, Wry};
use teamflow_protocol::TeamId;
use teamflow_protocol::api::integrations::{Integration, IntegrationCreated, IntegrationInput, WebhookFailure};

use crate::error::AppError;
use crate::shell::Shell;

#[tauri::command]
#[specta::specta]
pub(crate) async fn integrations(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<Vec<Integration>, AppError> {
    Ok(shell.node().await?.integrations(team_id).await?)
}

/// Connects a service; the answer carries the secret, which is never shown again.
#[tauri::command]
#[specta::specta]
pub(crate) async fn create_integration(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    input: IntegrationInput,
) -> Result<IntegrationCreated, AppError> {
    Ok(shell.node().await?.create_integration(team_id, &input).await?)
}

/// A new secret for an integration (generated for GitHub when `secret` is absent), shown once.
#[tauri::command]
#[specta::specta]
pub(crate) async fn rotate_integration(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    integration_id: String,
    secret: Option<String>,
) -> Result<IntegrationCreated, AppError> {
    Ok(shell.node().await?.rotate_integration(team_id, &integration_id, secret).await?)
}

#[tauri::command]
#[specta::specta]
pub(crate) async fn delete_integration(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    integration_id: String,
) -> Result<(), AppError> {
    Ok(shell.node().await?.delete_integration(team_id, &integration_id).await?)
}

/// The integration's events the relay gave up on, each with its reason.
#[tauri::command]
#[specta::specta]
pub(crate) async fn integration_failures(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    integration_id: String,
) -> Result<Vec<WebhookFailure>, AppError> {
    Ok(shell.node().await?.integration_failures(team_id, &integration_id).await?)
}
