//! A service process whose stderr log is kept (for failure messages) and watched for the line that says it
//! is ready, so a test waits on the service's own word rather than polling or sleeping.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// How long a service may take to say it is ready: a guard against a hang (parallel tests share two cores).
const READY_PATIENCE: Duration = Duration::from_secs(60);

/// What a service wrote to stderr so far, shared with the task that drains it (an undrained pipe would
/// block the service once it fills).
#[derive(Debug, Clone, Default)]
pub(crate) struct Log(Arc<Mutex<String>>);

impl Log {
    pub(crate) fn text(&self) -> String {
        self.0.lock().map(|log| log.clone()).unwrap_or_default()
    }

    fn push(&self, line: &str) {
        if let Ok(mut log) = self.0.lock() {
            log.push_str(line);
            log.push('\n');
        }
    }
}

/// Why a service did not start.
#[derive(Debug)]
pub(crate) enum StartError {
    /// It exited (or closed stderr) before saying it was ready; its log says why.
    Exited(String),
    /// It said nothing ready-like within the patience.
    Silent(String),
}

impl StartError {
    pub(crate) fn log(&self) -> &str {
        match self {
            StartError::Exited(log) | StartError::Silent(log) => log,
        }
    }
}

/// Starts `command` (stdin and stdout closed, stderr watched) and waits until a stderr line contains `ready`.
/// The child is killed when dropped; callers that can stop it more gently do so first.
pub(crate) async fn start(command: &mut Command, what: &str, ready: &'static str) -> Result<(Child, Log), StartError> {
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stderr = child.stderr.take().expect("stderr is piped");
    let log = Log::default();
    let (ready_tx, ready_rx) = oneshot::channel::<()>();
    let drain_log = log.clone();
    tokio::spawn(async move {
        let mut ready_tx = Some(ready_tx);
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            drain_log.push(&line);
            if line.contains(ready)
                && let Some(tx) = ready_tx.take()
            {
                tx.send(()).ok();
            }
        }
    });
    match tokio::time::timeout(READY_PATIENCE, ready_rx).await {
        Ok(Ok(())) => Ok((child, log)),
        // The sender went away: stderr closed, so the process ended without being ready.
        Ok(Err(_)) => {
            // Its exit status completes the story; the log was read to its end already.
            let status = child.wait().await.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
            Err(StartError::Exited(format!("{}(exit: {status})", log.text())))
        }
        Err(_) => Err(StartError::Silent(log.text())),
    }
}

/// Stops `child` with `signal` and waits (bounded) for it to exit, killing it if it does not. Synchronous,
/// for `Drop`: a service must be gone before its directory is removed.
pub(crate) fn stop(child: &mut Child, signal: nix::sys::signal::Signal) {
    let Some(pid) = child.id() else { return };
    let Ok(pid) = i32::try_from(pid) else { return };
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal).is_err() {
        return;
    }
    // A clean shutdown takes well under a second; this is a bound, not a timing.
    for _ in 0..1_000 {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.start_kill().ok();
}
