//! A team's integrations (GitHub, Slack, Trello webhooks) as the node offers them to owners and admins:
//! connecting one (its secret shown once), listing, rotating the secret, removing, and the events the relay
//! gave up on with their reasons. All need the relay; the list is also kept for reading offline.

use reqwest::Method;
use teamflow_protocol::TeamId;
use teamflow_protocol::api::integrations::{
    Integration, IntegrationCreated, IntegrationInput, RotateSecret, WebhookFailure,
};

use crate::{Node, NodeError};

/// An integration id as it goes into a path: letters, digits and dashes only (a UUID), so no input can
/// reach another route.
fn checked(integration: &str) -> Result<&str, NodeError> {
    let fine = !integration.is_empty()
        && integration.len() <= 64
        && integration.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    fine.then_some(integration).ok_or_else(|| NodeError::Invalid(format!("{integration:?} is not an integration id")))
}

impl Node {
    /// The team's integrations, never with their secrets (the last known list while offline).
    pub async fn integrations(&self, team: TeamId) -> Result<Vec<Integration>, NodeError> {
        self.read_through(&format!("/api/teams/{team}/integrations")).await
    }

    /// Connects a service; the answer is the only time its secret is shown.
    pub async fn create_integration(
        &self,
        team: TeamId,
        input: &IntegrationInput,
    ) -> Result<IntegrationCreated, NodeError> {
        self.authed(Method::POST, &format!("/api/teams/{team}/integrations"), Some(input)).await
    }

    /// Gives an integration a new secret (GitHub: generated when `secret` is absent; Slack and Trello: the one
    /// the provider now shows), shown once; the rotator becomes whose rights its events use.
    pub async fn rotate_integration(
        &self,
        team: TeamId,
        integration: &str,
        secret: Option<String>,
    ) -> Result<IntegrationCreated, NodeError> {
        let path = format!("/api/teams/{team}/integrations/{}/rotate", checked(integration)?);
        self.authed(Method::POST, &path, Some(&RotateSecret { secret })).await
    }

    /// Removes an integration: its webhook URL stops accepting deliveries.
    pub async fn delete_integration(&self, team: TeamId, integration: &str) -> Result<(), NodeError> {
        let path = format!("/api/teams/{team}/integrations/{}", checked(integration)?);
        let _: serde_json::Value = self.authed::<(), _>(Method::DELETE, &path, None).await?;
        Ok(())
    }

    /// The events of an integration the relay gave up on, with the reason for each.
    pub async fn integration_failures(
        &self,
        team: TeamId,
        integration: &str,
    ) -> Result<Vec<WebhookFailure>, NodeError> {
        let path = format!("/api/teams/{team}/integrations/{}/failures", checked(integration)?);
        self.authed::<(), _>(Method::GET, &path, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_ids_cannot_reach_another_route() {
        assert!(checked("0190f1e2-0000-7000-8000-0000000000aa").is_ok());
        for bad in ["", "../../me", "a/b", "x?y=1", "a b", &"a".repeat(65)] {
            assert!(matches!(checked(bad), Err(NodeError::Invalid(_))), "{bad:?}");
        }
    }
}
