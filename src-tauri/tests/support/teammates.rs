//! The opening most window tests share: a relay, ada and bob on it, and the window signed in as ada
//! with a team she made in it, which bob is a member of.

use anyhow::Result;
use teamflow_tests::{Client, TestRelay};

use crate::driver::{Theme, Window, turn};

pub(crate) struct Teammates {
    pub(crate) relay: TestRelay,
    pub(crate) ada: Client,
    pub(crate) bob: Client,
    pub(crate) window: Window,
    /// The team's id.
    pub(crate) team: String,
}

impl Teammates {
    /// Waits for the window's turn, then opens it in `theme` on a team called `team`.
    pub(crate) async fn open(theme: Theme, team: &str) -> Result<Self> {
        let turn = turn().await;
        let relay = TestRelay::start().await;
        let ada = relay.user("ada").await;
        let bob = relay.user("bob").await;
        let window = Window::launch_in(turn, theme).await?;
        window.sign_in(&relay, "ada").await?;
        let team = window.create_team(&ada, team).await?;
        ada.add_member(&team, "bob@example.test", "member").await;
        Ok(Teammates { relay, ada, bob, window, team })
    }
}
