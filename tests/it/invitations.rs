//! Who may join: the registration policy, invitations (created, previewed, used once, revoked, expired,
//! bound to an email, never above the inviter's role), acceptance and decline, the 202 flow of adding a
//! member, and emails normalised once.

use reqwest::StatusCode;
use serde_json::{Value, json};
use teamflow_protocol::api::invitations::open_in_app;
use teamflow_relay::config::Registration;
use teamflow_tests::socket::RoomSocket;
use teamflow_tests::{Client, DataDir, PASSWORD, TestRelay, assert_error, test_config};

/// A relay with the binary's default policy: sign-up by invitation after the first account.
async fn invite_only() -> TestRelay {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.registration = Registration::Invite;
    TestRelay::start_with(dir, config).await
}

async fn register(relay: &TestRelay, email: &str, invitation: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({ "email": email, "password": PASSWORD, "display_name": email });
    if let Some(token) = invitation {
        body["invitation"] = json!(token);
    }
    relay.client().post("/api/auth/register", &body).await
}

fn signed_in(relay: &TestRelay, answer: &Value) -> Client {
    relay.client().with_token(answer["access_token"].as_str())
}

async fn invite(client: &Client, team: &str, body: Value) -> Value {
    let (status, invitation) = client.post(&format!("/api/teams/{team}/invitations"), &body).await;
    assert_eq!(status, StatusCode::CREATED, "{invitation}");
    invitation
}

fn token(invitation: &Value) -> &str {
    invitation["token"].as_str().expect("token")
}

async fn team_ids(client: &Client) -> Vec<String> {
    let (_, me) = client.get("/api/me").await;
    me["teams"].as_array().expect("teams").iter().map(|t| t["id"].as_str().expect("id").to_owned()).collect()
}

