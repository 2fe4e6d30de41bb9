//! The pages behind the links the relay hands out (`/invite/{token}`, `/reset-password/{token}`): a
//! person who opens one in a browser is told what to do with it in the app, where it works, and an
//! invitation's page opens the app with it ("Open in TeamFlow", `teamflow://open?link=…`).
//!
//! Plain HTML with no script, no outside resource and a policy that allows none; never cached or framed,
//! and no referrer leaves it (the token is in its address). An invitation's page says who invited whom to
//! what, read like the app's preview, so the lookup sits behind the per-address limit of the public API.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use html_escape::{encode_double_quoted_attribute, encode_text};
use teamflow_protocol::api::invitations::open_in_app;

use super::AppState;
use crate::error::ApiError;
use crate::invitations;

pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/invite/{token}", get(invitation))
        .route("/reset-password/{token}", get(reset))
        .layer(state.limits.auth_layer())
}

/// An invitation link opened in a browser: what it offers and how to take it, or why it no longer works.
async fn invitation(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match invitations::preview(&state.db, &token).await {
        Ok(preview) => {
            let link = invitations::url(&state.public_url, &token);
            page(
                StatusCode::OK,
                "You are invited to a TeamFlow team",
                &format!(
                    "<p><strong>{inviter}</strong> invited you to <strong>{team}</strong> as {role}.</p>\
                     {open}\
                     <p>Or open the TeamFlow app, then:</p>\
                     <ul><li>new to TeamFlow: choose <em>Create account</em> and paste this link there;</li>\
                     <li>already signed in: paste it into <em>Join with a link</em>.</li></ul>\
                     <p class=\"link\">{link}</p>\
                     <p class=\"small\">The link works once, until {expires} (UTC).</p>",
                    inviter = encode_text(&preview.inviter_name),
                    team = encode_text(&preview.team_name),
                    role = preview.role.as_str(),
                    open = open_button(&link),
                    link = encode_text(&link),
                    expires =
                        preview.expires_at.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
                ),
            )
        }
        Err(ApiError::NotFound(_) | ApiError::Gone(_)) => page(
            StatusCode::NOT_FOUND,
            "This invitation no longer works",
            "<p>It was used, revoked or has expired, or the link is incomplete. Ask whoever invited you for a \
             new one.</p>",
        ),
        Err(error) => {
            tracing::error!(%error, "an invitation's page could not be made");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment",
                "<p>The relay could not read this invitation just now.</p>",
            )
        }
    }
}

/// A password reset link opened in a browser: the reset is done in the app. Says nothing of whether the
/// token is good (only the reset itself checks it, once). No "Open in TeamFlow" here: a link the app is
/// started with stays in its command line, which other accounts on the machine can read while it runs, and a
/// reset token is worth more than an invitation (the account, not a seat in one team).
async fn reset(Path(_token): Path<String>) -> Response {
    page(
        StatusCode::OK,
        "Reset your TeamFlow password",
        "<p>Open the TeamFlow app, choose <em>Forgot your password?</em> on the sign-in screen, and paste this \
         page's address (from the address bar) into <em>Reset link</em>.</p>\
         <p class=\"small\">The link works once, within an hour of being made.</p>",
    )
}

/// "Open in TeamFlow": the desktop app, where it is installed, opens with `link` filled in (deep_links.rs
/// in src-tauri); the person still reads it there and presses the button.
fn open_button(link: &str) -> String {
    format!(
        "<p><a class=\"open\" href=\"{href}\">Open in TeamFlow</a></p>",
        href = encode_double_quoted_attribute(&open_in_app(link))
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2127}\
main{max-width:34rem;margin:10vh auto;padding:2rem;background:#fff;border:1px solid #e1e4e8;border-radius:12px}\
h1{font-size:1.5rem;margin-top:0}.open{display:inline-block;padding:.6rem 1.1rem;border-radius:8px;\
background:#4f46e5;color:#fff;text-decoration:none;font-weight:600}\
.link{font:13px ui-monospace,monospace;word-break:break-all;padding:.5rem;\
background:#f6f7f9;border-radius:6px}.small{font-size:13px;color:#5b6470}\
@media (prefers-color-scheme:dark){body{background:#1e2024;color:#e6e8eb}main{background:#16181c;\
border-color:#2c3036}.link{background:#1e2024}.small{color:#9aa1ab}}";
