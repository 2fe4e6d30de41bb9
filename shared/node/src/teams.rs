//! The team REST API as the node offers it: teams, members, projects, settings, documents and activity,
//! each read through the offline cache; changes that need the relay say so.

use reqwest::Method;
use teamflow_protocol::api::auth::{MeResponse, TeamMembership};
use teamflow_protocol::api::integrations::ActivityPage;
use teamflow_protocol::api::teams::{Analytics, DocumentEntry, Member, Team, TeamInput, TeamSettings, UpdateMember};
use teamflow_protocol::{DocumentUrl, Role, TeamId, UserId};

use crate::{Node, NodeError};

/// Every team the store holds something of. The cached messages' teams are found by skipping from one team
/// to the next along their key (a few lookups per team, however long the history); the other tables are
/// small. The search index's entries are each a message, view or document of one of these.
const KNOWN_TEAMS: &str = "WITH RECURSIVE message_teams(id) AS (
         SELECT (SELECT MIN(team_id) FROM cached_messages)
         UNION ALL
         SELECT (SELECT MIN(team_id) FROM cached_messages WHERE team_id > id) FROM message_teams WHERE id IS NOT NULL
     )
     SELECT id FROM message_teams WHERE id IS NOT NULL
     UNION SELECT id FROM cached_teams
     UNION SELECT team_id FROM document_teams
     UNION SELECT team_id FROM document_previews
     UNION SELECT team_id FROM read_positions
     UNION SELECT team_id FROM muted_teams
     UNION SELECT substr(key, 12, 36) FROM cached_views WHERE key LIKE '/api/teams/%'";

