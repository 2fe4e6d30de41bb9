//! The `teamflow` command-line client, run through the same `cli::run` its binary calls.

use clap::Parser as _;
use teamflow_node::cli::{Cli, run};
use teamflow_tests::{DataDir, PASSWORD, TestRelay, sync_client, text_when, within};

async fn teamflow(relay: &TestRelay, dir: &DataDir, args: &[&str], stdin: &str) -> anyhow::Result<String> {
    teamflow_at(&relay.url(""), dir, args, stdin).await
}

/// `teamflow` with `--relay relay_url`, whether a relay answers there or not.
async fn teamflow_at(relay_url: &str, dir: &DataDir, args: &[&str], stdin: &str) -> anyhow::Result<String> {
    let mut argv = vec!["teamflow", "--relay", relay_url];
    let data_dir = dir.path().to_str().expect("utf-8 path").to_owned();
    argv.extend(["--data-dir", &data_dir]);
    argv.extend(args);
    let cli = Cli::try_parse_from(argv)?;
    let mut out = Vec::new();
    run(cli, stdin.as_bytes(), &mut out).await?;
    Ok(String::from_utf8(out)?)
}

#[tokio::test]
async fn a_person_signs_up_chats_tails_and_edits_a_document_from_the_command_line() {
    let relay = TestRelay::start().await;
    let (laptop, phone) = (DataDir::new(), DataDir::new());
    let signed = teamflow(
        &relay,
        &laptop,
        &["signup", "--email", "ann@example.test", "--name", "Ann", "--password-stdin"],
        "correct horse\n",
    )
    .await
    .expect("signup");
    assert!(signed.starts_with("signed up as Ann <ann@example.test>"), "{signed}");
    let team = teamflow(&relay, &laptop, &["create-team", "Ops"], "").await.expect("team").trim().to_owned();
    let teams = teamflow(&relay, &laptop, &["teams"], "").await.expect("teams");
    assert_eq!(teams, format!("{team}\towner\tOps\n"));

    assert_eq!(teamflow(&relay, &laptop, &["send", "--team", &team, "first"], "").await.expect("send"), "sent\n");
    teamflow(
        &relay,
        &phone,
        &["signup", "--email", "ben@example.test", "--name", "Ben", "--password-stdin"],
        "battery staple",
    )
    .await
    .expect("signup");
    let invited = teamflow(&relay, &laptop, &["invite", "--team", &team, "--email", "ben@example.test"], "")
        .await
        .expect("invite");
    let link = invited.trim();
    assert!(link.starts_with(&format!("{}/invite/", relay.url(""))), "invite prints the link: {invited}");
    let waiting = teamflow(&relay, &phone, &["invitations"], "").await.expect("invitations");
    assert!(waiting.contains("\tOps\tmember\tfrom Ann"), "{waiting}");
    let joined = teamflow(&relay, &phone, &["accept", link], "").await.expect("accept");
    assert_eq!(joined, format!("joined Ops as member ({team})\n"));
    assert_eq!(teamflow(&relay, &phone, &["invitations"], "").await.expect("invitations"), "");

    // Ben watches the room, so he can see Ann's tail join before he speaks.
    let ben = teamflow_node::Node::open(phone.path(), &relay.url("")).await.expect("open");
    let mut room = ben.subscribe(team.parse().expect("team id")).await.expect("subscribe");
    let tail = {
        let relay_url = relay.url("");
        let dir = laptop.path().to_str().expect("path").to_owned();
        let team = team.clone();
        tokio::spawn(async move {
            let args = ["teamflow", "--relay", &relay_url, "--data-dir", &dir, "tail", "--team", &team, "--count", "1"];
            let mut out = Vec::new();
            run(Cli::try_parse_from(args).expect("args"), &b""[..], &mut out)
                .await
                .map(|()| String::from_utf8(out).expect("utf-8"))
        })
    };
    loop {
        let frame = tokio::time::timeout(teamflow_tests::socket::PATIENCE, room.recv())
            .await
            .expect("ann joined")
            .expect("open");
        if matches!(frame, teamflow_protocol::realtime::ServerMessage::UserJoined { .. }) {
            break;
        }
    }
    drop(room);
    ben.close().await;
    teamflow(&relay, &phone, &["send", "--team", &team, "hi ann"], "").await.expect("send");
    let tailed = tokio::time::timeout(teamflow_tests::socket::PATIENCE, tail)
        .await
        .expect("tail ended")
        .expect("task")
        .expect("tail");
    assert_eq!(tailed, "2\tBen\thi ann\n");

    let messages = teamflow(&relay, &laptop, &["messages", "--team", &team], "").await.expect("messages");
    assert_eq!(messages, "1\tAnn\tfirst\n2\tBen\thi ann\n");
    // Ann edits her message and, as the team's owner, deletes Ben's: the listing says so.
    let ann = teamflow_node::Node::open(laptop.path(), &relay.url("")).await.expect("open");
    let team_id = team.parse().expect("team id");
    let shown = ann.messages(team_id).await.expect("messages");
    ann.edit_message(team_id, shown[0].id, "first, reworded").await.expect("edit");
    ann.delete_message(team_id, shown[1].id).await.expect("delete");
    ann.close().await;
    let messages = teamflow(&relay, &laptop, &["messages", "--team", &team], "").await.expect("messages");
    assert_eq!(messages, "1\tAnn\tfirst, reworded (edited)\n2\tBen\t(deleted)\n");

    let url =
        teamflow(&relay, &laptop, &["edit", "--team", &team, "--title", "Runbook"], "# Runbook\nRestart the relay.\n")
            .await
            .expect("edit")
            .trim()
            .to_owned();
    assert!(url.starts_with("automerge:"), "{url}");
    let shown = teamflow(&relay, &phone, &["show", "--doc", &url], "").await.expect("show");
    assert_eq!(shown, "# Runbook\nRestart the relay.\n");
    teamflow(&relay, &phone, &["edit", "--doc", &url], "# Runbook\nRestart, then check /readyz.\n")
        .await
        .expect("replace");
    let shown = teamflow(&relay, &laptop, &["show", "--doc", &url], "").await.expect("show");
    assert_eq!(shown, "# Runbook\nRestart, then check /readyz.\n");
    let listed = teamflow(&relay, &laptop, &["documents", "--team", &team], "").await.expect("documents");
    assert_eq!(listed, format!("{url}\tRunbook\n"));
    // Without --relay: the relay this device is signed in to.
    let mut argv = vec!["teamflow", "--data-dir", laptop.path().to_str().expect("utf-8 path"), "teams"];
    let cli = Cli::try_parse_from(argv.drain(..)).expect("arguments");
    let mut out = Vec::new();
    run(cli, &b""[..], &mut out).await.expect("teams on the kept relay");
    assert_eq!(String::from_utf8(out).expect("utf-8"), format!("{team}\towner\tOps\n"));

    let status = teamflow(&relay, &laptop, &["status"], "").await.expect("status");
    let invalid =
        teamflow(&relay, &laptop, &["invite", "--team", &team, "--email", "x@example.test", "--role", "king"], "")
            .await;
    assert!(invalid.is_err_and(|e| e.to_string().contains("owner, admin, member or viewer")));
    // The last line depends on the machine: the OS keychain where one runs, else the private file (CI).
    let (summary, credentials) = status.split_at(status.find("credentials: ").expect("where the sign-in is kept"));
    assert_eq!(summary, "signed in as Ann <ann@example.test>\npending: 0, failed: 0\n");
    assert!(["credentials: keychain\n", "credentials: file\n"].contains(&credentials), "{credentials}");
    let refused = teamflow(&relay, &laptop, &["send", "--team", "not-a-team", "x"], "").await;
    assert!(refused.is_err(), "a malformed team id is refused by argument parsing");

    // History names who wrote what: Ann made the document, Ben replaced its text from his phone.
    let node = teamflow_node::Node::open(laptop.path(), &relay.url("")).await.expect("the laptop's node");
    let members = node.members(team.parse().expect("team id")).await.expect("members");
    let id_of = |name: &str| members.iter().find(|m| m.display_name == name).expect("member").user_id.to_string();
    let doc = node.open_document(&url.parse().expect("url")).await.expect("open").expect("kept");
    let named: Vec<_> = teamflow_sync::rich::history(&doc).into_iter().filter_map(|c| c.message).collect();
    assert_eq!(named, [teamflow_sync::author_message(&id_of("Ann")), teamflow_sync::author_message(&id_of("Ben"))]);
    node.close().await;
}

