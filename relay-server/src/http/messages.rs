//! `/api/teams/{team_id}/messages` and the caller's read position, `/api/teams/{team_id}/read`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use teamflow_protocol::api::messages::{
    EditMessage, MarkRead, Message, MessageChanges, MessageChangesQuery, MessagePage, MessagesQuery, PostMessage,
    ReadState, SetReaction,
};
use teamflow_protocol::{ErrorBody, MessageId, TeamId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, AuthUser};
use crate::error::ApiError;
use crate::messages;
use crate::messages::Posted;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, post_message))
        .routes(routes!(edit_message, delete_message))
        .routes(routes!(set_reaction))
        .routes(routes!(message_changes))
        .routes(routes!(get_read, put_read))
}

/// A page of messages, newest first.
#[utoipa::path(get, path = "/api/teams/{team_id}/messages", tag = "messages", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), MessagesQuery), responses(
    (status = 200, body = MessagePage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
async fn list_messages(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiQuery(query): ApiQuery<MessagesQuery>,
) -> Result<Json<MessagePage>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(messages::list(&state.db, &member, query).await?))
}

/// Post a message. Idempotent on `client_id`: a retry answers 200 with the original message.
#[utoipa::path(post, path = "/api/teams/{team_id}/messages", tag = "messages", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = PostMessage, responses(
    (status = 201, description = "stored", body = Message),
    (status = 200, description = "already stored by an earlier attempt", body = Message),
    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    (status = 409, description = "client_id reused for different content", body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn post_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<PostMessage>,
) -> Result<(StatusCode, Json<Message>), ApiError> {
    let member = state.access.member(team, user).await?;
    let (message, posted) = state.messages.post(&member, body).await?;
    let status = match posted {
        Posted::Created => StatusCode::CREATED,
        Posted::Existing => StatusCode::OK,
    };
    Ok((status, Json(message)))
}

/// The messages edited or deleted after change number `after`, as they are now, in the order of their last
/// change: what a device that was away missed. Page on with `next_after` while `more`.
#[utoipa::path(get, path = "/api/teams/{team_id}/messages/changes", tag = "messages", security(("bearer" = [])),
    params(("team_id" = TeamId, Path), MessageChangesQuery), responses(
    (status = 200, body = MessageChanges), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
))]
async fn message_changes(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiQuery(query): ApiQuery<MessageChangesQuery>,
) -> Result<Json<MessageChanges>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(messages::changes_after(&state.db, &member, query).await?))
}

/// Change the text of one of the caller's own messages. The same text again changes nothing.
#[utoipa::path(patch, path = "/api/teams/{team_id}/messages/{message_id}", tag = "messages",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("message_id" = MessageId, Path)),
    request_body = EditMessage, responses(
    (status = 200, body = Message),
    (status = 403, description = "not the message's author, or a viewer", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 410, description = "the message was deleted", body = ErrorBody),
    (status = 422, body = ErrorBody),
))]
async fn edit_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, message)): ApiPath<(TeamId, MessageId)>,
    ApiJson(body): ApiJson<EditMessage>,
) -> Result<Json<Message>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(messages::edit(&state.db, &state.events, &member, message, body).await?))
}

/// Delete a message (its author, or an admin or owner). Its place in the chat stays, its text goes; deleting
/// it again answers it as it is.
#[utoipa::path(delete, path = "/api/teams/{team_id}/messages/{message_id}", tag = "messages",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("message_id" = MessageId, Path)), responses(
    (status = 200, body = Message), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
))]
async fn delete_message(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, message)): ApiPath<(TeamId, MessageId)>,
) -> Result<Json<Message>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(messages::delete(&state.db, &state.events, &member, message).await?))
}

/// Put one of the caller's emoji on a message, or take it off (members and up). Idempotent: the message is
/// answered as it is, and the team's room hears `message_changed` only when something changed.
#[utoipa::path(put, path = "/api/teams/{team_id}/messages/{message_id}/reactions", tag = "messages",
    security(("bearer" = [])), params(("team_id" = TeamId, Path), ("message_id" = MessageId, Path)),
    request_body = SetReaction, responses(
    (status = 200, body = Message),
    (status = 403, description = "a viewer", body = ErrorBody),
    (status = 404, body = ErrorBody),
    (status = 410, description = "putting one on a deleted message", body = ErrorBody),
    (status = 422, description = "not one emoji, or a message with as many different emoji as it takes", body = ErrorBody),
))]
async fn set_reaction(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((team, message)): ApiPath<(TeamId, MessageId)>,
    ApiJson(body): ApiJson<SetReaction>,
) -> Result<Json<Message>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(messages::set_reaction(&state.db, &state.events, &member, message, body).await?))
}

/// Where the caller stands in the team's chat: read position, unread messages and mentions.
#[utoipa::path(get, path = "/api/teams/{team_id}/read", tag = "messages", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), responses(
    (status = 200, body = ReadState), (status = 404, body = ErrorBody),
))]
async fn get_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
) -> Result<Json<ReadState>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(messages::read_state(&state.db, &member).await?))
}

/// Move the caller's read position forward (one behind the kept position changes nothing). The caller's
/// other connections in the team's room hear `read_moved`.
#[utoipa::path(put, path = "/api/teams/{team_id}/read", tag = "messages", security(("bearer" = [])),
    params(("team_id" = TeamId, Path)), request_body = MarkRead, responses(
    (status = 200, body = ReadState), (status = 404, body = ErrorBody),
    (status = 422, description = "seq is not a message of this team", body = ErrorBody),
))]
async fn put_read(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(team): ApiPath<TeamId>,
    ApiJson(body): ApiJson<MarkRead>,
) -> Result<Json<ReadState>, ApiError> {
    let member = state.access.member(team, user).await?;
    Ok(Json(messages::mark_read(&state.db, &state.events, &member, body).await?))
}
