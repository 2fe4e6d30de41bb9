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

/// Instance A on a fresh data directory and instance B beside it (one database, one signing key), both
/// joined through `nats` if given. Their libp2p nodes are off: two on one data directory would share one
/// identity, and neither rooms nor document sync need them.
async fn two_instances(
    nats: Option<&teamflow_tests::services::Nats>,
) -> (teamflow_tests::TestRelay, teamflow_tests::TestRelay) {
    let dir = teamflow_tests::DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.p2p.disabled = true;
    config.nats_url = nats.map(teamflow_tests::services::Nats::url);
    let a = teamflow_tests::TestRelay::start_with(dir, config.clone()).await;
    let b = a.start_beside(config).await;
    (a, b)
}
