//! README's "Try it with curl", run as a person pastes it (bash, curl and jq: `./x setup` installs them)
//! against a relay that registers by invitation, as a deployed one does by default.

use std::time::Duration;

use teamflow_tests::{DataDir, TestRelay, test_config};

#[tokio::test]
async fn the_readmes_curl_walkthrough_works_as_written() {
    let dir = DataDir::new();
    let mut config = test_config(dir.path());
    config.registration = teamflow_relay::config::Registration::Invite;
    let relay = TestRelay::start_with(dir, config).await;

    let readme = include_str!("../../README.md");
    let section = readme.split("## Try it with curl").nth(1).expect("the walkthrough");
    let block = section.split("```sh").nth(1).and_then(|rest| rest.split("```").next()).expect("its commands");
    // The relay is already running, on a port of its own.
    let mut script = vec!["set -euo pipefail".to_owned()];
    for line in block.lines().filter(|line| !line.starts_with("./x run")) {
        script.push(if line.starts_with("R=") { format!("R={}", relay.url("")) } else { line.to_owned() });
    }
    assert!(script.len() > 20, "the walkthrough was read: {script:?}");
    // What a person would look at next: which teams Bob is in, and as what.
    script.push(r#"echo; curl -s $R/api/teams -H "Authorization: Bearer $BOB""#.to_owned());

    let run = tokio::process::Command::new("bash").arg("-c").arg(script.join("\n")).kill_on_drop(true).output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the walkthrough finished")
        .expect("bash, curl and jq run (`./x setup` installs them)");
    let (out, err) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the walkthrough failed: {err}\n{out}");
    // Every error the relay gives has this shape (docs/api.md), and curl -s prints what it answers.
    assert!(!out.contains(r#""error""#), "a step was refused:\n{out}");
    for shown in [r#""content":"hello 3""#, r#""next_before""#, r#""team_name":"Design""#] {
        assert!(out.contains(shown), "the walkthrough did not show {shown}:\n{out}");
    }
    let bobs_teams = out.lines().last().expect("Bob's teams");
    let teams: serde_json::Value = serde_json::from_str(bobs_teams).expect("Bob's teams as JSON");
    let roles: Vec<(&str, &str)> = teams
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|team| Some((team["name"].as_str()?, team["role"].as_str()?)))
        .collect();
    assert_eq!(roles, [("Design", "member"), ("Ops", "viewer")], "{bobs_teams}");
}
