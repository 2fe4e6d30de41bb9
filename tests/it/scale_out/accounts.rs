//! Accounts and sessions on PostgreSQL, shared by two relay instances (docs/scale-out.md, step 2): each
//! instance is the relay's own account code (`teamflow_relay::accounts`, `sessions`) on its own `Db`
//! handle, password hasher, token service (over the signing keys both share in the database) and
//! live-session registry, with its own follower of ended sessions; both on one PostgreSQL database.

use std::time::Duration;

use teamflow_protocol::api::auth::{AuthResponse, LoginRequest, RegisterRequest};
use teamflow_relay::accounts::{self, Sessions, SignUpPolicy};
use teamflow_relay::auth::{HASH_QUEUE_TIMEOUT, PasswordHasher, TokenService, identity_key};
use teamflow_relay::cluster::Cluster;
use teamflow_relay::config::Registration;
use teamflow_relay::db::Db;
use teamflow_relay::error::ApiError;
use teamflow_relay::events::Events;
use teamflow_relay::sessions::{self, LiveSessions};
use teamflow_relay::{access, rooms};
use teamflow_tests::services::Postgres;
use tokio_util::sync::CancellationToken;

const TOKEN_TTL: Duration = Duration::from_secs(900);

/// One relay instance's account machinery on `url`. Stops (its session follower and rooms hub) on drop.
struct Instance {
    db: Db,
    passwords: PasswordHasher,
    sessions: Sessions,
    events: Events,
    _stop: tokio_util::sync::DropGuard,
}

impl Instance {
    async fn start(url: &str, migrate: bool) -> Instance {
        let db = Db::postgres(url).await.expect("connect to PostgreSQL");
        if migrate {
            db.migrate().await.expect("migrate");
        }
        let keys = identity_key(&db, None).await.expect("the relay's identity key, made by the first instance");
        let tokens = TokenService::from_database(db.clone(), &keys, "http://instance.test".into(), TOKEN_TTL)
            .await
            .expect("the relay's token keys");
        let tokens = std::sync::Arc::new(tokens);
        let live = LiveSessions::new(TOKEN_TTL);
        let stop = CancellationToken::new();
        sessions::spawn_watch(db.clone(), live.clone(), stop.clone()).await.expect("follow ended sessions");
        let (rooms, _hub) = rooms::spawn_hub(stop.clone(), Cluster::disabled());
        let events = Events::new(access::Access::new(db.clone()), rooms, Cluster::disabled());
        Instance {
            passwords: PasswordHasher::new(2, HASH_QUEUE_TIMEOUT).expect("hasher"),
            sessions: Sessions { tokens, refresh_ttl: Duration::from_secs(86_400), live },
            events,
            db,
            _stop: stop.drop_guard(),
        }
    }

    async fn register(&self, email: &str, password: &str) -> Result<AuthResponse, ApiError> {
        let request = RegisterRequest {
            email: email.into(),
            password: password.into(),
            display_name: email.into(),
            invitation: None,
        };
        let policy = SignUpPolicy { registration: Registration::Open, events: &self.events };
        accounts::register(&self.db, &self.passwords, &self.sessions, policy, request).await
    }

    async fn login(&self, email: &str, password: &str) -> Result<AuthResponse, ApiError> {
        let request = LoginRequest { email: email.into(), password: password.into() };
        accounts::login(&self.db, &self.passwords, &self.sessions, request).await
    }

    async fn refresh(&self, token: &str) -> Result<AuthResponse, ApiError> {
        accounts::refresh(&self.db, &self.sessions, token).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_made_on_one_instance_signs_in_refreshes_and_is_signed_out_on_another_over_one_postgres() {
    let postgres = Postgres::start().await;
    let url = postgres.create_database().await;
    let a = Instance::start(&url, true).await;
    let b = Instance::start(&url, false).await;

    let made = a.register("ada@example.test", "correct horse battery").await.expect("register on A");
    assert!(
        matches!(b.register("ada@example.test", "another password!").await, Err(ApiError::Conflict(_))),
        "B sees the account A made: the email is taken"
    );

    // B signs the account in with the password A stored, and its token verifies on B.
    let on_b = b.login("ada@example.test", "correct horse battery").await.expect("sign in on B");
    assert_eq!(on_b.user, made.user, "the same account");
    let token = b.sessions.tokens.verify(&on_b.access_token).await.expect("B's token verifies on B");
    let on_a = a.sessions.tokens.verify(&on_b.access_token).await.expect("B's token verifies on A: shared keys");
    assert_eq!(on_a, token);
    let made_on_a = b.sessions.tokens.verify(&made.access_token).await.expect("A's token verifies on B");
    assert_eq!(made_on_a.user, made.user.id);
    let token = b.sessions.live.check(token).expect("the session is live on B");
    assert!(
        matches!(b.login("ada@example.test", "wrong password").await, Err(ApiError::Unauthorized(_))),
        "a wrong password is refused"
    );

    // A refresh token A handed out works on B (once), and A's sign-in continues from B's answer.
    let refreshed = b.refresh(&made.refresh_token).await;
    let refreshed = refreshed.expect("B takes A's refresh token");
    assert_ne!(refreshed.refresh_token, made.refresh_token);
    let again = a.refresh(&refreshed.refresh_token).await.expect("A takes the token B rotated to");
    assert_eq!(again.user, made.user);

    // Signing out everywhere on A ends B's sign-in on B: B's follower reads it from the shared database.
    let live_on_b = b.sessions.live.register(&token.session).expect("a live connection on B");
    accounts::logout_all(&a.db, &a.sessions, made.user.id).await.expect("sign out everywhere on A");
    let reason = tokio::time::timeout(Duration::from_secs(5), live_on_b.ended())
        .await
        .expect("B ends the session within 5 s of A ending it");
    assert!(!reason.is_empty());
    assert!(b.sessions.live.check(token).is_err(), "B refuses the ended session's token");
    assert!(
        matches!(b.refresh(&again.refresh_token).await, Err(ApiError::Unauthorized(_))),
        "the refresh token is dead on B too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_passwords_on_one_instance_make_the_other_wait_too() {
    let postgres = Postgres::start().await;
    let url = postgres.create_database().await;
    let a = Instance::start(&url, true).await;
    let b = Instance::start(&url, false).await;
    a.register("bob@example.test", "correct horse battery").await.expect("register on A");
    for _ in 0..accounts::FREE_FAILURES {
        assert!(matches!(a.login("bob@example.test", "wrong").await, Err(ApiError::Unauthorized(_))));
    }
    assert!(
        matches!(b.login("bob@example.test", "correct horse battery").await, Err(ApiError::Unauthorized(_))),
        "B makes the account wait after the failures A counted, even with the right password"
    );
}
