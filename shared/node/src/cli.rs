//! `teamflow`, the command-line client over the node: for people who script their team, and for tests.
//! `main.rs` parses arguments and calls [`run`] with the real stdin and stdout.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use teamflow_protocol::mentions::plain_text;
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{DocumentUrl, Role, TeamId};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt, BufReader};

use crate::{CredentialStore, Node, NodeError};

/// TeamFlow from the command line: sign in, list teams, chat, edit documents.
#[derive(Debug, Parser)]
#[command(name = "teamflow", version, about)]
pub struct Cli {
    /// The relay to use (default: the one this device is signed in to, else http://127.0.0.1:8080).
    #[arg(long, env = "TEAMFLOW_RELAY", global = true)]
    pub relay: Option<String>,
    /// Where this device keeps its data (default: ~/.local/share/teamflow).
    #[arg(long, env = "TEAMFLOW_HOME", global = true)]
    pub data_dir: Option<PathBuf>,

    /// A CA to trust for the relay's certificate (a PEM file), besides the system's: for a relay with a
    /// private certificate. Certificate checks cannot be turned off.
    #[arg(long, env = "TEAMFLOW_CA_CERT", global = true)]
    pub ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an account and sign in (asks for the password twice).
    Signup {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// An invitation's link or token: needed on a relay that registers by invitation; you join its team.
        #[arg(long)]
        invitation: Option<String>,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Sign in (asks for the password).
    Login {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Sign out and forget this device's data.
    Logout,
    /// List your teams.
    Teams,
    /// Create a team.
    CreateTeam { name: String },
    /// Invite someone to a team (owners and admins) and print the invitation link to pass on. With
    /// `--email`, only that account can use it (and it waits in their `teamflow invitations`).
    Invite {
        #[arg(long)]
        team: TeamId,
        #[arg(long)]
        email: Option<String>,
        /// owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// List the invitations waiting for your answer.
    Invitations,
    /// Accept an invitation (its link or token): join its team.
    Accept { invitation: String },
    /// Decline an invitation (its link or token).
    Decline { invitation: String },
    /// Send a chat message (queued and sent later when the relay is unreachable).
    Send {
        #[arg(long)]
        team: TeamId,
        message: String,
    },
    /// Print the team's recent messages.
    Messages {
        #[arg(long)]
        team: TeamId,
    },
    /// Follow the team's chat as it happens: each new message, and each one edited, deleted or reacted to
    /// again (with its number; reactions, when it has some, after a tab as "👍 2 🎉 1").
    Tail {
        #[arg(long)]
        team: TeamId,
        /// Stop after this many lines (default: follow until interrupted).
        #[arg(long)]
        count: Option<usize>,
    },
    /// Write stdin into a document: a new one for `--team`, or replace the text of `--doc`. Offline, the
    /// change is kept on this device and goes to the relay the next time a command reaches it.
    Edit {
        #[arg(long, required_unless_present = "doc")]
        team: Option<TeamId>,
        #[arg(long)]
        doc: Option<DocumentUrl>,
        #[arg(long, default_value = "Untitled")]
        title: String,
    },
    /// List a team's documents: their links (for `show` and `edit --doc`) and titles.
    Documents {
        #[arg(long)]
        team: TeamId,
    },
    /// Print a document's text, a line per paragraph (offline: as this device last had it).
    Show {
        #[arg(long)]
        doc: DocumentUrl,
    },
    /// Signed in? Anything waiting to be sent?
    Status,
}

/// Where a password comes from. Never an argument: arguments show in `ps` and in shell history.
#[derive(Debug, clap::Args)]
pub struct PasswordSource {
    /// Read the password from the first line of stdin instead of asking for it on the terminal
    /// (for scripts: `cat secret | teamflow login --email ... --password-stdin`).
    #[arg(long)]
    pub password_stdin: bool,
}

impl PasswordSource {
    /// The password from stdin's first line, or asked for on the terminal without echo (twice when
    /// `confirm`, for a new one).
    async fn read(&self, input: impl AsyncRead + Unpin, confirm: bool) -> anyhow::Result<String> {
        let password = if self.password_stdin {
            let mut line = String::new();
            BufReader::new(input).read_line(&mut line).await.context("cannot read the password from stdin")?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        } else {
            tokio::task::spawn_blocking(move || ask(confirm)).await??
        };
        if password.is_empty() {
            bail!("the password is empty");
        }
        Ok(password)
    }
}

fn ask(confirm: bool) -> anyhow::Result<String> {
    let no_terminal = "cannot ask for the password (is there a terminal?); pipe it in with --password-stdin";
    let password = rpassword::prompt_password("Password: ").context(no_terminal)?;
    if confirm && rpassword::prompt_password("Repeat the password: ").context(no_terminal)? != password {
        bail!("the two passwords differ");
    }
    Ok(password)
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("no HOME; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".local/share/teamflow"))
}

/// Runs one command, reading `input` where a command takes stdin and writing results to `out`.
pub async fn run(cli: Cli, input: impl AsyncRead + Unpin, out: &mut (impl Write + Send)) -> anyhow::Result<()> {
    let dir = match cli.data_dir {
        Some(dir) => dir,
        None => default_data_dir()?,
    };
    let open = async |relay: &str| -> anyhow::Result<Node> {
        Ok(match &cli.ca_cert {
            Some(ca_cert) => Node::open_with_ca(&dir, relay, ca_cert).await?,
            None => Node::open(&dir, relay).await?,
        })
    };
    let mut node = open(cli.relay.as_deref().unwrap_or(DEFAULT_RELAY)).await?;
    // The relay this device is signed in to, unless another one was named: a script or a person need not
    // repeat `--relay` on every command.
    let kept = node.kept_relay().await?;
    if cli.relay.is_none()
        && let Some(kept) = kept.as_deref().filter(|kept| *kept != node.relay_url())
    {
        node.close().await;
        node = open(kept).await?;
    }
    let result = command(&node, cli.command, input, out).await;
    let relay = node.relay_url().to_owned();
    node.close().await;
    result.map_err(|e| match kept {
        Some(kept) if kept != relay && matches!(e.downcast_ref::<NodeError>(), Some(NodeError::SignedOut)) => {
            e.context(format!("this device is signed in to {kept}, not {relay}: pass --relay {kept}, or sign in here"))
        }
        _ => e,
    })
}

/// How long `show` and `edit` wait for a document to sync with the relay before going on with what the device
/// has: a relay that will not take it (the document deleted meanwhile, the team left) must not hang them.
const SYNC_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether `sync` (one of the node's waits on the relay) answered yes within `SYNC_PATIENCE`.
async fn patiently(sync: impl std::future::Future<Output = Result<bool, NodeError>>) -> bool {
    tokio::time::timeout(SYNC_PATIENCE, sync).await.is_ok_and(|answer| answer.is_ok_and(|yes| yes))
}

/// Whether the document is in sync with the relay both ways, within `SYNC_PATIENCE` each.
async fn settle(node: &Node, handle: &teamflow_sync::samod::DocHandle) -> bool {
    patiently(node.caught_up_with_relay(handle)).await && patiently(node.synced_with_relay(handle)).await
}

/// The relay a device that never signed in talks to: one on this machine.
const DEFAULT_RELAY: &str = "http://127.0.0.1:8080";

/// Goes online for a command that works offline too: unreachable (or a relay that refuses for now) is not
/// an error, it answers false and the command works on what this device holds.
async fn try_online(node: &Node) -> anyhow::Result<bool> {
    match node.go_online().await {
        Ok(()) => Ok(true),
        Err(NodeError::Api(failure)) if failure.is_transient() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn command(
    node: &Node,
    command: Command,
    mut input: impl AsyncRead + Unpin,
    out: &mut (impl Write + Send),
) -> anyhow::Result<()> {
    match command {
        Command::Signup { email, name, invitation, password } => {
            let password = password.read(input, true).await?;
            let user = match invitation {
                Some(invitation) => node.sign_up_with_invitation(&email, &password, &name, &invitation).await?,
                None => node.sign_up(&email, &password, &name).await?,
            };
            writeln!(out, "signed up as {} <{}> ({})", user.display_name, user.email, user.id)?;
        }
        Command::Login { email, password } => {
            let password = password.read(input, false).await?;
            let user = node.sign_in(&email, &password).await?;
            writeln!(out, "signed in as {} <{}>", user.display_name, user.email)?;
        }
        Command::Logout => {
            node.sign_out().await?;
            writeln!(out, "signed out")?;
        }
        Command::Teams => {
            for team in node.teams().await? {
                writeln!(out, "{}\t{}\t{}", team.id, team.role.as_str(), team.name)?;
            }
        }
        Command::CreateTeam { name } => {
            let team = node.create_team(&name).await?;
            writeln!(out, "{}", team.id)?;
        }
        Command::Invite { team, email, role } => {
            let role = Role::parse(&role).context("the role must be owner, admin, member or viewer")?;
            let invitation = node.invite(team, role, email.as_deref(), None).await?;
            writeln!(out, "{}", invitation.url.unwrap_or_default())?;
        }
        Command::Invitations => {
            for invitation in node.pending_invitations().await? {
                writeln!(
                    out,
                    "{}\t{}\t{}\tfrom {}",
                    invitation.token,
                    invitation.team_name,
                    invitation.role.as_str(),
                    invitation.inviter_name
                )?;
            }
        }
        Command::Accept { invitation } => {
            let team = node.accept_invitation(&invitation).await?;
            writeln!(out, "joined {} as {} ({})", team.name, team.role.as_str(), team.id)?;
        }
        Command::Decline { invitation } => {
            node.decline_invitation(&invitation).await?;
            writeln!(out, "declined")?;
        }
        Command::Send { team, message } => {
            node.send_message(team, &message).await?;
            let status = node.status().await?;
            if status.pending > 0 {
                writeln!(out, "queued: {} message(s) waiting for the relay", status.pending)?;
            } else {
                writeln!(out, "sent")?;
            }
        }
        Command::Messages { team } => {
            for message in node.messages(team).await? {
                writeln!(out, "{}", message_line(&message))?;
            }
        }
        Command::Tail { team, count } => {
            let mut frames = node.subscribe(team).await?;
            let mut seen = 0;
            while count.is_none_or(|n| seen < n) {
                match frames.recv().await {
                    Some(ServerMessage::NewMessage { message } | ServerMessage::MessageChanged { message }) => {
                        writeln!(out, "{}", message_line(&message))?;
                        out.flush()?;
                        seen += 1;
                    }
                    Some(ServerMessage::AccessRevoked { .. }) => bail!("you no longer have access to this team"),
                    Some(ServerMessage::Error { code, message, .. }) => bail!("{}: {message}", code.as_str()),
                    Some(_) => {}
                    None => bail!("the relay closed the connection"),
                }
            }
        }
        Command::Edit { team, doc, title } => {
            let mut text = String::new();
            input.read_to_string(&mut text).await?;
            let online = try_online(node).await?;
            let (url, handle) = match (doc, team) {
                (Some(url), _) => {
                    let handle = node.open_document(&url).await?.context("no such document, or not shared with you")?;
                    // What the relay has first, so the new text replaces the latest (within the patience).
                    if online {
                        patiently(node.caught_up_with_relay(&handle)).await;
                    }
                    let old = teamflow_sync::read_text(&handle).chars().count();
                    let author = node.user().await.map(|user| user.id.to_string());
                    teamflow_sync::splice_text_by(&handle, 0, isize::try_from(old)?, &text, author.as_deref())?;
                    (url, handle)
                }
                (None, Some(team)) => node.create_document(team, &title, &text).await?,
                (None, None) => bail!("say which document (--doc) or which team a new one is for (--team)"),
            };
            let sent = online && settle(node, &handle).await;
            writeln!(out, "{url}")?;
            if !sent {
                writeln!(
                    out,
                    "kept on this device: it goes to the relay when `show` or `edit` opens this document online"
                )?;
            }
        }
        Command::Documents { team } => {
            for document in node.documents(team).await? {
                writeln!(out, "{}\t{}", document.document_id, document.title)?;
            }
        }
        Command::Show { doc } => {
            let online = try_online(node).await?;
            let handle = node.open_document(&doc).await?.context("no such document, or not shared with you")?;
            // Both ways: what the relay has, and this device's edits made offline, which go now. A relay that
            // will not take them (the document deleted, the team left) does not keep the text from showing.
            let settled = online && settle(node, &handle).await;
            let text = teamflow_sync::rich::plain_text(&handle);
            write!(out, "{text}")?;
            if !text.is_empty() && !text.ends_with('\n') {
                writeln!(out)?;
            }
            if online && !settled {
                eprintln!("(as this device has it: the relay did not sync this document within {SYNC_PATIENCE:?})");
            }
        }
        Command::Status => {
            let status = node.status().await?;
            match node.user().await {
                Some(user) => writeln!(out, "signed in as {} <{}>", user.display_name, user.email)?,
                None => writeln!(out, "signed out")?,
            }
            writeln!(out, "pending: {}, failed: {}", status.pending, status.failed)?;
            if let Some(store) = status.credentials {
                writeln!(out, "credentials: {}", if store == CredentialStore::Keychain { "keychain" } else { "file" })?;
            }
        }
    }
    Ok(())
}

/// A chat message as the CLI prints it: its number, its author and its text as read (mentions by name),
/// marked when it was edited, or only said to be deleted.
fn message_line(message: &teamflow_protocol::api::messages::Message) -> String {
    let text = match (message.deleted, message.edited_at) {
        (true, _) => "(deleted)".to_owned(),
        (false, Some(_)) => format!("{} (edited)", plain_text(&message.content)),
        (false, None) => plain_text(&message.content),
    };
    let line = format!("{}\t{}\t{text}", message.seq, message.author_name);
    if message.reactions.is_empty() {
        return line;
    }
    let reactions: Vec<String> =
        message.reactions.iter().map(|r| format!("{} {}", r.emoji, r.user_ids.len())).collect();
    format!("{line}\t{}", reactions.join(" "))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;
    use teamflow_protocol::api::messages::{Message, Reaction};

    /// Every `teamflow` command README's command-line section shows (in its lines and its comments) is one
    /// the client takes, with the README's placeholders filled in.
    #[test]
    fn the_readmes_commands_are_the_clients_commands() {
        let readme = include_str!("../../../README.md");
        let section = readme.split("## The command-line client").nth(1).expect("the section");
        let block = section.split("```sh").nth(1).and_then(|rest| rest.split("```").next()).expect("its example");
        let doc = teamflow_protocol::DocumentUrl::from_bytes([7; 16]).to_string();
        let team = teamflow_protocol::TeamId::new().to_string();
        let mut commands = 0;
        for line in block.lines().filter(|line| !line.starts_with("alias ")) {
            for (at, _) in line.match_indices("teamflow ") {
                let rest = &line[at..];
                let end = rest.find(['#', '(', ')', '`']).unwrap_or(rest.len());
                let filled = rest[..end]
                    .replace("$TEAM", &team)
                    .replace("<link>", "https://relay.example.com/invite/token")
                    .replace("automerge:...", &doc);
                let mut words = Vec::new();
                for (i, part) in filled.split('"').enumerate() {
                    // Outside quotes: words; inside: one argument.
                    if i % 2 == 0 {
                        words.extend(part.split_whitespace().map(str::to_owned));
                    } else {
                        words.push(part.to_owned());
                    }
                }
                if let Err(e) = super::Cli::try_parse_from(&words) {
                    panic!("README's `{}` is not a command teamflow takes: {e}", rest[..end].trim());
                }
                commands += 1;
            }
        }
        assert!(commands >= 12, "the example was read: {commands} commands");
    }

    #[test]
    fn a_message_line_says_its_number_author_words_and_reactions() {
        let message: Message = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::now_v7(), "team_id": uuid::Uuid::now_v7(), "seq": 7, "author_id": uuid::Uuid::now_v7(),
            "author_name": "Ada", "client_id": "c7", "kind": "text", "content": "shipped",
            "created_at": "2026-12-01T10:00:00Z",
        }))
        .expect("message");
        assert_eq!(super::message_line(&message), "7\tAda\tshipped");
        let two = vec![teamflow_protocol::UserId::new(), teamflow_protocol::UserId::new()];
        let reacted = Message {
            reactions: vec![
                Reaction { emoji: "🎉".into(), user_ids: two.clone() },
                Reaction { emoji: "👀".into(), user_ids: two[..1].to_vec() },
            ],
            ..message.clone()
        };
        assert_eq!(super::message_line(&reacted), "7\tAda\tshipped\t🎉 2 👀 1");
    }
}
