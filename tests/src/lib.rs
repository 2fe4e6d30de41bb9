//! Helpers for TeamFlow's end-to-end tests: a real relay on port 0 over a temporary data directory,
//! and a small JSON client that speaks its REST API.

pub mod netns;
pub mod services;
pub mod session_events;
pub mod socket;
pub mod tls;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use teamflow_relay::auth::{AccessClaims, TokenService};
use teamflow_relay::{Config, RelayError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a relay may take to serve: a guard against a hang, not a timing (parallel tests share two cores).
const READY_PATIENCE: Duration = Duration::from_secs(30);

/// A relay running in this process, serving the same `run` the binary calls.
#[derive(Debug)]
pub struct TestRelay {
    pub addr: SocketAddr,
    /// Always `Some` while the relay exists; taken by `stop`.
    data_dir: Option<DataDir>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), RelayError>>>,
    /// Set when the relay serves TLS: its clients then speak HTTPS and WSS, trusting what this says.
    tls: Option<RelayTls>,
    database_url: Option<String>,
}

/// How clients reach a relay serving TLS.
#[derive(Debug, Clone)]
pub struct RelayTls {
    /// The roots its certificate chains to; clients trust these and nothing else.
    pub roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The name clients dial and check the certificate against: `127.0.0.1`, or a DNS name resolved to the
    /// relay's loopback address (an ACME domain).
    pub host: String,
    /// The private CA made for the relay, when the test made one.
    pub ca: Option<Arc<tls::TestCa>>,
}

/// One answer to `GET url` (`/readyz`). The listener is bound before `run` starts, so the request waits in
/// its accept queue until the relay serves: no retry. The exception is a relay still getting its first
/// certificate from an ACME CA, which refuses handshakes until it has one and says nothing a test could
/// await when it does: that case retries, bounded by the caller's timeout.
async fn ready(client: &reqwest::Client, url: &str, acme: bool) -> reqwest::Result<reqwest::Response> {
    loop {
        match client.get(url).send().await {
            Err(e) if acme => {
                tracing::debug!(error = %e, "no ACME certificate yet");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            answer => return answer,
        }
    }
}

/// The database a test's relays run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestDatabase {
    /// The embedded SQLite in the data directory (the default).
    Sqlite,
    /// A PostgreSQL cluster the test starts for the data directory (`initdb` on a free loopback port), as a
    /// relay with `--database-url` runs.
    Postgres,
}

impl TestDatabase {
    /// `TEAMFLOW_TEST_DATABASE=postgres` runs every relay of the suite on PostgreSQL (`.ci/run`'s second
    /// pass); anything else, or nothing, on SQLite.
    pub fn from_env() -> Self {
        match std::env::var("TEAMFLOW_TEST_DATABASE").as_deref() {
            Ok("postgres") => TestDatabase::Postgres,
            _ => TestDatabase::Sqlite,
        }
    }
}

/// The data directory, and the relay's database when that is PostgreSQL: both outlive a relay so a test can
/// restart on them, and are removed when the last of their shares (`share`) is dropped.
#[derive(Debug)]
pub struct DataDir {
    dir: Arc<tempfile::TempDir>,
    database: TestDatabase,
    /// Started on the first relay's launch, stopped when the data directory is dropped.
    postgres: Arc<tokio::sync::OnceCell<(services::Postgres, String)>>,
}

impl DataDir {
    /// A fresh data directory on the suite's database (`TestDatabase::from_env`).
    pub fn new() -> Self {
        Self::on(TestDatabase::from_env())
    }

    /// A fresh data directory whose relay runs on SQLite whatever the suite's database: for tests about the
    /// SQLite file itself (backups, its permissions).
    pub fn sqlite() -> Self {
        Self::on(TestDatabase::Sqlite)
    }

    pub fn on(database: TestDatabase) -> Self {
        let dir = tempfile::tempdir().expect("create a temporary data directory");
        Self { dir: Arc::new(dir), database, postgres: Arc::default() }
    }

