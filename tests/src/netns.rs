//! Separate networks on one machine for peer-to-peer tests: two network namespaces, each joined to the
//! host's namespace (where the relay runs) by its own veth pair, and not to each other. A `Host` is a tokio
//! runtime whose threads live in one namespace, so every socket a node opens on it is on that network.

use std::future::Future;
use std::net::Ipv4Addr;
use std::process::Command;

/// Two namespaces, `a` (10.77.1.2, reaching the host as 10.77.1.1) and `b` (10.77.2.2, reaching the host
/// as 10.77.2.1), with no route between them. Removed on drop.
#[derive(Debug)]
pub struct Networks {
    pub a: String,
    pub b: String,
}

impl Networks {
    /// The host's address as seen from network `a` and `b`.
    pub const HOST_FROM_A: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 1);
    pub const HOST_FROM_B: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 1);
    pub const B: Ipv4Addr = Ipv4Addr::new(10, 77, 2, 2);

    /// Creates both networks (needs root, as in CI). Panics with `ip`'s own words when it cannot.
    pub fn create() -> Networks {
        let tag = std::process::id() % 1_000_000;
        let networks = Networks { a: format!("tf{tag}a"), b: format!("tf{tag}b") };
        for (ns, subnet) in [(&networks.a, 1), (&networks.b, 2)] {
            let (outside, inside) = (format!("{ns}0"), format!("{ns}1"));
            ip(&["netns", "add", ns]);
            ip(&["link", "add", &outside, "type", "veth", "peer", "name", &inside]);
            ip(&["link", "set", &inside, "netns", ns]);
            ip(&["addr", "add", &format!("10.77.{subnet}.1/24"), "dev", &outside]);
            ip(&["link", "set", &outside, "up"]);
            ip(&["-n", ns, "addr", "add", &format!("10.77.{subnet}.2/24"), "dev", &inside]);
            ip(&["-n", ns, "link", "set", &inside, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        networks
    }
}

impl Drop for Networks {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            // Deleting the namespace deletes the veth pair with it.
            let deleted = Command::new("ip").args(["netns", "delete", ns]).status();
            if !deleted.is_ok_and(|s| s.success()) {
                eprintln!("could not delete network namespace {ns}");
            }
        }
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("run ip (iproute2)");
    assert!(output.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}

/// A tokio runtime whose threads are all inside one network namespace.
#[derive(Debug)]
pub struct Host {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Host {
    pub fn in_namespace(ns: &str) -> Host {
        let path = format!("/var/run/netns/{ns}");
        let runtime = std::thread::scope(|scope| {
            // Threads inherit the namespace of the thread that creates them: enter it on a fresh thread,
            // then build the runtime there, so its workers (and their blocking pool) start inside.
            scope
                .spawn(|| {
                    let namespace = std::fs::File::open(&path).expect("open the namespace");
                    nix::sched::setns(namespace, nix::sched::CloneFlags::CLONE_NEWNET).expect("enter the namespace");
                    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
                })
                .join()
                .expect("namespace thread")
        });
        Host { runtime: Some(runtime) }
    }

    /// Runs `work` on this host's network and answers what it returns.
    pub async fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> T {
        let runtime = self.runtime.as_ref().expect("running");
        runtime.spawn(work).await.expect("work on the host panicked")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's task is not allowed; let it wind down in the background.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