#[tokio::test]
async fn passwords_come_from_stdin_or_the_terminal_never_from_an_argument() {
    let relay = TestRelay::start().await;
    let (laptop, desk) = (DataDir::new(), DataDir::new());
    teamflow(
        &relay,
        &laptop,
        &["signup", "--email", "cy@example.test", "--name", "Cy", "--password-stdin"],
        "s3cret pass\n",
    )
    .await
    .expect("signup");

    // One line is read, without its line ending; what follows it is not part of the password.
    let signed_in =
        teamflow(&relay, &desk, &["login", "--email", "cy@example.test", "--password-stdin"], "s3cret pass\r\nmore\n")
            .await
            .expect("login with the password on stdin");
    assert_eq!(signed_in, "signed in as Cy <cy@example.test>\n");
    let wrong = teamflow(&relay, &desk, &["login", "--email", "cy@example.test", "--password-stdin"], "s3cret\n").await;
    assert!(wrong.is_err(), "a wrong password is refused");
    let empty = teamflow(&relay, &desk, &["login", "--email", "cy@example.test", "--password-stdin"], "").await;
    assert_eq!(empty.expect_err("nothing on stdin").to_string(), "the password is empty");

    // `--password` is gone: it would show in `ps` and in shell history.
    let refused = Cli::try_parse_from(["teamflow", "login", "--email", "cy@example.test", "--password", "s3cret pass"])
        .expect_err("--password is not an option");
    assert!(refused.to_string().contains("unexpected argument '--password'"), "{refused}");
}