    /// The same directory and database, for a second relay instance on them: on SQLite they share its
    /// database file and signing key, on PostgreSQL the database.
    pub fn share(&self) -> Self {
        Self { dir: self.dir.clone(), database: self.database, postgres: self.postgres.clone() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn database(&self) -> TestDatabase {
        self.database
    }

    /// The relay's `--database-url`: `None` on SQLite; on PostgreSQL, a database on this directory's own
    /// cluster, started the first time this is asked.
    pub async fn database_url(&self) -> Option<String> {
        if self.database == TestDatabase::Sqlite {
            return None;
        }
        let (_, url) = self
            .postgres
            .get_or_init(|| async {
                let cluster = services::Postgres::start().await;
                let url = cluster.create_database().await;
                (cluster, url)
            })
            .await;
        Some(url.clone())
    }

    /// A handle on the relay's database, whichever it is, for a test to look into.
    pub async fn db(&self) -> teamflow_relay::db::Db {
        match self.database_url().await {
            Some(url) => teamflow_relay::db::Db::postgres(&url).await.expect("connect to the relay's PostgreSQL"),
            None => teamflow_relay::db::Db::sqlite(&self.path().join(teamflow_relay::db::DATABASE_FILE))
                .await
                .expect("open the relay's SQLite"),
        }
    }
}

impl Default for DataDir {
    fn default() -> Self {
        Self::new()
    }
}

/// The password `TestRelay::user` signs everyone up with.
pub const PASSWORD: &str = "correct horse battery";

/// Limits high enough that only tests about limits meet them, and open registration, so that only tests
/// about registration need invitations to sign people up.
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config::with_data_dir(data_dir);
    config.registration = teamflow_relay::config::Registration::Open;
    config.limits.rate_per_second = 100_000;
    config.limits.rate_burst = 100_000;
    config.limits.auth_rate_per_minute = 100_000;
    config.limits.auth_rate_burst = 100_000;
    // Parallel tests each run a relay: its libp2p node takes any free loopback port.
    config.p2p.listen = vec!["/ip4/127.0.0.1/tcp/0".to_owned()];
    config
}

impl TestRelay {
    /// A relay on a fresh data directory with test limits.
    pub async fn start() -> Self {
        let dir = DataDir::new();
        let config = test_config(dir.path());
        Self::start_with(dir, config).await
    }

    /// A relay on SQLite whatever the suite's database: for tests about the SQLite file (backups).
    pub async fn start_sqlite() -> Self {
        let dir = DataDir::sqlite();
        let config = test_config(dir.path());
        Self::start_with(dir, config).await
    }

    /// A relay on `data_dir` with `config` (whose `data_dir` is overridden to match).
    pub async fn start_with(data_dir: DataDir, config: Config) -> Self {
        Self::start_at(data_dir, config, "127.0.0.1:0".parse().expect("addr")).await
    }

    /// Like `start_with`, on a given address: a restart on the port clients already know.
    pub async fn start_at(data_dir: DataDir, config: Config, addr: SocketAddr) -> Self {
        Self::launch(data_dir, config, addr, None).await
    }

    /// Brings a stopped relay (`stop` gave its data directory) back on its old port, where clients expect
    /// it, with the test configuration.
    pub async fn start_again(data_dir: DataDir, addr: SocketAddr) -> Self {
        let config = test_config(data_dir.path());
        Self::start_at(data_dir, config, addr).await
    }

    /// A relay serving HTTPS and WSS with a certificate for the loopback addresses from a fresh private CA
    /// (`<data dir>/tls/cert.pem` and `key.pem`). Its `client()`s and sockets trust that CA.
    pub async fn start_tls() -> Self {
        let dir = DataDir::new();
        let config = test_config(dir.path());
        Self::start_tls_with(dir, config).await
    }

    /// Like `start_tls`, with `config` (its TLS settings are overridden).
    pub async fn start_tls_with(data_dir: DataDir, mut config: Config) -> Self {
        let ca = tls::TestCa::new("TeamFlow test CA");
        let (cert, key) = ca.issue_loopback("relay, first certificate", 1).write(&data_dir.path().join("tls"));
        config.tls.cert = Some(cert);
        config.tls.key = Some(key);
        let tls = RelayTls { roots: vec![ca.der()], host: "127.0.0.1".into(), ca: Some(Arc::new(ca)) };
        Self::start_with_tls(data_dir, config, tls).await
    }

    /// A relay whose `config` already says how it serves TLS (ACME, say); clients trust `tls`.
    pub async fn start_with_tls(data_dir: DataDir, config: Config, tls: RelayTls) -> Self {
        Self::launch(data_dir, config, "127.0.0.1:0".parse().expect("addr"), Some(tls)).await
    }

