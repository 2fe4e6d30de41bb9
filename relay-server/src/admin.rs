//! `teamflow-relay admin ...`: the relay administrator's commands, run on the relay's own data directory
//! while it serves (SQLite in WAL mode takes the second process; writes queue on its lock).
//!
//! A disable reaches the running relay through `account_changes` (see `sessions`): the command revokes the
//! account's sign-ins and appends one row per sign-in in the same transaction, and the relay, which reads
//! that table every 250 ms, closes their live connections and refuses their access tokens. Links are printed
//! for the administrator to pass on: the relay has no mail server.

use std::io::Write;
use std::path::PathBuf;

use teamflow_protocol::{Role, TeamId};

use crate::db::{self, DATABASE_FILE, Db};
use crate::error::ApiError;
use crate::{accounts, auth, invitations};

/// Where the relay's data is, and the address people reach it at (for the links printed).
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// The relay's data directory.
    #[arg(long, env = "TEAMFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The URL people reach the relay at, as the relay's `--public-url`.
    #[arg(long, env = "TEAMFLOW_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    /// The relay's PostgreSQL database, as its `--database-url`; without it, the SQLite in `--data-dir`.
    #[arg(long, env = "TEAMFLOW_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

/// The administrator's commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Admin {
    /// List the accounts: email, name, administrator, disabled.
    Users {
        #[command(flatten)]
        target: Target,
    },
    /// Disable an account: it cannot sign in, and its sessions and live connections end within a second.
    Disable {
        email: String,
        #[command(flatten)]
        target: Target,
    },
    /// Enable a disabled account again.
    Enable {
        email: String,
        #[command(flatten)]
        target: Target,
    },
    /// Print a one-time link (valid one hour) that sets a new password for the account.
    ResetPassword {
        email: String,
        #[command(flatten)]
        target: Target,
    },
    /// Print an invitation link to a team (valid a week, single use): how a team gets its people without
    /// the app.
    Invite {
        #[arg(long)]
        team: TeamId,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        target: Target,
    },
    /// Add a new key for signing access tokens; every instance signs with it within a minute. Tokens signed
    /// with the older keys keep working until they expire, so nobody is signed out.
    RotateSigningKey {
        /// Also stop accepting every older key for access tokens now (for a key that leaked): everyone signed
        /// in refreshes. The oldest key stays the relay's identity (device certificates, invitation links):
        /// a leak of that key is not undone by this.
        #[arg(long)]
        retire_others: bool,
        #[command(flatten)]
        target: Target,
    },
}

fn parse_role(input: &str) -> Result<Role, String> {
    Role::parse(input).ok_or_else(|| "one of owner, admin, member, viewer".to_owned())
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0} is not a relay's data directory (no {DATABASE_FILE}); pass --data-dir")]
    NoDatabase(PathBuf),
    #[error("the database at {0} is not migrated to this version; start the relay on it first")]
    Schema(PathBuf),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("signing key: {0}")]
    Keys(#[from] auth::KeyError),
    #[error("{0}")]
    Refused(String),
    #[error("writing the answer: {0}")]
    Output(#[from] std::io::Error),
}

impl From<ApiError> for AdminError {
    fn from(error: ApiError) -> Self {
        match error {
            ApiError::Database(e) => AdminError::Database(e),
            other => AdminError::Refused(other.to_string()),
        }
    }
}

impl Admin {
    /// Runs the command, writing its answer to `out`.
    pub async fn run(self, out: &mut impl Write) -> Result<(), AdminError> {
        match self {
            Admin::Users { target } => {
                let db = open(&target).await?;
                let rows: Vec<(String, String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT email, display_name, is_admin, disabled_at FROM users WHERE deleted_at IS NULL
                     ORDER BY created_at",
                )
                .fetch_all(db.pool())
                .await?;
                for (email, name, admin, disabled) in rows {
                    let flags = [(admin != 0).then_some("administrator"), disabled.map(|_| "disabled")];
                    let flags: Vec<&str> = flags.into_iter().flatten().collect();
                    writeln!(out, "{email}\t{name}\t{}", flags.join(","))?;
                }
            }
            Admin::Disable { email, target } => {
                let db = open(&target).await?;
                let ended = accounts::set_disabled(&db, &email, true).await?;
                writeln!(out, "disabled {email}; {ended} session(s) ended")?;
            }
            Admin::Enable { email, target } => {
                let db = open(&target).await?;
                accounts::set_disabled(&db, &email, false).await?;
                writeln!(out, "enabled {email}")?;
            }
            Admin::ResetPassword { email, target } => {
                let db = open(&target).await?;
                let token = accounts::create_reset(&db, &email).await?;
                let base = target.public_url.trim_end_matches('/');
                writeln!(out, "{base}/reset-password/{token}")?;
                writeln!(
                    out,
                    "valid for one hour, once: POST /api/auth/reset-password {{\"token\": \"{token}\", ...}}"
                )?;
            }
            Admin::Invite { team, role, target } => {
                let db = open(&target).await?;
                let file_key = match target.database_url {
                    None => Some(auth::SigningKeys::load_or_create(&target.data_dir)?),
                    Some(_) => None,
                };
                let keys = auth::identity_key(&db, file_key).await?;
                let secret = invitations::Secret::from_keys(&keys);
                let base = target.public_url.trim_end_matches('/');
                let invitation = invitations::create_as_administrator(&db, &secret, base, team, role).await?;
                writeln!(out, "{}", invitation.url.unwrap_or_default())?;
            }
            Admin::RotateSigningKey { retire_others, target } => {
                let db = open(&target).await?;
                let kid = auth::rotate(&db, retire_others).await?;
                let older = if retire_others {
                    "older keys are no longer accepted"
                } else {
                    "older keys verify the tokens they signed until those expire"
                };
                writeln!(out, "new signing key {kid}; {older}")?;
            }
        }
        Ok(())
    }
}

/// Opens the running relay's database (its SQLite file, or `--database-url`), never creating one.
async fn open(target: &Target) -> Result<Db, AdminError> {
    let (db, at) = match &target.database_url {
        Some(url) => (Db::postgres(url).await?, PathBuf::from("--database-url")),
        None => {
            let path = target.data_dir.join(DATABASE_FILE);
            if !path.is_file() {
                return Err(AdminError::NoDatabase(target.data_dir.clone()));
            }
            (Db::sqlite(&path).await?, path)
        }
    };
    if !db::migrations_applied(&db).await? {
        return Err(AdminError::Schema(at));
    }
    Ok(db)
}