/// Offline, a document this device holds still shows, and an edit is kept here and reaches the relay when
/// `show` next opens it online; named another relay, a device signed in elsewhere says where it is signed in.
#[tokio::test]
async fn documents_show_and_edit_offline_and_a_device_signed_in_elsewhere_says_where() {
    let relay = TestRelay::start().await;
    let laptop = DataDir::new();
    let signup = ["signup", "--email", "ann@example.test", "--name", "Ann", "--password-stdin"];
    teamflow(&relay, &laptop, &signup, &format!("{PASSWORD}\n")).await.expect("signup");
    let team = teamflow(&relay, &laptop, &["create-team", "Ops"], "").await.expect("team").trim().to_owned();
    let made =
        teamflow(&relay, &laptop, &["edit", "--team", &team, "--title", "Plan"], "Ship it\n").await.expect("edit");
    let url = made.lines().next().expect("the link").to_owned();

    let (addr, url_of_relay) = (relay.addr, relay.url(""));
    let data = relay.stop().await;
    let shown = teamflow_at(&url_of_relay, &laptop, &["show", "--doc", &url], "").await.expect("show offline");
    assert_eq!(shown, "Ship it\n");
    let kept = teamflow_at(&url_of_relay, &laptop, &["edit", "--doc", &url], "Ship it on Friday\n")
        .await
        .expect("edit offline");
    assert_eq!(
        kept,
        format!("{url}\nkept on this device: it goes to the relay when `show` or `edit` opens this document online\n")
    );

    let relay = TestRelay::start_again(data, addr).await;
    assert_eq!(teamflow(&relay, &laptop, &["show", "--doc", &url], "").await.expect("show"), "Ship it on Friday\n");
    let ann = relay.client().sign_in("ann@example.test").await;
    let elsewhere = sync_client(&relay, &ann, "another-device").await;
    let doc = within("the document", elsewhere.open(&url.parse().expect("url"))).await.expect("open").expect("shared");
    assert_eq!(text_when(&doc, |t| t.contains("Friday")).await, "Ship it on Friday\n");

    let argv =
        ["teamflow", "--relay", "http://127.0.0.1:9", "--data-dir", laptop.path().to_str().expect("utf-8"), "teams"];
    let mut out = Vec::new();
    let refused =
        run(Cli::try_parse_from(argv).expect("arguments"), &b""[..], &mut out).await.expect_err("signed in elsewhere");
    assert!(format!("{refused:#}").contains(&format!("this device is signed in to {}", relay.url(""))), "{refused:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_is_open_in_one_teamflow_at_a_time() {
    let relay = TestRelay::start().await;
    let laptop = DataDir::new();
    teamflow(
        &relay,
        &laptop,
        &["signup", "--email", "di@example.test", "--name", "Di", "--password-stdin"],
        "pw pw pw\n",
    )
    .await
    .expect("signup");

    // The app has the data open: the command line beside it is refused before it touches a file, and so
    // is another node of the same process.
    let app = teamflow_node::Node::open(laptop.path(), &relay.url("")).await.expect("the app's node");
    let refused = teamflow(&relay, &laptop, &["status"], "").await.expect_err("a second TeamFlow on the same data");
    assert!(refused.to_string().contains("is in use by another TeamFlow on this device"), "{refused}");
    match teamflow_node::Node::open(laptop.path(), &relay.url("")).await {
        Err(teamflow_node::NodeError::InUse { path }) => assert_eq!(path, laptop.path()),
        other => panic!("a second node opened the same data: {other:?}"),
    }
    // Once the app has closed, the data is as it left it, sign-in included.
    app.close().await;
    let status = teamflow(&relay, &laptop, &["status"], "").await.expect("status once the app has closed");
    assert!(status.starts_with("signed in as Di <di@example.test>\n"), "{status}");

    // A node shut down lets go of the data even while something still holds it (the app moving to another
    // relay while a command is still running on the old node).
    let held = teamflow_node::Node::open(laptop.path(), &relay.url("")).await.expect("open");
    held.shutdown().await;
    teamflow_node::Node::open(laptop.path(), &relay.url("")).await.expect("open once shut down").close().await;
    drop(held);

    // Two starting at once on new data, each on a thread of its own: one opens it, the other is told.
    let desk = DataDir::new();
    let [a, b] = [(); 2].map(|()| {
        let (dir, url) = (desk.path().to_owned(), relay.url(""));
        tokio::spawn(async move { teamflow_node::Node::open(&dir, &url).await })
    });
    let (a, b) = (a.await.expect("first"), b.await.expect("second"));
    assert!(
        [&a, &b].iter().any(|opened| matches!(opened, Err(teamflow_node::NodeError::InUse { .. }))),
        "neither was told the data is in use: {a:?} {b:?}"
    );
    let opened: Vec<_> = [a, b].into_iter().filter_map(Result::ok).collect();
    assert_eq!(opened.len(), 1, "exactly one of two nodes starting together opens the data");
    for node in opened {
        node.close().await;
    }
}