    async fn launch(data_dir: DataDir, mut config: Config, addr: SocketAddr, tls: Option<RelayTls>) -> Self {
        // As the relay binary does: ring for any rustls configuration built from the process default
        // (reqwest's clients without a configuration of their own, say).
        teamflow_relay::tls::install_default_provider();
        config.data_dir = data_dir.path().to_owned();
        if config.database_url.is_none() {
            config.database_url = data_dir.database_url().await;
        }
        let listener = bind(addr).await;
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let database_url = config.database_url.clone();
        let task = tokio::spawn(teamflow_relay::run(listener, config, async move {
            // A dropped sender also means stop.
            rx.await.ok();
        }));
        let mut relay =
            Self { addr, data_dir: Some(data_dir), shutdown: Some(tx), task: Some(task), tls, database_url };
        relay.wait_ready().await;
        relay
    }

    /// Another instance on this relay's data directory and database, with `config` (its `data_dir` is
    /// overridden).
    pub async fn start_beside(&self, config: Config) -> Self {
        Self::start_with(self.data_dir.as_ref().expect("a running relay has its data directory").share(), config).await
    }

    /// How clients reach this relay over TLS, if it serves TLS.
    pub fn tls(&self) -> Option<&RelayTls> {
        self.tls.as_ref()
    }

    /// The private CA a TLS relay's certificate chains to, when the test made one.
    pub fn ca(&self) -> Option<&tls::TestCa> {
        self.tls.as_ref().and_then(|t| t.ca.as_deref())
    }

    /// An HTTP client for this relay: trusting its roots (and only them) when it serves TLS.
    pub fn http(&self) -> reqwest::Client {
        let Some(tls) = &self.tls else { return reqwest::Client::new() };
        let mut builder = reqwest::Client::builder().tls_backend_preconfigured(tls::client_config(&tls.roots));
        if tls.host.parse::<std::net::IpAddr>().is_err() {
            builder = builder.resolve(&tls.host, self.addr);
        }
        builder.build().expect("HTTPS client")
    }

    /// What a WebSocket client needs to reach this relay: a connector trusting its roots when it serves TLS.
    pub fn ws_connector(&self) -> Option<tokio_tungstenite::Connector> {
        self.tls.as_ref().map(|tls| tls::wss_connector(&tls.roots))
    }

    /// `url(path)` with the WebSocket scheme.
    pub fn ws_url(&self, path: &str) -> String {
        let url = self.url(path);
        match url.strip_prefix("https://") {
            Some(rest) => format!("wss://{rest}"),
            None => url.replacen("http://", "ws://", 1),
        }
    }

    /// Waits for the relay's answer to one `/readyz`. The listener was bound before `run` started, so the
    /// request waits in its accept queue until the relay serves (after migrations): no retry needed. If
    /// `run` fails instead, it drops the listener, which ends the request, and its error says why.
    async fn wait_ready(&mut self) {
        let url = self.url("/readyz");
        let client = self.http();
        // A relay getting its first certificate from an ACME CA fails handshakes until it has one.
        let acme = self.tls.as_ref().is_some_and(|t| t.ca.is_none());
        let task = self.task.as_mut().expect("a starting relay has its task");
        let answer = tokio::time::timeout(READY_PATIENCE, async {
            tokio::select! {
                answer = ready(&client, &url, acme) => answer,
                ended = &mut *task => panic!("the relay stopped before serving: {ended:?}"),
            }
        })
        .await
        .unwrap_or_else(|_| panic!("relay at {} did not answer /readyz within {READY_PATIENCE:?}", self.addr));
        match answer {
            Ok(response) => assert_eq!(response.status(), StatusCode::OK, "relay at {} is not ready", self.addr),
            Err(e) => panic!("relay at {} refused /readyz ({e}): {:?}", self.addr, task.await),
        }
    }

    pub fn url(&self, path: &str) -> String {
        match &self.tls {
            None => format!("http://{}{path}", self.addr),
            Some(tls) if tls.host.parse::<std::net::IpAddr>().is_ok() => format!("https://{}{path}", self.addr),
            Some(tls) => format!("https://{}:{}{path}", tls.host, self.addr.port()),
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.as_ref().map(DataDir::path).expect("a running relay has its data directory")
    }

    /// Which database this relay runs on.
    pub fn database(&self) -> TestDatabase {
        self.data_dir.as_ref().map(DataDir::database).expect("a running relay has its data directory")
    }

    /// Its `--database-url`, when it runs on PostgreSQL.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_deref()
    }

