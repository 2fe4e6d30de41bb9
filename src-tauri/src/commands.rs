//! The commands the window calls, grouped by feature. Each one extracts its arguments, calls the node
//! and answers: the node holds the logic.

// `#[tauri::command]` expands to code that discards a `Result` with `let _ =`; ours are all returned.
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod account;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod attention;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod chat;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod documents;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod export;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod integrations;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod invitations;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod links;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod projects;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod search;
#[allow(clippy::let_underscore_must_use)]
pub(crate) mod teams;

use tauri::Wry;
use tauri_specta::{Commands, collect_commands};

/// Every command, for the invoke handler and the generated bindings alike.
pub(crate) fn all() -> Commands<Wry> {
    collect_commands![
        account::settings,
        account::set_theme,
        account::session,
        account::sign_up,
        account::sign_up_with_invitation,
        account::sign_in,
        account::sign_out,
        account::reset_password,
        account::update_display_name,
        account::change_password,
        account::sign_out_everywhere,
        account::delete_account,
        account::status,
        teams::teams,
        teams::create_team,
        teams::members,
        teams::activity,
        teams::team_settings,
        teams::update_team_settings,
        teams::join_team,
        teams::rename_team,
        teams::delete_team,
        teams::change_role,
        teams::remove_member,
        teams::leave_team,
        teams::delete_project,
        teams::analytics,
        invitations::invite,
        invitations::invitations,
        invitations::revoke_invitation,
        invitations::preview_invitation,
        invitations::pending_invitations,
        invitations::accept_invitation,
        invitations::decline_invitation,
        chat::messages,
        chat::older_messages,
        chat::send_message,
        chat::edit_message,
        chat::delete_message,
        chat::react,
        chat::outbox,
        chat::retry,
        chat::discard,
        chat::typing,
        attention::read_states,
        attention::read_state,
        attention::mark_read,
        attention::notification_settings,
        attention::set_every_message_unfocused,
        attention::set_team_muted,
        attention::notify,
        attention::set_unread_total,
        projects::projects,
        projects::create_project,
        projects::patch_project,
        projects::project_document,
        projects::tasks,
        projects::create_task,
        projects::patch_task,
        projects::delete_task,
        projects::project_history,
        documents::documents,
        documents::create_document,
        documents::rename_document,
        documents::delete_document,
        documents::deleted_documents,
        documents::restore_document,
        documents::open_document,
        documents::close_document,
        documents::document_preview,
        documents::document_saved,
        documents::set_cursor,
        documents::document_history,
        documents::document_at,
        documents::connect_window,
        documents::window_frame,
        export::export_document,
        links::open_link,
        links::take_opened_link,
        integrations::integrations,
        integrations::create_integration,
        integrations::rotate_integration,
        integrations::delete_integration,
        integrations::integration_failures,
        search::search,
        crate::quit::quit,
    ]
}
