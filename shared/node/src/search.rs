//! Search over everything this device has seen, offline: chat messages, projects and documents of all the
//! user's teams, in SQLite's FTS5 (porter stemming, prefix matches, highlighted snippets).
//!
//! Items are indexed where they enter the local store (a cached message, a fetched project or document
//! list, an open document's text), in the same transaction as the cache when there is one, so the index
//! never holds what the cache lost, nor misses what it kept.

use std::collections::HashMap;

use sqlx::SqliteConnection;
use teamflow_protocol::api::messages::Message;
use teamflow_protocol::api::teams::{DocumentEntry, Project};
use teamflow_protocol::realtime::ServerMessage;
use teamflow_protocol::{DocumentUrl, TeamId};

use crate::forgotten::Asked;
use crate::{Node, NodeError};

/// Where a snippet's match starts and ends. Control characters that cannot occur in indexed text (they are
/// replaced on the way in), so the app can split on them safely and never renders markup from the index.
pub const MATCH_START: char = '\u{2}';
pub const MATCH_END: char = '\u{3}';

/// The most hits one search answers.
const MAX_HITS: u32 = 50;
/// Words (tokens) of context a snippet shows around its match.
const SNIPPET_TOKENS: u32 = 12;
/// How many of the most recent matches a search ranks (see `Node::search`).
const CANDIDATES: u32 = 500;
/// A query longer than this is cut: nobody types more, and it bounds the work of one search.
const MAX_QUERY_CHARS: usize = 200;

/// What a hit is, and where to open it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SearchTarget {
    /// A chat message, by its position in the team's chat.
    Message {
        seq: i64,
    },
    Project {
        project_id: String,
    },
    /// A document, by its automerge URL.
    Document {
        url: String,
    },
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SearchHit {
    pub team_id: TeamId,
    pub target: SearchTarget,
    /// The author of a message, a project's or document's name; matches marked as in `snippet`.
    pub title: String,
    /// The text around the best match, each match between `MATCH_START` and `MATCH_END`.
    pub snippet: String,
}

/// An item to index: its kind and id, its team, when it last changed, and its text.
struct Item<'a> {
    kind: &'static str,
    team: TeamId,
    id: &'a str,
    at: i64,
    title: &'a str,
    body: &'a str,
}

/// Adds or replaces one item (one row in `search_items`, its text in `search_index` under the same rowid).
async fn put(db: &mut SqliteConnection, item: Item<'_>) -> Result<(), NodeError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO search_items (kind, team_id, item_id, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (kind, team_id, item_id) DO UPDATE SET at = excluded.at RETURNING id",
    )
    .bind(item.kind)
    .bind(item.team.to_string())
    .bind(item.id)
    .bind(item.at)
    .fetch_one(&mut *db)
    .await?;
    sqlx::query("DELETE FROM search_index WHERE rowid = ?").bind(id).execute(&mut *db).await?;
    sqlx::query("INSERT INTO search_index (rowid, title, body) VALUES (?, ?, ?)")
        .bind(id)
        .bind(clean(item.title))
        .bind(clean(item.body))
        .execute(&mut *db)
        .await?;
    Ok(())
}

/// The marker characters never come from indexed text.
fn clean(text: &str) -> String {
    text.replace([MATCH_START, MATCH_END], " ")
}

fn millis(at: time::OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// Indexes a chat message; called wherever a message is cached, in that transaction.
pub(crate) async fn index_message(db: &mut SqliteConnection, message: &Message) -> Result<(), NodeError> {
    let seq = message.seq.to_string();
    // A deleted message's words leave the index too (it deletes securely: `0009_search_secure_delete`).
    if message.deleted {
        return remove(db, "message", message.team_id, &seq).await;
    }
    // As read, not as sent: a mention is found (and shown in a snippet) by its name, never its user id.
    let body = teamflow_protocol::mentions::plain_text(&message.content);
    let item = Item {
        kind: "message",
        team: message.team_id,
        id: &seq,
        at: millis(message.created_at),
        title: &message.author_name,
        body: &body,
    };
    put(db, item).await
}

/// Turns what a person typed into an FTS5 query: every word must match, the last one (the one being typed)
/// as the prefix of an indexed word, unless the input ends with a space. Quoting every word makes FTS5's
/// own syntax (`AND`, `NEAR`, `"`, `*`, `:`, parentheses) plain text, so no input is a query error. `None`
/// when nothing searchable is left.
fn fts_query(input: &str) -> Option<String> {
    let input: String = input.chars().take(MAX_QUERY_CHARS).collect();
    let words: Vec<&str> = input.split(|c: char| !c.is_alphanumeric()).filter(|word| !word.is_empty()).collect();
    let typing = input.chars().last().is_some_and(char::is_alphanumeric);
    let terms: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, word)| if typing && i + 1 == words.len() { format!("\"{word}\"*") } else { format!("\"{word}\"") })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// Takes one item out of the index.