    /// A handle on the relay's database, for a test to look into or change behind its back.
    pub async fn db(&self) -> teamflow_relay::db::Db {
        self.data_dir.as_ref().expect("a running relay has its data directory").db().await
    }

    /// Holds back the relay's writes of document chunks until the returned transaction ends (reads go
    /// on): SQLite's write lock, or on PostgreSQL an exclusive lock on `sync_chunks`. For tests of what a
    /// relay does, and does not say, before a write lands.
    pub async fn hold_document_writes(&self) -> sqlx::Transaction<'static, sqlx::Any> {
        let db = self.db().await;
        let mut lock = db.begin_write().await.expect("take the write lock");
        if db.backend() == teamflow_relay::db::backend::Backend::Postgres {
            sqlx::query("LOCK TABLE sync_chunks IN EXCLUSIVE MODE").execute(&mut *lock).await.expect("lock the chunks");
        }
        lock
    }

    /// An anonymous client.
    pub fn client(&self) -> Client {
        Client { http: self.http(), base: self.url(""), token: None }
    }

    /// Registers `name` (email `<name>@example.test`) and returns a client signed in as them.
    pub async fn user(&self, name: &str) -> Client {
        let (status, body) = self
            .client()
            .post(
                "/api/auth/register",
                &serde_json::json!({
                    "email": format!("{name}@example.test"),
                    "password": PASSWORD,
                    "display_name": name,
                }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {name}: {body}");
        let mut client = self.client();
        client.token = Some(body["access_token"].as_str().expect("access token").to_owned());
        client
    }

    /// Signs `claims` with the key this relay signs with (the newest in its database), to make tokens a
    /// client could not (expired, odd audience).
    pub async fn sign(&self, claims: &AccessClaims) -> String {
        let db = self.db().await;
        let newest = teamflow_relay::auth::token_keys(&db).await.expect("the relay's keys").pop().expect("a key");
        db.close().await;
        TokenService::new(&newest.key, "teamflow-relay".into(), Duration::from_secs(900)).sign(claims).expect("sign")
    }

    /// Stops gracefully and hands back the data directory, to restart on it.
    pub async fn stop(mut self) -> DataDir {
        self.shutdown_now().await;
        self.data_dir.take().expect("a running relay has its data directory")
    }

    async fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.expect("relay task panicked").expect("relay failed");
        }
    }
}

impl Drop for TestRelay {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
    }
}

/// A JSON client for the REST API, optionally signed in.
#[derive(Debug, Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
}

impl Client {
    pub fn with_token(&self, token: Option<&str>) -> Client {
        Client { token: token.map(str::to_owned), ..self.clone() }
    }

