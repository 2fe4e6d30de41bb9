//! Scale-out (docs/scale-out.md): the real PostgreSQL and NATS the tests start, and the relay's schema and
//! domains on PostgreSQL, and relay instances joined through NATS.

mod accounts;
mod cluster;
mod database_flag;
mod dialect;
mod documents;
mod failover;
mod gapless;
mod harness;
mod migrations;
mod storage;
mod webhook_claims;
