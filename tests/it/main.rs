//! TeamFlow's end-to-end tests: one binary, every test against a real relay on loopback.

mod accounts;
mod analytics;
mod backup;
mod cli;
mod convergence;
mod deploy;
mod devices;
mod documents;
mod fuzz;
mod hardening;
mod http_surface;
mod interop;
mod messages;
mod node;
mod p2p;
mod projects;
mod realtime;
mod restart;
mod route_guards;
mod session;
mod sync;
mod teams;
mod tls;
mod transport;
mod webhooks;
