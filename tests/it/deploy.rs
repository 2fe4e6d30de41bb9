//! The deployment files in `deploy/` and the `Dockerfile`: the systemd units pass `systemd-analyze verify`
//! and its offline security review, and the image builds with the README's own command.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The relay's own `main`, built into this package (see tests/Cargo.toml).
const RELAY: &str = env!("CARGO_BIN_EXE_teamflow-relay-under-test");

const UNITS: [&str; 3] = ["teamflow-relay.service", "teamflow-relay-backup.service", "teamflow-relay-backup.timer"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the tests crate sits in the repository").to_owned()
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repository().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn systemd_analyze(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("systemd-analyze runs (Debian's `systemd` package; `./x setup` installs it)")
}

#[test]
fn the_systemd_units_verify_and_pass_the_security_review() {
    // `verify` checks that ExecStart's program exists: point the copies at the binary this build made.
    let dir = tempfile::tempdir().expect("tempdir");
    for unit in UNITS {
        let text = read(&format!("deploy/{unit}"));
        assert!(
            unit.ends_with(".timer") || text.contains("/usr/local/bin/teamflow-relay"),
            "{unit} runs the installed binary"
        );
        std::fs::write(dir.path().join(unit), text.replace("/usr/local/bin/teamflow-relay", RELAY)).expect("write");
    }

    let verified = systemd_analyze(&[&["verify"][..], &UNITS[..]].concat(), dir.path());
    let complaints = String::from_utf8_lossy(&verified.stderr);
    assert!(verified.status.success() && complaints.is_empty(), "systemd-analyze verify: {complaints}");

    // Exposure as the review prints it runs from 0.0 to 10.0 (an unconfined service); `--threshold` counts
    // tenths. A unit that loses its hardening climbs past these.
    for (unit, threshold) in [("teamflow-relay.service", "20"), ("teamflow-relay-backup.service", "10")] {
        let review =
            systemd_analyze(&["security", "--offline=true", &format!("--threshold={threshold}"), unit], dir.path());
        assert!(
            review.status.success(),
            "{unit} is more exposed than {threshold} tenths:\n{}{}",
            String::from_utf8_lossy(&review.stdout),
            String::from_utf8_lossy(&review.stderr)
        );
    }
    let relay = read("deploy/teamflow-relay.service");
    for line in ["User=teamflow-relay", "ProtectSystem=strict", "StateDirectory=teamflow-relay", "NoNewPrivileges=yes"]
    {
        assert!(relay.lines().any(|l| l == line), "the relay's unit has {line}");
    }
    let timer = read("deploy/teamflow-relay-backup.timer");
    assert!(timer.contains("Persistent=true"), "a backup missed while the machine was off runs at boot");
}

#[test]
fn the_dockerfile_builds_with_the_readmes_command_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let build = "cargo build --release -p teamflow-relay --locked";
    assert!(dockerfile.contains(&format!("RUN {build}\n")), "the image builds with `{build}`");
    assert!(read("README.md").contains(build), "the README's build is the one the image uses");
    let lines: Vec<&str> = dockerfile.lines().collect();
    for expected in ["USER teamflow", "VOLUME /data", "STOPSIGNAL SIGTERM", "EXPOSE 8080/tcp 4001/tcp 4001/udp"] {
        assert!(lines.contains(&expected), "the Dockerfile has {expected}");
    }
    let health = dockerfile.split("HEALTHCHECK").nth(1).expect("a HEALTHCHECK");
    assert!(health.contains("curl -fsS http://127.0.0.1:8080/readyz"), "the health check asks /readyz");
    assert!(read(".dockerignore").lines().any(|l| l == ".cargo"), "a machine's cargo config stays out of the image");
}
