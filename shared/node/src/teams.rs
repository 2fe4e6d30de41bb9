//! The team REST API as the node offers it: teams, members, projects, settings, documents and activity,
//! each read through the offline cache; changes that need the relay say so.

use reqwest::Method;
use teamflow_protocol::api::auth::{MeResponse, TeamMembership};
use teamflow_protocol::api::integrations::{ActivityItem, ActivityPage};
use teamflow_protocol::api::teams::{DocumentEntry, Member, Project, Team, TeamInput, TeamSettings};
use teamflow_protocol::{TeamId, UserId};

use crate::{Node, NodeError};

impl Node {
    /// The user's teams: from the relay when reachable (refreshing the cache), else from the cache.
    pub async fn teams(&self) -> Result<Vec<TeamMembership>, NodeError> {
        match self.authed::<(), MeResponse>(Method::GET, "/api/me", None).await {
            Ok(me) => {
                let mut tx = self.db.begin().await?;
                sqlx::query("DELETE FROM cached_teams").execute(&mut *tx).await?;
                for team in &me.teams {
                    let json = serde_json::to_string(team).map_err(NodeError::corrupt)?;
                    sqlx::query("INSERT INTO cached_teams (id, json) VALUES (?, ?)")
                        .bind(team.id.to_string())
                        .bind(json)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(me.teams)
            }
            Err(NodeError::Api(e)) if e.is_transient() => {
                let rows: Vec<String> =
                    sqlx::query_scalar("SELECT json FROM cached_teams ORDER BY id").fetch_all(&self.db).await?;
                rows.iter().map(|j| serde_json::from_str(j).map_err(NodeError::corrupt)).collect()
            }
            Err(e) => Err(e),
        }
    }

    /// A team's members with their roles (the last known list while offline).
    pub async fn members(&self, team: TeamId) -> Result<Vec<Member>, NodeError> {
        self.read_through(&format!("/api/teams/{team}/members")).await
    }

    /// A team's projects (the last known list while offline; queued creates are in `outbox`).
    pub async fn projects(&self, team: TeamId) -> Result<Vec<Project>, NodeError> {
        let projects: Vec<Project> = self.read_through(&format!("/api/teams/{team}/projects")).await?;
        self.index_projects(&projects).await?;
        Ok(projects)
    }

    /// A team's settings (the last known ones while offline).
    pub async fn team_settings(&self, team: TeamId) -> Result<TeamSettings, NodeError> {
        self.read_through(&format!("/api/teams/{team}/settings")).await
    }

    /// Replaces a team's settings (owners and admins; needs the relay). The answer refreshes the cache.
    pub async fn update_team_settings(&self, team: TeamId, settings: &TeamSettings) -> Result<TeamSettings, NodeError> {
        let path = format!("/api/teams/{team}/settings");
        let saved: TeamSettings = self.authed(Method::PUT, &path, Some(settings)).await?;
        self.keep_view(&path, &saved).await?;
        Ok(saved)
    }

    /// A team's registered documents (the last known list while offline; queued registrations are in
    /// `outbox`).
    pub async fn documents(&self, team: TeamId) -> Result<Vec<DocumentEntry>, NodeError> {
        let documents: Vec<DocumentEntry> = self.read_through(&format!("/api/teams/{team}/documents")).await?;
        let urls: Vec<String> = documents.iter().map(|d| d.document_id.to_string()).collect();
        self.remember_document_teams(team, &urls).await?;
        self.index_document_titles(&documents).await?;
        Ok(documents)
    }

    /// A team's latest activity from its integrations, newest first (the last known page while offline).
    pub async fn activity(&self, team: TeamId) -> Result<Vec<ActivityItem>, NodeError> {
        let page: ActivityPage = self.read_through(&format!("/api/teams/{team}/activity")).await?;
        Ok(page.items)
    }

    /// Creates a team (needs the relay).
    pub async fn create_team(&self, name: &str) -> Result<Team, NodeError> {
        self.authed(Method::POST, "/api/teams", Some(&TeamInput { name: name.into() })).await
    }

    /// Removes someone from a team, or leaves it when `user` is oneself (needs the relay).
    pub async fn remove_member(&self, team: TeamId, user: UserId) -> Result<(), NodeError> {
        let _: serde_json::Value =
            self.authed::<(), _>(Method::DELETE, &format!("/api/teams/{team}/members/{user}"), None).await?;
        Ok(())
    }
}