pub(crate) async fn remove(db: &mut SqliteConnection, kind: &str, team: TeamId, id: &str) -> Result<(), NodeError> {
    let row: Option<i64> =
        sqlx::query_scalar("DELETE FROM search_items WHERE kind = ? AND team_id = ? AND item_id = ? RETURNING id")
            .bind(kind)
            .bind(team.to_string())
            .bind(id)
            .fetch_optional(&mut *db)
            .await?;
    if let Some(row) = row {
        sqlx::query("DELETE FROM search_index WHERE rowid = ?").bind(row).execute(&mut *db).await?;
    }
    Ok(())
}

/// Takes a deleted document out of the index.
pub(crate) async fn forget_document(
    db: &mut SqliteConnection,
    team: TeamId,
    url: &DocumentUrl,
) -> Result<(), NodeError> {
    remove(db, "document", team, url.as_str()).await
}

/// Takes a team's items out of the index (the user left it, or it was deleted).
pub(crate) async fn forget_team(db: &mut SqliteConnection, team: TeamId) -> Result<(), NodeError> {
    sqlx::query("DELETE FROM search_index WHERE rowid IN (SELECT id FROM search_items WHERE team_id = ?)")
        .bind(team.to_string())
        .execute(&mut *db)
        .await?;
    sqlx::query("DELETE FROM search_items WHERE team_id = ?").bind(team.to_string()).execute(&mut *db).await?;
    Ok(())
}

