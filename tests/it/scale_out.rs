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
    two_instances_with(nats, |_, _| {}).await
}

/// Like [`two_instances`], with A's and B's configurations changed by `tweak` before they start.
async fn two_instances_with(
    nats: Option<&teamflow_tests::services::Nats>,
    tweak: impl FnOnce(&mut teamflow_relay::config::Config, &mut teamflow_relay::config::Config),
) -> (teamflow_tests::TestRelay, teamflow_tests::TestRelay) {
    let dir = teamflow_tests::DataDir::new();
    let mut config = teamflow_tests::test_config(dir.path());
    config.p2p.disabled = true;
    config.nats_url = nats.map(teamflow_tests::services::Nats::url);
    let (mut a_config, mut b_config) = (config.clone(), config);
    tweak(&mut a_config, &mut b_config);
    let a = teamflow_tests::TestRelay::start_with(dir, a_config).await;
    let b = a.start_beside(b_config).await;
    (a, b)
}
