//! Team chat: history, sending, changing, deleting and reacting through the outbox, retrying what the relay
//! refused, typing.

use tauri::{State, Wry};
use teamflow_node::OutboxEntry;
use teamflow_protocol::api::messages::Message;
use teamflow_protocol::{MessageId, TeamId};

use crate::error::AppError;
use crate::shell::Shell;

/// The latest messages, oldest first (the cached ones while offline).
#[tauri::command]
#[specta::specta]
pub(crate) async fn messages(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<Vec<Message>, AppError> {
    Ok(shell.node().await?.messages(team_id).await?)
}

/// A page of messages older than `before` (a `seq`), oldest first; empty at the start of history.
#[tauri::command]
#[specta::specta]
pub(crate) async fn older_messages(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    before: i64,
) -> Result<Vec<Message>, AppError> {
    Ok(shell.node().await?.messages_before(team_id, before, 50).await?)
}

/// Queues a message (kept locally first, so it survives going offline) and delivers it when it can.
#[tauri::command]
#[specta::specta]
pub(crate) async fn send_message(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    content: String,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.send_message(team_id, &content).await?)
}

/// Queues new text for one of this person's messages; it shows changed at once, offline too.
#[tauri::command]
#[specta::specta]
pub(crate) async fn edit_message(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    message_id: MessageId,
    content: String,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.edit_message(team_id, message_id, &content).await?)
}

/// Queues deleting a message (this person's own, or anyone's for an admin or owner).
#[tauri::command]
#[specta::specta]
pub(crate) async fn delete_message(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    message_id: MessageId,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.delete_message(team_id, message_id).await?)
}

/// Queues putting this person's `emoji` on a message (`on`) or taking it off; it shows at once, offline too.
#[tauri::command]
#[specta::specta]
pub(crate) async fn react(
    shell: State<'_, Shell<Wry>>,
    team_id: TeamId,
    message_id: MessageId,
    emoji: String,
    on: bool,
) -> Result<OutboxEntry, AppError> {
    Ok(shell.node().await?.react(team_id, message_id, &emoji, on).await?)
}

/// What is waiting to be delivered, and what the relay refused and why.
#[tauri::command]
#[specta::specta]
pub(crate) async fn outbox(shell: State<'_, Shell<Wry>>) -> Result<Vec<OutboxEntry>, AppError> {
    Ok(shell.node().await?.outbox().await?)
}

/// Puts a refused entry back in the queue and tries to deliver at once.
#[tauri::command]
#[specta::specta]
pub(crate) async fn retry(shell: State<'_, Shell<Wry>>, client_id: String) -> Result<(), AppError> {
    let node = shell.node().await?;
    if !node.retry(&client_id).await? {
        return Err(AppError::not_found("failed change"));
    }
    match node.flush().await {
        Ok(_) => Ok(()),
        // Queued again; the outbox delivers it when the relay answers.
        Err(teamflow_node::NodeError::Api(e)) if e.is_transient() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Drops a refused entry for good.
#[tauri::command]
#[specta::specta]
pub(crate) async fn discard(shell: State<'_, Shell<Wry>>, client_id: String) -> Result<(), AppError> {
    if shell.node().await?.discard(&client_id).await? { Ok(()) } else { Err(AppError::not_found("failed change")) }
}

/// Tells the team this person is typing (a joined team only; never queued).
#[tauri::command]
#[specta::specta]
pub(crate) async fn typing(shell: State<'_, Shell<Wry>>, team_id: TeamId) -> Result<(), AppError> {
    shell.account().await?.session.typing(team_id);
    Ok(())
}