impl Node {
    /// Keeps what a room frame brings for reading and searching offline: a new or changed message is cached
    /// and indexed (a deleted one leaves the index); a project or document created or changed is indexed, a
    /// deleted document leaves the index (a deleted project: `remember_project_frame`); a team this user was
    /// removed from is forgotten (its cached messages, views and index entries); a renamed team is renamed
    /// in the cached list of teams.
    pub(crate) async fn remember_frame(&self, frame: &ServerMessage) -> Result<(), NodeError> {
        match frame {
            ServerMessage::NewMessage { message } | ServerMessage::MessageChanged { message } => {
                let mut tx = crate::store::begin_write(&self.db).await?;
                let cached = crate::store::cache_message(&mut tx, message).await?;
                tx.commit().await?;
                if cached.erased() {
                    self.log_emptier.request();
                }
            }
            // A frame is the team's state as of now, in order with the frame that would forget it.
            ServerMessage::TeamState { projects, .. } | ServerMessage::TeamProjects { projects, .. } => {
                self.index_projects(projects, self.asking()).await?;
            }
            ServerMessage::ProjectUpdated { project } => {
                self.index_projects(std::slice::from_ref(project), self.asking()).await?;
            }
            // Read on another device of this user: this one knows it too, offline included.
            ServerMessage::ReadMoved { state } => {
                self.remember_read(state.team_id, state.read_seq).await?;
            }
            ServerMessage::MemberChanged { team_id, user_id, role: None }
                if self.user().await.is_some_and(|me| me.id == *user_id) =>
            {
                // Removed from the team: what this device kept of it goes.
                self.forget_team(*team_id).await?;
            }
            // Removed, or only given a lower role: the relay's list of teams says which.
            ServerMessage::AccessRevoked { team_id } if !self.teams().await?.iter().any(|t| t.id == *team_id) => {
                self.forget_team(*team_id).await?;
            }
            ServerMessage::DocumentUpdated { document } => {
                self.remember_document_teams(document.team_id, &[document.document_id.to_string()]).await?;
                self.index_document_titles(std::slice::from_ref(document), self.asking()).await?;
            }
            ServerMessage::DocumentDeleted { team_id, document_id } => {
                self.forget_document(*team_id, document_id).await?;
            }
            // The team list read offline (after a restart, say) shows the new name too.
            ServerMessage::TeamRenamed { team_id, name } => {
                sqlx::query("UPDATE cached_teams SET json = json_set(json, '$.name', ?) WHERE id = ?")
                    .bind(name)
                    .bind(team_id.to_string())
                    .execute(&self.db)
                    .await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Indexes projects (name and description), as the relay told them to a question asked at `asked`;
    /// not those of a team forgotten since (checked once the write lock is held, as `begin_answer_write`).
    pub(crate) async fn index_projects(&self, projects: &[Project], asked: Asked) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        for project in projects.iter().filter(|p| !self.forgotten_since(p.team_id, asked)) {
            let id = project.id.to_string();
            let item = Item {
                kind: "project",
                team: project.team_id,
                id: &id,
                at: millis(project.updated_at),
                title: &project.name,
                body: &project.description,
            };
            put(&mut tx, item).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Indexes documents' titles, as the relay told them to a question asked at `asked`, but not those of a
    /// team forgotten since; a document's text is kept as last indexed (`index_document_text`).
    pub(crate) async fn index_document_titles(
        &self,
        documents: &[DocumentEntry],
        asked: Asked,
    ) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        let current: Vec<DocumentEntry> =
            documents.iter().filter(|d| !self.forgotten_since(d.team_id, asked)).cloned().collect();
        index_document_titles(&mut tx, &current).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Indexes a document the user just made: its title and text.
    pub(crate) async fn index_new_document(
        &self,
        team: TeamId,
        url: &str,
        title: &str,
        text: &str,
    ) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        let now = millis(time::OffsetDateTime::now_utc());
        put(&mut tx, Item { kind: "document", team, id: url, at: now, title, body: text }).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Indexes a document's text, under the title last indexed for it (none yet: its team's document list
    /// brings it). A document of no known team is not indexed.
    pub(crate) async fn index_document_text(&self, url: &str, text: &str) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        let team: Option<String> = sqlx::query_scalar("SELECT team_id FROM document_teams WHERE document_id = ?")
            .bind(url)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(team) = team else { return Ok(()) };
        let team: TeamId = team.parse().map_err(|_| NodeError::Corrupt(format!("team id {team} in the store")))?;
        let title: Option<String> = sqlx::query_scalar(
            "SELECT s.title FROM search_items i JOIN search_index s ON s.rowid = i.id
             WHERE i.kind = 'document' AND i.team_id = ? AND i.item_id = ?",
        )
        .bind(team.to_string())
        .bind(url)
        .fetch_optional(&mut *tx)
        .await?;
        let now = millis(time::OffsetDateTime::now_utc());
        let item =
            Item { kind: "document", team, id: url, at: now, title: title.as_deref().unwrap_or_default(), body: text };
        put(&mut tx, item).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Searches everything this device holds, best matches first (up to `limit`, at most 50) among the most
    /// recent 500 that match. Works offline, not signed out; an input with nothing searchable in it finds nothing.
    pub async fn search(&self, input: &str, limit: u32) -> Result<Vec<SearchHit>, NodeError> {
        self.require_sign_in()?;
        let Some(query) = fts_query(input) else { return Ok(Vec::new()) };
        // One read snapshot for the ranking and the marks.
        let mut read = self.db.begin().await?;
        // Ranked among the most recent `CANDIDATES` matches: FTS5 walks its matches newest first and stops
        // there, so a word in every message costs no more than a rare one.
        let best: Vec<(i64, String, String, String)> = sqlx::query_as(
            "WITH recent AS (
                 SELECT rowid AS id, rank AS score FROM search_index
                 WHERE search_index MATCH ?1 ORDER BY rowid DESC LIMIT ?3
             )
             SELECT recent.id, i.kind, i.team_id, i.item_id
             FROM recent JOIN search_items i ON i.id = recent.id
             ORDER BY recent.score, i.at DESC
             LIMIT ?2",
        )
        .bind(&query)
        .bind(limit.clamp(1, MAX_HITS))
        .bind(CANDIDATES)
        .fetch_all(&mut *read)
        .await?;
        // Marks and snippets for the hits shown only, in one walk of the matches between the oldest and the
        // newest hit (all among the recent candidates). A lookup per hit by `rowid =` would cost a seek
        // through every matched term's list each: for common words that was most of a query's time.
        let (Some(oldest), Some(newest)) = (best.iter().map(|hit| hit.0).min(), best.iter().map(|hit| hit.0).max())
        else {
            read.commit().await?;
            return Ok(Vec::new());
        };
        let ids = format!("[{}]", best.iter().map(|hit| hit.0.to_string()).collect::<Vec<_>>().join(","));
        let mut marked: HashMap<i64, (String, String)> = sqlx::query_as::<_, (i64, String, String)>(
            "SELECT rowid, highlight(search_index, 0, ?1, ?2), snippet(search_index, 1, ?1, ?2, '…', ?3)
             FROM search_index
             WHERE search_index MATCH ?4 AND rowid >= ?5 AND rowid <= ?6
               AND +rowid IN (SELECT value FROM json_each(?7))",
        )
        .bind(MATCH_START.to_string())
        .bind(MATCH_END.to_string())
        .bind(SNIPPET_TOKENS)
        .bind(&query)
        .bind(oldest)
        .bind(newest)
        .bind(ids)
        .fetch_all(&mut *read)
        .await?
        .into_iter()
        .map(|(id, title, snippet)| (id, (title, snippet)))
        .collect();
        let rows: Vec<_> = best
            .into_iter()
            .filter_map(|(id, kind, team, item)| {
                let (title, snippet) = marked.remove(&id)?;
                Some((kind, team, item, title, snippet))
            })
            .collect();
        read.commit().await?;
        rows.into_iter()
            .map(|(kind, team, id, title, snippet)| {
                let team_id =
                    team.parse().map_err(|_| NodeError::Corrupt(format!("team id {team} in the search index")))?;
                let target = match kind.as_str() {
                    "message" => SearchTarget::Message {
                        seq: id.parse().map_err(|_| NodeError::Corrupt(format!("message seq {id} in the index")))?,
                    },
                    "project" => SearchTarget::Project { project_id: id },
                    _ => SearchTarget::Document { url: id },
                };
                Ok(SearchHit { team_id, target, title, snippet })
            })
            .collect()
    }
}

/// Indexes documents' titles in the caller's transaction; a document's text is kept as last indexed.
pub(crate) async fn index_document_titles(
    tx: &mut SqliteConnection,
    documents: &[DocumentEntry],
) -> Result<(), NodeError> {
    for document in documents {
        let url = document.document_id.to_string();
        let body: Option<String> = sqlx::query_scalar(
            "SELECT s.body FROM search_index s JOIN search_items i ON i.id = s.rowid
             WHERE i.kind = 'document' AND i.team_id = ? AND i.item_id = ?",
        )
        .bind(document.team_id.to_string())
        .bind(&url)
        .fetch_optional(&mut *tx)
        .await?;
        let item = Item {
            kind: "document",
            team: document.team_id,
            id: &url,
            at: millis(document.created_at),
            title: &document.title,
            body: body.as_deref().unwrap_or_default(),
        };
        put(&mut *tx, item).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_the_last_one_typed_is_a_prefix_and_fts_syntax_is_plain_text() {
        assert_eq!(fts_query("deploy pla").as_deref(), Some("\"deploy\" \"pla\"*"));
        assert_eq!(fts_query("deploy plan ").as_deref(), Some("\"deploy\" \"plan\""));
        assert_eq!(fts_query("NEAR(\"a\" OR b*) col:x").as_deref(), Some("\"NEAR\" \"a\" \"OR\" \"b\" \"col\" \"x\"*"));
        assert_eq!(fts_query("  ***  \"\" () "), None);
        assert_eq!(fts_query("Ünïcödé 日本"), Some("\"Ünïcödé\" \"日本\"*".into()));
        let long = "a".repeat(10_000);
        assert!(fts_query(&long).is_some_and(|q| q.len() <= MAX_QUERY_CHARS + 4));
    }
}
