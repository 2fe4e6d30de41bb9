//! Documents on the node: stored in the node's own SQLite (samod storage), synced with the relay while
//! online, registered to their team through the outbox so creating one works offline too.

use reqwest::Method;
use teamflow_protocol::api::projects::ProjectPatch;
use teamflow_protocol::api::teams::{DeletedDocument, DocumentEntry, RegisterDocument, RenameDocument};
use teamflow_protocol::{DocumentUrl, ProjectId, TeamId};
use teamflow_sync::samod::DocHandle;
use teamflow_sync::{ClientConfig, Presence, PresenceConfig, PresenceSession, SqliteStorage, SyncClient, TextWriter};

use crate::p2p::PeerSharePolicy;
use crate::{Node, NodeError};

impl Node {
    /// Runs `work` with the signed-in user's sync client, creating it on first use.
    async fn with_sync<T>(
        &self,
        work: impl AsyncFnOnce(&mut SyncClient) -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        let mut sync = self.sync.lock().await;
        if self.shut_down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(NodeError::Sync("the node has shut down".into()));
        }
        // Not only when the client is made: the relay may have ended the sign-in since, and the documents the
        // client holds are the signed-in account's alone.
        self.require_sign_in()?;
        if sync.is_none() {
            let user = self.user().await.ok_or(NodeError::SignedOut)?;
            // The device's libp2p peer id names it, so teammates can pin its sync identity to its certificate.
            let mut config = ClientConfig::new(self.api.base(), user.id, self.device_peer_id());
            config.tls = Some(self.tls.clone());
            config.unload_idle = Some(self.unload_idle);
            let storage = SqliteStorage::new(self.db.clone());
            *self.storage_backlog.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(storage.backlog());
            let policy =
                PeerSharePolicy::new(self.db.clone(), self.admitted.subscribe(), self.document_teams.subscribe());
            let client = SyncClient::with_storage_and_policy(config, self.token.subscribe(), storage, policy).await;
            self.tasks.spawn(self.status.clone().follow(client.status()));
            self.tasks.spawn(crate::forgotten::follow(
                self.db.clone(),
                client.loaded_documents(),
                client.tracking(),
                self.document_teams.subscribe(),
                client.stopping(),
            ));
            *sync = Some(client);
        }
        match sync.as_mut() {
            Some(client) => work(client).await,
            None => Err(NodeError::SignedOut),
        }
    }

    /// The document repo, created with the sync client if need be (the peer-to-peer swarm syncs through it).
    pub(crate) async fn with_repo(&self) -> Result<teamflow_sync::samod::Repo, NodeError> {
        self.with_sync(async |sync| Ok(sync.repo().clone())).await
    }

    /// Starts syncing documents with the relay (redialing with backoff whenever the link drops) and waits
    /// for the first connection.
    pub async fn go_online(&self) -> Result<(), NodeError> {
        // A fresh token first: the dialer presents whatever the token channel holds.
        let token = self.access_token().await?;
        self.token.send_replace(token);
        self.with_sync(async |sync| sync.go_online().await.map_err(|e| NodeError::Sync(e.to_string()))).await
    }

    /// After a registration reaches the relay: a document it refused earlier on the open link is offered
    /// again by reconnecting (see `SyncClient::reconnect`). Nothing to do while offline.
    pub(crate) async fn announce_documents(&self) -> Result<(), NodeError> {
        if let Some(sync) = self.sync.lock().await.as_mut()
            && sync.is_online()
        {
            sync.reconnect().await.map_err(|e| NodeError::Sync(e.to_string()))?;
        }
        Ok(())
    }

    /// Stops syncing; documents stay editable and are kept locally.
    pub async fn go_offline(&self) {
        if let Some(sync) = self.sync.lock().await.as_mut() {
            sync.go_offline();
        }
    }

    /// Creates a text document for `team`, stored locally at once. Its registration with the team goes
    /// through the outbox, so this works offline; the relay shares it once registered.
    pub async fn create_document(
        &self,
        team: TeamId,
        title: &str,
        text: &str,
    ) -> Result<(DocumentUrl, DocHandle), NodeError> {
        self.add_document(team, title, Content::Text(text)).await
    }

    /// Imports a saved Automerge document (with its history) as a new document of `team`, registered through
    /// the outbox like `create_document`.
    pub async fn import_document(
        &self,
        team: TeamId,
        title: &str,
        saved: &[u8],
    ) -> Result<(DocumentUrl, DocHandle), NodeError> {
        self.add_document(team, title, Content::Saved(saved)).await
    }

    /// Stores a new document locally, follows it in `status`, and queues its registration with `team`.
    async fn add_document(
        &self,
        team: TeamId,
        title: &str,
        content: Content<'_>,
    ) -> Result<(DocumentUrl, DocHandle), NodeError> {
        // Its first change names whoever creates it, so history can say who (an import keeps its own).
        let author = self.user().await.map(|user| user.id.to_string());
        let (url, handle) = self
            .with_sync(async |sync| {
                let created = match content {
                    Content::Text(text) => sync.create_text_by(text, author.as_deref()).await,
                    Content::Saved(saved) => sync.import(saved).await,
                };
                let (url, handle) = created.map_err(|e| NodeError::Sync(e.to_string()))?;
                sync.track(&handle).map_err(|e| NodeError::Sync(e.to_string()))?;
                Ok((url, handle))
            })
            .await?;
        self.register(team, title, &url).await?;
        self.index_new_document(team, &url.to_string(), title, &teamflow_sync::read_text(&handle)).await?;
        Ok((url, handle))
    }

    async fn register(&self, team: TeamId, title: &str, url: &DocumentUrl) -> Result<(), NodeError> {
        self.remember_document_teams(team, &[url.to_string()]).await?;
        let registration = RegisterDocument { document_id: url.to_string(), title: title.to_owned(), project_id: None };
        self.enqueue_document(team, registration).await?;
        match self.flush().await {
            Ok(_) | Err(NodeError::SignedOut) => Ok(()),
            Err(e) => {
                tracing::info!(error = %e, "document registration queued; will retry");
                Ok(())
            }
        }
    }

    /// Notes that `documents` belong to `team`, for the peer-to-peer share policy (and, one deleted lately and
    /// kept here, that it was restored): one transaction, and the policy is told only when a document was
    /// new here.
    pub(crate) async fn remember_document_teams(&self, team: TeamId, documents: &[String]) -> Result<(), NodeError> {
        let mut tx = self.db.begin().await?;
        crate::forgotten::restored(&mut tx, documents).await?;
        let inserted = insert_document_teams(&mut tx, team, documents).await?;
        tx.commit().await?;
        if inserted > 0 {
            self.document_teams.send_modify(|generation| *generation += 1);
        }
        Ok(())
    }

    /// Keeps the relay's list of `team`'s documents, the answer to a question asked at `asked`: which
    /// documents are the team's, and their titles for search; when the list is the relay's own now
    /// (`unforget`: the documents forgotten before asking), those of them forgotten are readable again.
    /// None of it when the team was forgotten since.
    pub(crate) async fn keep_document_list(
        &self,
        team: TeamId,
        documents: &[DocumentEntry],
        asked: crate::forgotten::Asked,
        unforget: Option<&std::collections::HashSet<String>>,
    ) -> Result<(), NodeError> {
        let Some(mut tx) = self.begin_answer_write(Some(team), asked).await? else {
            return Ok(());
        };
        let urls: Vec<String> = documents.iter().map(|d| d.document_id.to_string()).collect();
        if let Some(forgotten) = unforget {
            crate::forgotten::remember(&mut tx, &urls, forgotten).await?;
        }
        let inserted = insert_document_teams(&mut tx, team, &urls).await?;
        crate::search::index_document_titles(&mut tx, documents).await?;
        tx.commit().await?;
        if inserted > 0 {
            self.document_teams.send_modify(|generation| *generation += 1);
        }
        Ok(())
    }

    /// Renames a document (not viewers; needs the relay). The team's rooms hear of it; other devices of
    /// this user read the new title from the list when they next fetch it.
    pub async fn rename_document(
        &self,
        team: TeamId,
        url: &DocumentUrl,
        title: &str,
    ) -> Result<DocumentEntry, NodeError> {
        let path = format!("/api/teams/{team}/documents/{url}");
        let asked = self.asking();
        let entry: DocumentEntry =
            self.authed(Method::PATCH, &path, Some(&RenameDocument { title: title.to_owned() })).await?;
        self.index_document_titles(std::slice::from_ref(&entry), asked).await?;
        // The cached list follows, so the new title shows offline too.
        self.documents(team).await?;
        Ok(entry)
    }

    /// Deletes a document (admins, owners and its creator; needs the relay). The relay keeps it restorable
    /// for 30 days (`restore_document`); here it leaves the list, the search index and peer-to-peer sync.
    pub async fn delete_document(&self, team: TeamId, url: &DocumentUrl) -> Result<(), NodeError> {
        let path = format!("/api/teams/{team}/documents/{url}");
        let _: serde_json::Value = self.authed::<(), _>(Method::DELETE, &path, None).await?;
        self.forget_document(team, url).await?;
        self.documents(team).await?;
        Ok(())
    }

    /// The team's deleted documents this user may restore, while they can be (needs the relay).
    pub async fn deleted_documents(&self, team: TeamId) -> Result<Vec<DeletedDocument>, NodeError> {
        self.authed::<(), _>(Method::GET, &format!("/api/teams/{team}/documents/deleted"), None).await
    }

    /// Brings back a deleted document (the people who may delete it; needs the relay).
    pub async fn restore_document(&self, team: TeamId, url: &DocumentUrl) -> Result<DocumentEntry, NodeError> {
        let path = format!("/api/teams/{team}/documents/{url}/restore");
        let entry: DocumentEntry = self.authed(Method::POST, &path, Some(&serde_json::json!({}))).await?;
        // Listing it again indexes its title and offers it to teammates' devices again.
        self.documents(team).await?;
        Ok(entry)
    }

    /// Drops a deleted document from what this device shares and finds: its team entry (so peers are no
    /// longer offered it), its search entry and its preview. Its content stays, and opens, as long as the
    /// relay can restore it (the relay refuses its sync meanwhile) (an edit made here offline comes back with a
    /// restore), then is purged; listed again (restored), it is the team's again.
    pub(crate) async fn forget_document(&self, team: TeamId, url: &DocumentUrl) -> Result<(), NodeError> {
        let mut tx = crate::store::begin_write(&self.db).await?;
        let kept = i64::try_from(self.deleted_kept.as_millis()).unwrap_or(i64::MAX);
        crate::forgotten::forget_deleted(&mut tx, team, url, crate::forgotten::now_ms().saturating_add(kept)).await?;
        sqlx::query("DELETE FROM document_teams WHERE document_id = ? AND team_id = ?")
            .bind(url.as_str())
            .bind(team.to_string())
            .execute(&mut *tx)
            .await?;
        crate::search::forget_document(&mut tx, team, url).await?;
        crate::previews::forget_document(&mut tx, team, url.as_str()).await?;
        tx.commit().await?;
        // Share decisions are taken again without it (when it was shared), and the purge learns when it is due.
        self.document_teams.send_modify(|generation| *generation += 1);
        Ok(())
    }

    /// Bumped whenever a document learns its team or a team's documents are forgotten.
    pub(crate) fn watch_document_teams(&self) -> tokio::sync::watch::Receiver<u64> {
        self.document_teams.subscribe()
    }

    /// Whether `url` belongs to a team this user no longer reads (`crate::forgotten`).
    pub(crate) async fn is_forgotten(&self, url: &DocumentUrl) -> Result<bool, NodeError> {
        crate::forgotten::is_forgotten(&self.db, url.as_str()).await
    }

    /// Purges the content of forgotten documents (`crate::forgotten`) that are not in memory now. Never
    /// waits on the sync client's lock (held while it connects, say): when it is taken, the client exists
    /// or is being made, and its follower purges on `document_teams`' bump. A failure is logged; the
    /// follower tries again at the next change.
    pub(crate) async fn purge_forgotten(&self) {
        let Ok(sync) = self.sync.try_lock() else { return };
        let purged = match sync.as_ref().map(|client| (client.loaded_documents(), client.tracking())) {
            Some((loaded, tracking)) => {
                drop(sync);
                crate::forgotten::purge(&self.db, &loaded, Some(&tracking)).await
            }
            // Without a sync client nothing is in memory, and none starts while `sync` is held.
            None => crate::forgotten::purge(&self.db, &tokio::sync::watch::channel(Default::default()).1, None).await,
        };
        if let Err(e) = purged {
            tracing::warn!(error = %e, "purging forgotten documents failed; tried again at the next change");
        }
    }

    /// The way to type into a document: each edit its own change, applied in order, with bursts (a paste, a
    /// replay) sharing samod passes and held back while the local store catches up.
    pub async fn text_writer(&self, handle: &DocHandle) -> Result<TextWriter, NodeError> {
        self.with_sync(async |_| Ok(())).await?;
        let backlog = self.storage_backlog.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        Ok(match backlog {
            Some(backlog) => TextWriter::with_backlog(handle.clone(), backlog),
            None => TextWriter::new(handle.clone()),
        })
    }

    /// Opens a document from local storage, or from the relay when it is only there. None for a document
    /// this device does not have and cannot get, and for one of a team this user no longer reads.
    pub async fn open_document(&self, url: &DocumentUrl) -> Result<Option<DocHandle>, NodeError> {
        self.with_sync(async |sync| {
            // Under the sync client's lock: a team forgotten meanwhile has its documents untracked only after.
            if self.is_forgotten(url).await? {
                return Ok(None);
            }
            let handle = sync.open(url).await.map_err(|e| NodeError::Sync(e.to_string()))?;
            if let Some(handle) = &handle {
                sync.track(handle).map_err(|e| NodeError::Sync(e.to_string()))?;
            }
            Ok(handle)
        })
        .await
    }

    /// Shows this user on the document (name and a colour of their own; no caret until they place one with
    /// `set_cursor`, so teammates never see one at the start that nobody put there) and follows who else is
    /// there; peers that go quiet drop out after the default timeout. Drop the session to leave.
    pub async fn join_presence(&self, handle: &DocHandle) -> Result<PresenceSession, NodeError> {
        let user = self.user().await.ok_or(NodeError::SignedOut)?;
        let peer_id = self.with_sync(async |sync| Ok(sync.peer_id().to_string())).await?;
        let me =
            Presence { user_id: user.id, peer_id, color: user_color(user.id), name: user.display_name, cursor: None };
        Ok(PresenceSession::join(handle, me, PresenceConfig::default()))
    }

    /// The project's document, created (and linked to the project through the outbox) on first use, so
    /// opening a project's document works offline too.
    pub async fn project_document(&self, team: TeamId, project: ProjectId) -> Result<DocumentUrl, NodeError> {
        let project =
            self.projects(team).await?.into_iter().find(|p| p.id == project).ok_or(NodeError::NotFound("project"))?;
        if let Some(url) = project.document_id {
            return Ok(url);
        }
        let (url, _) = self.create_document(team, &project.name, "").await?;
        let link = ProjectPatch { document_id: Some(Some(url.to_string())), ..ProjectPatch::default() };
        self.patch_project(team, project.id, link).await?;
        Ok(url)
    }

    /// The documents in memory, as they load and unload: those open (a handle is alive), and those with
    /// something to sync, for at most `with_unload_idle` after they were last used.
    pub async fn loaded_documents(
        &self,
    ) -> Result<tokio::sync::watch::Receiver<std::collections::HashSet<teamflow_sync::samod::DocumentId>>, NodeError>
    {
        self.with_sync(async |sync| Ok(sync.loaded_documents())).await
    }

    /// Waits until this device has everything the relay has announced for the document on the current
    /// connection (false while offline): see [`teamflow_sync::SyncClient::caught_up_with_relay`].
    pub async fn caught_up_with_relay(&self, handle: &DocHandle) -> Result<bool, NodeError> {
        self.with_sync(async |sync| Ok(sync.caught_up_with_relay(handle).await)).await
    }

    /// Whether the relay has every local change to the document (false while offline).
    pub async fn synced_with_relay(&self, handle: &DocHandle) -> Result<bool, NodeError> {
        self.with_sync(async |sync| Ok(sync.synced_with_relay(handle).await)).await
    }
}

/// A stable colour per user, the same on every device, from a palette readable on light and dark themes.
fn user_color(user: teamflow_protocol::UserId) -> String {
    const PALETTE: [&str; 8] = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#008080", "#9a6324", "#f032e6"];
    let index = user.to_string().bytes().fold(0usize, |acc, b| acc.wrapping_mul(31).wrapping_add(usize::from(b)));
    PALETTE[index % PALETTE.len()].to_owned()
}

/// What a new document starts from.
enum Content<'a> {
    Text(&'a str),
    /// A saved Automerge document, history included.
    Saved(&'a [u8]),
}

/// Notes that `documents` belong to `team` in the caller's transaction; how many were new here.
async fn insert_document_teams(
    tx: &mut sqlx::SqliteConnection,
    team: TeamId,
    documents: &[String],
) -> Result<u64, NodeError> {
    let mut inserted = 0;
    for document in documents {
        inserted += sqlx::query(
            "INSERT INTO document_teams (document_id, team_id) VALUES (?, ?) ON CONFLICT (document_id) DO NOTHING",
        )
        .bind(document)
        .bind(team.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}