    /// Sends a request with an optional JSON body; answers the status and the JSON body (or `Null`).
    pub async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let response = self.request(method, path, body).await;
        let status = response.status();
        let text = response.text().await.expect("read body");
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("send request")
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, None).await
    }

    /// The signed-in user's id, from `/api/me`.
    pub async fn user_id(&self) -> String {
        let (status, me) = self.get("/api/me").await;
        assert_eq!(status, StatusCode::OK, "{me}");
        me["user"]["id"].as_str().expect("user id").to_owned()
    }

    /// Creates a team and answers its id.
    /// Asks the relay for a certificate for the device holding `key`, with its proof of possession (a
    /// signature over a fresh nonce); answers the relay's status and body.
    pub async fn certify(&self, key: &libp2p::identity::Keypair) -> (StatusCode, Value) {
        use base64::Engine as _;
        let user = self.user_id().await.parse().expect("user id");
        let peer_id = key.public().to_peer_id().to_base58();
        let (status, nonce) = self.post("/api/devices/nonce", &serde_json::json!({})).await;
        assert_eq!(status, StatusCode::OK, "{nonce}");
        let nonce = nonce["nonce"].as_str().expect("nonce").to_owned();
        let proof = key
            .sign(&teamflow_protocol::api::devices::possession_bytes(&nonce, user, &peer_id))
            .expect("an Ed25519 key signs");
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(proof);
        self.post(
            "/api/devices/certificate",
            &serde_json::json!({ "peer_id": peer_id, "nonce": nonce, "signature": signature }),
        )
        .await
    }

    pub async fn create_team(&self, name: &str) -> String {
        let (status, team) = self.post("/api/teams", &serde_json::json!({ "name": name })).await;
        assert_eq!(status, StatusCode::CREATED, "{team}");
        team["id"].as_str().expect("team id").to_owned()
    }

    /// Invites the user with `email` to `team` as `role` and accepts for them: they are signed in (a
    /// session of their own, with `PASSWORD`, as `TestRelay::user` signs everyone up) and take the invitation
    /// waiting in their `GET /api/me`.
    pub async fn add_member(&self, team: &str, email: &str, role: &str) {
        let (status, body) = self.invite_member(team, email, role).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let invitee = self.sign_in(email).await;
        let token = body["invitation"]["token"].as_str().expect("invitation token");
        let (status, joined) = invitee.post(&format!("/api/invitations/{token}/accept"), &serde_json::json!({})).await;
        assert_eq!(status, StatusCode::OK, "{joined}");
    }

    /// `POST /api/teams/{team}/members`: invites an existing account (202 with the invitation).
    pub async fn invite_member(&self, team: &str, email: &str, role: &str) -> (StatusCode, Value) {
        self.post(&format!("/api/teams/{team}/members"), &serde_json::json!({ "email": email, "role": role })).await
    }

    /// A new sign-in of `email` with `PASSWORD`, on the same relay.
    pub async fn sign_in(&self, email: &str) -> Client {
        let (status, body) = self
            .with_token(None)
            .post("/api/auth/login", &serde_json::json!({ "email": email, "password": PASSWORD }))
            .await;
        assert_eq!(status, StatusCode::OK, "sign in {email}: {body}");
        self.with_token(body["access_token"].as_str())
    }

    /// The session (`sid`) the access token belongs to.
    pub fn session_id(&self) -> String {
        use base64::Engine as _;
        let token = self.token.as_deref().expect("signed in");
        let payload = token.split('.').nth(1).expect("a JWT");
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url claims"),
        )
        .expect("JSON claims");
        claims["sid"].as_str().expect("sid").to_owned()
    }
}

/// Asserts an error response has the shared shape and the expected code.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected_status: StatusCode, code: &str) {
    assert_eq!(status, expected_status, "body: {body}");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "no message: {body}");
}

/// A syntactically valid automerge document URL for `n`.
pub fn document_url(n: u8) -> String {
    teamflow_protocol::DocumentUrl::from_bytes([n; 16]).to_string()
}

/// A document-sync client for `client`'s user, online with the relay.
pub async fn sync_client(relay: &TestRelay, client: &Client, device: &str) -> teamflow_sync::SyncClient {
    let user = client.user_id().await.parse().expect("user id");
    let token = client.token.clone().expect("signed in");
    let (_keep, token) = tokio::sync::watch::channel(token);
    let config = teamflow_sync::ClientConfig::new(relay.url(""), user, device);
    let mut sync = teamflow_sync::SyncClient::in_memory(config, token).await;
    sync.go_online().await.expect("online");
    sync
}

/// One unlabelled metric from the relay's `/metrics`.
pub async fn metric(relay: &TestRelay, name: &str) -> i64 {
    let text = reqwest::get(relay.url("/metrics")).await.expect("metrics").text().await.expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

/// Waits (up to [`socket::PATIENCE`]) until the document's text satisfies `done`; answers the text.
pub async fn text_when(handle: &teamflow_sync::samod::DocHandle, done: impl Fn(&str) -> bool) -> String {
    use futures::StreamExt;
    let mut changes = Box::pin(handle.changes());
    let deadline = tokio::time::Instant::now() + socket::PATIENCE;
    loop {
        let text = teamflow_sync::read_text(handle);
        if done(&text) {
            return text;
        }
        match tokio::time::timeout_at(deadline, changes.next()).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("document stopped; text was {text:?}"),
            Err(_) => panic!("document never reached the expected state; text is {text:?}"),
        }
    }
}