#[tokio::test]
async fn the_first_account_may_sign_up_then_only_with_an_invitation() {
    let relay = invite_only().await;
    let (status, owner) = register(&relay, "owner@example.test", None).await;
    assert_eq!(status, StatusCode::CREATED, "the first account: {owner}");
    let owner = signed_in(&relay, &owner);
    let (status, body) = register(&relay, "stranger@example.test", None).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "registration_closed");
    let (status, body) = register(&relay, "stranger@example.test", Some("not-a-real-invitation")).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "registration_closed");

    let team = owner.create_team("Crew").await;
    let invitation = invite(&owner, &team, json!({ "role": "member" })).await;
    assert_eq!(invitation["url"], format!("{}/invite/{}", relay.url(""), token(&invitation)));
    assert!(token(&invitation).len() >= 43, "a long token");
    let link = invitation["url"].as_str().expect("url");
    let (status, newcomer) = register(&relay, "newcomer@example.test", Some(link)).await;
    assert_eq!(status, StatusCode::CREATED, "a link works as well as a token: {newcomer}");
    let newcomer = signed_in(&relay, &newcomer);
    assert_eq!(team_ids(&newcomer).await, [team.as_str()]);
    let (_, members) = owner.get(&format!("/api/teams/{team}/members")).await;
    assert_eq!(members.as_array().expect("members").len(), 2);

    // Used once: the same invitation neither signs up another account nor previews.
    let (status, body) = register(&relay, "second@example.test", Some(token(&invitation))).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "registration_closed");
    let (status, body) = relay.client().get(&format!("/api/invitations/{}", token(&invitation))).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn an_open_relay_lets_anyone_sign_up() {
    let relay = TestRelay::start().await;
    for name in ["a", "b", "c"] {
        assert_eq!(register(&relay, &format!("{name}@example.test"), None).await.0, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn previews_answer_the_same_for_unknown_used_revoked_and_expired() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let team = owner.create_team("Crew").await;
    let live = invite(&owner, &team, json!({ "role": "viewer", "expires_in_hours": 2 })).await;
    let (status, preview) = relay.client().get(&format!("/api/invitations/{}", token(&live))).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!((preview["team_name"].as_str(), preview["role"].as_str()), (Some("Crew"), Some("viewer")));
    assert_eq!(preview["inviter_name"], "owner");
    assert_eq!(preview["expires_at"], live["expires_at"]);

    let revoked = invite(&owner, &team, json!({ "role": "member" })).await;
    let id = revoked["id"].as_str().expect("id");
    let (_, pending) = owner.get(&format!("/api/teams/{team}/invitations")).await;
    let listed: Vec<&str> = pending.as_array().expect("list").iter().map(|i| i["id"].as_str().expect("id")).collect();
    assert_eq!(listed, [live["id"].as_str().expect("id"), id]);
    assert!(pending[0].get("token").is_none(), "lists never show tokens: {pending}");
    assert_eq!(owner.delete(&format!("/api/teams/{team}/invitations/{id}")).await.0, StatusCode::NO_CONTENT);
    let (status, body) = owner.delete(&format!("/api/teams/{team}/invitations/{id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    let expired = invite(&owner, &team, json!({ "role": "member" })).await;
    let db = relay.db().await;
    sqlx::query("UPDATE invitations SET expires_at = 0 WHERE id = $1")
        .bind(expired["id"].as_str().expect("id"))
        .execute(db.pool())
        .await
        .expect("expire it");

    let used = invite(&owner, &team, json!({ "role": "member" })).await;
    let joiner = relay.user("joiner").await;
    let path = format!("/api/invitations/{}/accept", token(&used));
    assert_eq!(joiner.post(&path, &json!({})).await.0, StatusCode::OK);

    let mut answers = Vec::new();
    for gone in ["no-such-token", token(&revoked), token(&expired), token(&used)] {
        let (status, body) = relay.client().get(&format!("/api/invitations/{gone}")).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
        answers.push(body);
        let (status, _) = relay
            .user(&format!("u{}", answers.len()))
            .await
            .post(&format!("/api/invitations/{gone}/accept"), &json!({}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "one answer for all four: {answers:?}");
}

#[tokio::test]
async fn nobody_invites_above_their_role_and_members_do_not_invite() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let admin = relay.user("admin").await;
    let member = relay.user("member").await;
    let team = owner.create_team("Crew").await;
    owner.add_member(&team, "admin@example.test", "admin").await;
    owner.add_member(&team, "member@example.test", "member").await;
    let path = format!("/api/teams/{team}/invitations");
    let (status, body) = admin.post(&path, &json!({ "role": "owner" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(admin.post(&path, &json!({ "role": "admin" })).await.0, StatusCode::CREATED);
    let (status, body) = member.post(&path, &json!({ "role": "viewer" })).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = member.get(&path).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = admin.invite_member(&team, "outsider@example.test", "owner").await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = owner.post(&path, &json!({ "role": "member", "expires_in_hours": 0 })).await;
    assert_error(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed");
}

#[tokio::test]
async fn an_invitation_bound_to_an_email_works_only_for_that_account() {
    let relay = invite_only().await;
    let (_, owner) = register(&relay, "owner@example.test", None).await;
    let owner = signed_in(&relay, &owner);
    let team = owner.create_team("Crew").await;
    let bound = invite(&owner, &team, json!({ "role": "member", "email": "  Carol@Example.TEST " })).await;
    assert_eq!(bound["email"], "carol@example.test", "stored normalised");
    let (status, body) = register(&relay, "mallory@example.test", Some(token(&bound))).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "registration_closed");
    let (status, carol) = register(&relay, "CAROL@example.test", Some(token(&bound))).await;
    assert_eq!(status, StatusCode::CREATED, "{carol}");
    assert_eq!(team_ids(&signed_in(&relay, &carol)).await, [team.as_str()]);

    // Accepting, too, is for the bound account alone.
    let (_, dave) =
        register(&relay, "dave@example.test", Some(token(&invite(&owner, &team, json!({ "role": "viewer" })).await)))
            .await;
    let dave = signed_in(&relay, &dave);
    let second_team = owner.create_team("Other").await;
    let for_carol = invite(&owner, &second_team, json!({ "role": "member", "email": "carol@example.test" })).await;
    let (status, body) = dave.post(&format!("/api/invitations/{}/accept", token(&for_carol)), &json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(team_ids(&dave).await, [team]);
}

#[tokio::test]
async fn adding_a_member_invites_them_and_they_join_only_by_accepting() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let bob = relay.user("bob").await;
    let team = owner.create_team("Crew").await;
    let mut room = RoomSocket::connect(&relay.url(""), owner.token.as_deref().expect("token")).await;
    room.join(&team).await;

    let (status, created) = owner.invite_member(&team, "Bob@Example.TEST", "member").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{created}");
    let invitation = &created["invitation"];
    assert_eq!(invitation["email"], "bob@example.test");
    let (status, body) = owner.invite_member(&team, "nobody@example.test", "member").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");

    // Not a member yet: not listed, no event, no access.
    let (_, members) = owner.get(&format!("/api/teams/{team}/members")).await;
    assert_eq!(members.as_array().expect("members").len(), 1);
    assert!(room.drain(1).await.iter().all(|f| f["type"] != "member_changed"), "no membership event before consent");
    let (status, _) = bob.get(&format!("/api/teams/{team}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bob sees it waiting, with what it offers.
    let (_, me) = bob.get("/api/me").await;
    let pending = &me["invitations"][0];
    assert_eq!(me["invitations"].as_array().expect("invitations").len(), 1, "{me}");
    assert_eq!((pending["team_name"].as_str(), pending["role"].as_str()), (Some("Crew"), Some("member")));
    assert_eq!(pending["inviter_name"], "owner");
    assert_eq!(pending["id"], invitation["id"]);
    assert_eq!(pending["token"], invitation["token"]);

    let token = pending["token"].as_str().expect("token");
    let (status, joined) = bob.post(&format!("/api/invitations/{token}/accept"), &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!((joined["id"].as_str(), joined["role"].as_str()), (Some(team.as_str()), Some("member")));
    let changed = room.next_of("member_changed").await;
    assert_eq!(changed["user_id"], bob.user_id().await.as_str());
    assert_eq!(changed["role"], "member");
    let (_, members) = owner.get(&format!("/api/teams/{team}/members")).await;
    assert_eq!(members.as_array().expect("members").len(), 2);
    let (_, me) = bob.get("/api/me").await;
    assert_eq!(me["invitations"], json!([]));
    let (status, body) = owner.invite_member(&team, "bob@example.test", "member").await;
    assert_error(status, &body, StatusCode::CONFLICT, "conflict");
}

#[tokio::test]
async fn a_declined_invitation_is_dropped() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let bob = relay.user("bob").await;
    let team = owner.create_team("Crew").await;
    let (_, created) = owner.invite_member(&team, "bob@example.test", "member").await;
    let token = created["invitation"]["token"].as_str().expect("token");
    assert_eq!(bob.post(&format!("/api/invitations/{token}/decline"), &json!({})).await.0, StatusCode::NO_CONTENT);
    let (_, me) = bob.get("/api/me").await;
    assert_eq!(me["invitations"], json!([]));
    let (status, body) = bob.post(&format!("/api/invitations/{token}/accept"), &json!({})).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (_, pending) = owner.get(&format!("/api/teams/{team}/invitations")).await;
    assert_eq!(pending, json!([]));
    assert!(team_ids(&bob).await.is_empty());
}

#[tokio::test]
async fn emails_are_one_account_whatever_their_case_width_or_spaces_and_look_alikes_stay_apart() {
    let relay = TestRelay::start().await;
    assert_eq!(register(&relay, "bob@example.com", None).await.0, StatusCode::CREATED);
    for same in ["Bob@Example.COM", "  bob@example.com ", "ｂｏｂ@ｅｘａｍｐｌｅ.ｃｏｍ"] {
        let (status, body) = register(&relay, same, None).await;
        assert_error(status, &body, StatusCode::CONFLICT, "conflict");
        let (status, body) =
            relay.client().post("/api/auth/login", &json!({ "email": same, "password": PASSWORD })).await;
        assert_eq!(status, StatusCode::OK, "{same:?} signs in to the one account: {body}");
        assert_eq!(body["user"]["email"], "bob@example.com");
    }
    // Cyrillic о, Cyrillic а, ß: other mailboxes, so other accounts.
    for other in ["b\u{043e}b@example.com", "bob@ex\u{0430}mple.com", "boß@example.com"] {
        let (status, body) = register(&relay, other, None).await;
        assert_eq!(status, StatusCode::CREATED, "{other:?}: {body}");
        assert_ne!(body["user"]["email"], "bob@example.com");
    }
}

/// The desktop's sign-up form previews a pasted link with `teamflow_node::preview_invitation`: straight from
/// the link's relay, with no node (and no local store) for it; an invitation used since reads as not found.
#[tokio::test]
async fn a_link_is_previewed_without_a_node_for_its_relay() {
    let relay = invite_only().await;
    let (_, owner) = register(&relay, "owner@example.test", None).await;
    let owner = signed_in(&relay, &owner);
    let team = owner.create_team("Studio").await;
    let invitation = invite(&owner, &team, json!({ "role": "viewer" })).await;
    let link = invitation["url"].as_str().expect("url");

    let offer = teamflow_node::preview_invitation(&relay.url(""), link).await.expect("preview");
    assert_eq!((offer.team_name.as_str(), offer.role), ("Studio", teamflow_protocol::Role::Viewer));
    assert_eq!(offer.inviter_name, "owner@example.test");

    assert_eq!(register(&relay, "bob@example.test", Some(token(&invitation))).await.0, StatusCode::CREATED);
    let gone = teamflow_node::preview_invitation(&relay.url(""), link).await;
    assert!(
        matches!(&gone, Err(teamflow_node::NodeError::Api(teamflow_node::ApiFailure::Refused { status: 404, code, .. })) if code == "not_found"),
        "{gone:?}"
    );
}

/// No access outlives its right: an invitation is only as good as its inviter's standing. Once the admin who
/// made one is demoted (or removed), it no longer previews, signs anyone up or is listed as pending; the
/// owner's own invitations are untouched.
#[tokio::test]
async fn an_invitation_ends_with_its_inviters_right_to_give_it() {
    let relay = invite_only().await;
    let (_, owner) = register(&relay, "owner@example.test", None).await;
    let owner = signed_in(&relay, &owner);
    let team = owner.create_team("Crew").await;
    let made_admin = invite(&owner, &team, json!({ "role": "admin" })).await;
    let (status, admin) = register(&relay, "admin@example.test", Some(token(&made_admin))).await;
    assert_eq!(status, StatusCode::CREATED, "{admin}");
    let admin_id = admin["user"]["id"].as_str().expect("id").to_owned();
    let admin = signed_in(&relay, &admin);
    let by_admin = invite(&admin, &team, json!({ "role": "member" })).await;
    let by_owner = invite(&owner, &team, json!({ "role": "member" })).await;
    let preview = |invitation: &Value| format!("/api/invitations/{}", token(invitation));
    assert_eq!(relay.client().get(&preview(&by_admin)).await.0, StatusCode::OK, "good while its inviter is an admin");

    let (status, body) =
        owner.patch(&format!("/api/teams/{team}/members/{admin_id}"), &json!({ "role": "member" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = relay.client().get(&preview(&by_admin)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = register(&relay, "late@example.test", Some(token(&by_admin))).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "registration_closed");
    let (_, listed) = owner.get(&format!("/api/teams/{team}/invitations")).await;
    let ids: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, [by_owner["id"].as_str().expect("id")], "only the owner's is still pending");

    let (status, body) = register(&relay, "welcome@example.test", Some(token(&by_owner))).await;
    assert_eq!(status, StatusCode::CREATED, "the owner's still works: {body}");

    // Made admin again: the old link stays dead (it was revoked with the demotion, not only hidden).
    let (status, body) =
        owner.patch(&format!("/api/teams/{team}/members/{admin_id}"), &json!({ "role": "admin" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = relay.client().get(&preview(&by_admin)).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
}

/// An invitation or reset link opened in a browser is a page saying what to do in the app: the invitation's
/// names escaped, nothing scripted, cached, framed or referred; one that no longer works says so.
#[tokio::test]
async fn links_opened_in_a_browser_are_pages_that_say_what_to_do_in_the_app() {
    let relay = TestRelay::start().await;
    let owner = relay.user("owner").await;
    let team = owner.create_team("R&D <ops>").await;
    let live = invite(&owner, &team, json!({ "role": "member" })).await;
    let url = live["url"].as_str().expect("link");
    let browser = reqwest::Client::new();
    let open = async |url: &str| {
        let response = browser.get(url).send().await.expect("open");
        let headers = response.headers().clone();
        (response.status(), headers, response.text().await.expect("page"))
    };

    let (status, headers, page) = open(url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(headers["content-security-policy"].to_str().expect("csp").starts_with("default-src 'none'"));
    assert_eq!(
        (&headers["referrer-policy"], &headers["cache-control"]),
        (&"no-referrer".parse().expect("v"), &"no-store".parse().expect("v"))
    );
    assert!(
        page.contains("<strong>owner</strong> invited you to <strong>R&amp;D &lt;ops&gt;</strong> as member"),
        "{page}"
    );
    assert!(!page.contains("<ops>") && !page.contains("<script"), "{page}");
    assert!(page.contains("Join with a link") && page.contains(url), "{page}");
    // "Open in TeamFlow" opens the desktop app with the link filled in.
    let button = format!("<a class=\"open\" href=\"{}\">Open in TeamFlow</a>", open_in_app(url));
    assert!(page.contains(&button), "{page}");

    let id = live["id"].as_str().expect("id");
    assert_eq!(owner.delete(&format!("/api/teams/{team}/invitations/{id}")).await.0, StatusCode::NO_CONTENT);
    for gone in [url.to_owned(), relay.url("/invite/no-such-token")] {
        let (status, _, page) = open(&gone).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(page.contains("This invitation no longer works") && !page.contains("R&amp;D"), "{page}");
    }

    let (status, headers, page) = open(&relay.url("/reset-password/0123abcd")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(page.contains("Forgot your password?") && !page.contains("0123abcd"), "{page}");
    // A reset token would stay in the app's command line, readable by the machine's other accounts.
    let (_, _, page) = open(&relay.url("/reset-password/AbCdEfGhIjKlMnOpQrSt-_09")).await;
    assert!(!page.contains("teamflow://") && !page.contains("AbCdEfGhIjKlMnOpQrSt"), "{page}");
}
