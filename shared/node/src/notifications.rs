//! What this user wants to be told of on this device: teams muted, and whether every message notifies
//! while the window is not focused. Kept in the node's store, per device: whether a laptop should chime is
//! that device's business (a muted team stays unmuted on the phone), and it works offline. Whether a given
//! message notifies is decided by the window (`ui/src/features/notify/decide.ts`), which knows focus and
//! what is on screen.

use teamflow_protocol::TeamId;

use crate::{Node, NodeError};

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct NotificationSettings {
    /// Every message (not only mentions) notifies while the window is not focused.
    pub every_message_unfocused: bool,
    /// Teams that never notify; their unread counts still show.
    pub muted: Vec<TeamId>,
}

impl Node {
    pub async fn notification_settings(&self) -> Result<NotificationSettings, NodeError> {
        self.require_sign_in()?;
        let every: Option<i64> =
            sqlx::query_scalar("SELECT every_message_unfocused FROM notification_settings WHERE id = 1")
                .fetch_optional(&self.db)
                .await?;
        let muted: Vec<String> =
            sqlx::query_scalar("SELECT team_id FROM muted_teams ORDER BY team_id").fetch_all(&self.db).await?;
        let muted = muted
            .iter()
            .map(|t| t.parse().map_err(|e: uuid::Error| NodeError::Corrupt(e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(NotificationSettings { every_message_unfocused: every == Some(1), muted })
    }

    pub async fn set_every_message_unfocused(&self, on: bool) -> Result<NotificationSettings, NodeError> {
        sqlx::query(
            "INSERT INTO notification_settings (id, every_message_unfocused) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET every_message_unfocused = excluded.every_message_unfocused",
        )
        .bind(i64::from(on))
        .execute(&self.db)
        .await?;
        self.notification_settings().await
    }

    /// Mutes or unmutes a team this user belongs to (a team they are not in is `NotFound`).
    pub async fn set_team_muted(&self, team: TeamId, muted: bool) -> Result<NotificationSettings, NodeError> {
        if !self.teams().await?.iter().any(|t| t.id == team) {
            return Err(NodeError::NotFound("team"));
        }
        let sql = if muted {
            "INSERT INTO muted_teams (team_id) VALUES (?) ON CONFLICT DO NOTHING"
        } else {
            "DELETE FROM muted_teams WHERE team_id = ?"
        };
        sqlx::query(sql).bind(team.to_string()).execute(&self.db).await?;
        self.notification_settings().await
    }
}
