//! A NATS server with JetStream on a free loopback port, from Debian's `nats-server` package (`./x setup`),
//! its stream storage in a temporary directory; stopped on drop.

use tokio::process::{Child, Command};

use super::free_port;
use super::process::{self, Log, StartError};

/// How many ports a start tries: another process can take a free port between its choice and the bind.
const PORT_ATTEMPTS: usize = 5;

#[derive(Debug)]
pub struct Nats {
    child: Option<Child>,
    port: u16,
    log: Log,
    /// Removed after the server has stopped.
    dir: tempfile::TempDir,
}

impl Nats {
    /// Starts `nats-server -js` and answers once it says it is ready.
    pub async fn start() -> Nats {
        let binary = super::require("nats-server", "nats-server");
        let dir = tempfile::Builder::new().prefix("teamflow-nats").tempdir().expect("temporary directory");
        let mut last_log = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let mut server = Command::new(&binary);
            server.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"]).arg(dir.path().join("jetstream"));
            match process::start(&mut server, "nats-server", "Server is ready").await {
                Ok((child, log)) => return Nats { child: Some(child), port, log, dir },
                Err(StartError::Exited(log)) if log.contains("listen") || log.contains("in use") => last_log = log,
                Err(e) => panic!("nats-server did not start: {}", e.log()),
            }
        }
        panic!("nats-server found no free port in {PORT_ATTEMPTS} attempts: {last_log}")
    }

    /// Stops the server and starts it again on the same port and store: an outage clients ride out.
    pub async fn restart(&mut self) {
        self.stop();
        self.start_again().await;
    }

    /// Stops the server (and waits for it to exit): its clients lose it until [`Nats::start_again`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            process::stop(&mut child, nix::sys::signal::Signal::SIGTERM);
        }
    }

    /// Starts the server again on the port and store it had, after [`Nats::stop`].
    pub async fn start_again(&mut self) {
        let binary = super::require("nats-server", "nats-server");
        let mut server = Command::new(&binary);
        server
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.dir.path().join("jetstream"));
        match process::start(&mut server, "nats-server", "Server is ready").await {
            Ok((child, log)) => {
                self.child = Some(child);
                self.log = log;
            }
            Err(e) => panic!("nats-server did not start again on port {}: {}", self.port, e.log()),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Where JetStream keeps its streams (removed on drop).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.log.text()
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM: nats-server flushes JetStream and exits.
            process::stop(&mut child, nix::sys::signal::Signal::SIGTERM);
        }
    }
}