impl Node {
    /// The user's teams: from the relay when reachable (refreshing the cache), else from the cache.
    pub async fn teams(&self) -> Result<Vec<TeamMembership>, NodeError> {
        // Which teams the store holds something of, read before asking: a team created or joined while the
        // question is on its way is not in the answer, and must not be taken for one that dropped out.
        let known: Vec<String> = sqlx::query_scalar(KNOWN_TEAMS).fetch_all(&self.db).await?;
        let asked = self.asking();
        match self.authed::<(), MeResponse>(Method::GET, "/api/me", None).await {
            Ok(mut me) => {
                // A team the device knew and the relay no longer lists (removed, left or deleted while this
                // device was not in its room): what the device kept of it goes.
                for gone in known.iter().filter(|id| !me.teams.iter().any(|t| t.id.to_string() == **id)) {
                    if let Ok(team) = gone.parse::<TeamId>() {
                        self.forget_team(team).await?;
                    }
                }
                let mut tx = crate::store::begin_write(&self.db).await?;
                // A team forgotten after the question (removed meanwhile) is not brought back by its answer.
                me.teams.retain(|team| !self.forgotten_since(team.id, asked));
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

    /// A team's settings (the last known ones while offline).
    pub async fn team_settings(&self, team: TeamId) -> Result<TeamSettings, NodeError> {
        self.read_through(&format!("/api/teams/{team}/settings")).await
    }

    /// Replaces a team's settings (owners and admins; needs the relay). The answer refreshes the cache.
    pub async fn update_team_settings(&self, team: TeamId, settings: &TeamSettings) -> Result<TeamSettings, NodeError> {
        let path = format!("/api/teams/{team}/settings");
        let asked = self.asking();
        let saved: TeamSettings = self.authed(Method::PUT, &path, Some(settings)).await?;
        self.keep_view(&path, &saved, asked).await?;
        Ok(saved)
    }

    /// A team's documents: the registered ones (the last known list while offline), then those made on
    /// this device whose registration is still queued (or was refused: the content is still here).
    pub async fn documents(&self, team: TeamId) -> Result<Vec<DocumentEntry>, NodeError> {
        let asked = self.asking();
        // Known before asking: a document registered while the question is on its way is not in the answer.
        let known: Vec<String> = sqlx::query_scalar("SELECT document_id FROM document_teams WHERE team_id = ?")
            .bind(team.to_string())
            .fetch_all(&self.db)
            .await?;
        let forgotten = crate::forgotten::all(&self.db).await?;
        // Also before asking: a registration delivered while the question is on its way is then in one of
        // the two lists, and never in neither.
        let queued = self.queued_documents(team).await?;
        let (documents, fresh): (Vec<DocumentEntry>, bool) =
            self.read_through_telling(&format!("/api/teams/{team}/documents")).await?;
        let urls: Vec<String> = documents.iter().map(|d| d.document_id.to_string()).collect();
        if fresh {
            self.forget_unlisted_documents(team, &known, &urls).await?;
        }
        // Listed by the relay itself (a kept list may predate the team's forgetting): readable again, unless
        // the team was forgotten (again) while the list was on its way.
        self.keep_document_list(team, &documents, asked, fresh.then_some(&forgotten)).await?;
        let mut documents = documents;
        documents.extend(queued.into_iter().filter(|q| !urls.contains(&q.document_id.to_string())));
        Ok(documents)
    }

    /// Forgets the documents of `team` the device knew (`known`) that the relay's list (`listed`) no longer
    /// has: deleted while this device was not in the team's room. A document whose registration still
    /// waits in the outbox (made offline) is not on the list yet and stays.
    async fn forget_unlisted_documents(
        &self,
        team: TeamId,
        known: &[String],
        listed: &[String],
    ) -> Result<(), NodeError> {
        let waiting: Vec<String> = sqlx::query_scalar(
            "SELECT json_extract(body_json, '$.document_id') FROM outbox WHERE kind = 'document' AND team_id = ?",
        )
        .bind(team.to_string())
        .fetch_all(&self.db)
        .await?;
        for url in known.iter().filter(|url| !listed.contains(url) && !waiting.contains(url)) {
            if let Ok(parsed) = url.parse::<DocumentUrl>() {
                self.forget_document(team, &parsed).await?;
            }
        }
        Ok(())
    }

    /// A team's analytics over `from..=to` (`YYYY-MM-DD`, UTC; the relay's defaults when absent), the last
    /// answer for the same range while offline. Dates are checked here before they reach a path.
    pub async fn analytics(&self, team: TeamId, from: Option<&str>, to: Option<&str>) -> Result<Analytics, NodeError> {
        let mut query = Vec::new();
        for (name, date) in [("from", from), ("to", to)] {
            if let Some(date) = date {
                if !is_iso_date(date) {
                    return Err(NodeError::Invalid(format!("{name} is not a date (YYYY-MM-DD): {date:?}")));
                }
                query.push(format!("{name}={date}"));
            }
        }
        let path = format!("/api/teams/{team}/analytics{}{}", if query.is_empty() { "" } else { "?" }, query.join("&"));
        self.read_through(&path).await
    }

    /// A page of a team's activity from its integrations, newest first: the latest, or the one older than
    /// `before` (a page's `next_before`). Each page is kept, so those read since the latest was last read
    /// from the relay are there offline; reading the latest afresh drops the older ones kept (their
    /// cursors move with every new event, so they would pile up otherwise).
    pub async fn activity(&self, team: TeamId, before: Option<i64>) -> Result<ActivityPage, NodeError> {
        let latest = format!("/api/teams/{team}/activity");
        let Some(before) = before else {
            let (page, fresh) = self.read_through_telling(&latest).await?;
            if fresh {
                sqlx::query("DELETE FROM cached_views WHERE key LIKE ?")
                    .bind(format!("{latest}?before=%"))
                    .execute(&self.db)
                    .await?;
            }
            return Ok(page);
        };
        self.read_through(&format!("{latest}?before={before}")).await
    }

    /// Creates a team (needs the relay).
    pub async fn create_team(&self, name: &str) -> Result<Team, NodeError> {
        self.authed(Method::POST, "/api/teams", Some(&TeamInput { name: name.into() })).await
    }

    /// Renames a team (owners and admins; needs the relay).
    pub async fn rename_team(&self, team: TeamId, name: &str) -> Result<Team, NodeError> {
        self.authed(Method::PUT, &format!("/api/teams/{team}"), Some(&TeamInput { name: name.into() })).await
    }

    /// Deletes a team with everything in it (owners only; needs the relay). Its cached views go too.
    pub async fn delete_team(&self, team: TeamId) -> Result<(), NodeError> {
        let _: serde_json::Value = self.authed::<(), _>(Method::DELETE, &format!("/api/teams/{team}"), None).await?;
        self.forget_team(team).await
    }

    /// Gives a member another role (owners and admins, never above their own; the relay keeps the last
    /// owner). Answers the member as the relay now has them.
    pub async fn change_role(&self, team: TeamId, user: UserId, role: Role) -> Result<Member, NodeError> {
        let path = format!("/api/teams/{team}/members/{user}");
        self.authed(Method::PATCH, &path, Some(&UpdateMember { role })).await
    }

    /// Leaves a team (refused while this user is its last owner). Its cached views go too.
    pub async fn leave_team(&self, team: TeamId) -> Result<(), NodeError> {
        let me = self.user().await.ok_or(NodeError::SignedOut)?;
        self.remove_member(team, me.id).await?;
        self.forget_team(team).await
    }

    /// Drops what the cache and the search index hold of a team this user no longer reads, and which
    /// documents belong to it (so they are offered to no peer, and indexed or previewed no more); their
    /// content goes too, at once for those not in memory and the others once they unload (`forgotten`).
    pub(crate) async fn forget_team(&self, team: TeamId) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        // While holding the write lock: an answer about the team asked before now is not kept after this.
        self.mark_forgotten(team);
        // Erased, not only deleted: the team's long messages and views would stay in whole free pages.
        let documents = crate::store::erasing(&mut tx, async |tx| {
            let prefix = format!("/api/teams/{team}/%");
            sqlx::query("DELETE FROM cached_views WHERE key LIKE ?").bind(&prefix).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM cached_teams WHERE id = ?").bind(team.to_string()).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM cached_messages WHERE team_id = ?")
                .bind(team.to_string())
                .execute(&mut *tx)
                .await?;
            for table in ["read_positions", "muted_teams", "message_change_cursors"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE team_id = ?")))
                    .bind(team.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            crate::search::forget_team(tx, team).await?;
            crate::previews::forget_team(tx, team).await?;
            crate::forgotten::forget_team(tx, team).await?;
            Ok(sqlx::query("DELETE FROM document_teams WHERE team_id = ?")
                .bind(team.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected())
        })
        .await?;
        tx.commit().await?;
        if documents > 0 {
            // Share decisions are taken again without them.
            self.document_teams.send_modify(|generation| *generation += 1);
        }
        self.purge_forgotten().await;
        // The log still holds the pages as they were before the deletions (when no content was purged, the
        // purge did not empty it).
        crate::store::empty_log(&self.db).await;
        Ok(())
    }

    /// Removes someone from a team, or leaves it when `user` is oneself (needs the relay).
    pub async fn remove_member(&self, team: TeamId, user: UserId) -> Result<(), NodeError> {
        let _: serde_json::Value =
            self.authed::<(), _>(Method::DELETE, &format!("/api/teams/{team}/members/{user}"), None).await?;
        Ok(())
    }
}

/// `YYYY-MM-DD` with digits where they belong (the relay checks the calendar).
fn is_iso_date(date: &str) -> bool {
    let bytes = date.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() })
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_iso_dates_reach_the_path() {
        assert!(super::is_iso_date("2026-12-01"));
        for bad in ["2026-1-01", "2026/12/01", "2026-12-01&x=1", "", "20261201xx", "２026-12-01"] {
            assert!(!super::is_iso_date(bad), "{bad}");
        }
    }
}