/// Binds a relay's listener on `addr`. Port 0 takes a port below the kernel's ephemeral range (32768 and
/// up on Linux) and never one this process handed out before: several tests restart a relay on the port
/// its clients know, and a port from the ephemeral range could meanwhile become an outgoing connection's
/// local port (a PostgreSQL pool's, say) or another service's `free_port`.
async fn bind(mut addr: SocketAddr) -> tokio::net::TcpListener {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const PORTS: u32 = 32_768 - LOW;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    if addr.port() != 0 {
        // A restart on a known port: the port should be free, but under load the suite has met it still
        // taken for a moment (AddrInUse); it is tried again for a while before failing with who holds it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(listener) => return listener,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    let holders = std::process::Command::new("ss")
                        .args(["-tanp", &format!("sport = :{}", addr.port())])
                        .output()
                        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                        .unwrap_or_default();
                    panic!("bind {addr}: {e}; sockets on the port:\n{holders}");
                }
            }
        }
    }
    // Processes of this suite running at once start far apart.
    let start = std::process::id().wrapping_mul(7919);
    for _ in 0..PORTS {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        addr.set_port(u16::try_from(LOW + start.wrapping_add(n) % PORTS).expect("below 32768"));
        if let Ok(listener) = tokio::net::TcpListener::bind(addr).await {
            return listener;
        }
    }
    panic!("no free port below the ephemeral range on {}", addr.ip())
}

/// A relay with a team ("Team") whose owner is alice and whose member is bob.
#[derive(Debug)]
pub struct TwoMemberTeam {
    pub relay: TestRelay,
    pub alice: Client,
    pub bob: Client,
    pub id: String,
}

impl TwoMemberTeam {
    pub async fn start() -> Self {
        Self::on(TestRelay::start().await).await
    }

    pub async fn on(relay: TestRelay) -> Self {
        let alice = relay.user("alice").await;
        let bob = relay.user("bob").await;
        let id = alice.create_team("Team").await;
        alice.add_member(&id, "bob@example.test", "member").await;
        Self { relay, alice, bob, id }
    }
}

/// Waits until a watched value satisfies `want` and answers it. The 30 s deadline only turns a broken
/// feature into a failure instead of a hang; `what` names the wait in that failure.
pub async fn watch_until<T: Clone + std::fmt::Debug>(
    value: &mut tokio::sync::watch::Receiver<T>,
    what: &str,
    want: impl FnMut(&T) -> bool,
) -> T {
    let outcome =
        tokio::time::timeout(Duration::from_secs(30), async { value.wait_for(want).await.map(|now| now.clone()) })
            .await;
    match outcome {
        Ok(Ok(now)) => now,
        Ok(Err(_)) => panic!("the sender went away while waiting for {what}"),
        Err(_) => panic!("timed out waiting for {what}: {:?}", *value.borrow()),
    }
}

/// Awaits `future`, failing the test (naming `what`) if it has not finished in 30 s: the deadline turns a
/// wait that would never end, such as a sync the relay refuses, into a failure instead of a hung suite.
pub async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A project named `name` with nothing else set, as a node creates one.
pub fn project_input(name: &str) -> teamflow_protocol::api::teams::ProjectInput {
    teamflow_protocol::api::teams::ProjectInput {
        name: name.into(),
        description: String::new(),
        status: None,
        document_id: None,
        owner_id: None,
        due_date: None,
        client_id: None,
    }
}

/// Two signed-up nodes on `relay`: alice, who owns a team ("Node"), and bob, a member of it.
pub async fn alice_and_bob(
    relay: &TestRelay,
) -> (DataDir, teamflow_node::Node, DataDir, teamflow_node::Node, teamflow_protocol::TeamId) {
    let (a_dir, b_dir) = (DataDir::new(), DataDir::new());
    let alice = teamflow_node::Node::open(a_dir.path(), &relay.url("")).await.expect("open node");
    let bob = teamflow_node::Node::open(b_dir.path(), &relay.url("")).await.expect("open node");
    alice.sign_up("alice@example.test", "correct horse", "Alice").await.expect("sign up");
    bob.sign_up("bob@example.test", "battery staple", "Bob").await.expect("sign up");
    let team = alice.create_team("Node").await.expect("team").id;
    join(&alice, team, &bob, "bob@example.test", teamflow_protocol::Role::Member).await;
    (a_dir, alice, b_dir, bob, team)
}

/// `inviter` invites the account with `email` (signed in on `invitee`) to `team` as `role`, and the invitee
/// accepts the invitation waiting in their pending list.
pub async fn join(
    inviter: &teamflow_node::Node,
    team: teamflow_protocol::TeamId,
    invitee: &teamflow_node::Node,
    email: &str,
    role: teamflow_protocol::Role,
) {
    let invitation = inviter.add_member(team, email, role).await.expect("invite");
    let pending = invitee.pending_invitations().await.expect("pending invitations");
    let waiting = pending.iter().find(|p| p.id == invitation.id).expect("the invitation waits for the invitee");
    invitee.accept_invitation(&waiting.token).await.expect("accept");
}
