// Team settings: what members see, project defaults, webhook retention (owners and admins change them);
// renaming the team (owners and admins) and deleting it (owners, after typing its name).
import { type FormEvent, useEffect, useState } from "react";
import { commands, type ProjectStatus, type TeamMembership, type TeamSettings as Settings } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { useReconnects } from "../../lib/reconnects";

const STATUSES: ProjectStatus[] = ["planned", "active", "paused", "completed", "archived"];

export function TeamSettings({ team, onChanged }: { team: TeamMembership; onChanged?: (deleted: boolean) => void }) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const canEdit = team.role === "owner" || team.role === "admin";

  const reconnects = useReconnects();

  useEffect(() => {
    // Loaded already: the relay coming back does not replace what may be being edited. (Another team is
    // another component: the workspace keys this one by team.)
    if (reconnects > 0 && settings) return;
    // Only the latest read counts: a failed one answering late must not bring its notice back.
    let latest = true;
    call(commands.teamSettings(team.id)).then(
      (loaded) => {
        if (!latest) return;
        setSettings(loaded);
        setError(null);
      },
      (e) => latest && setError(messageOf(e)),
    );
    return () => {
      latest = false;
    };
  }, [team.id, reconnects]);

  async function save(e: FormEvent) {
    e.preventDefault();
    if (!settings) return;
    setError(null);
    setSaved(false);
    try {
      setSettings(await call(commands.updateTeamSettings(team.id, settings)));
      setSaved(true);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  const change = (patch: Partial<Settings>) => {
    setSaved(false);
    setSettings((s) => (s ? { ...s, ...patch } : s));
  };

  return (
    <section className="panel">
      <h2>Settings for {team.name}</h2>
      {!settings && !error && <p className="empty">Loading…</p>}
      {settings && (
        <form className="settings" onSubmit={save} data-testid="team-settings">
          <fieldset disabled={!canEdit}>
            <label>
              Description
              <textarea value={settings.description} maxLength={500} onChange={(e) => change({ description: e.target.value })} data-testid="team-description" />
            </label>
            <label>
              New projects start as
              <select value={settings.default_project_status} onChange={(e) => change({ default_project_status: e.target.value as ProjectStatus })}>
                {STATUSES.map((s) => (
                  <option key={s} value={s}>
                    {s}
                  </option>
                ))}
              </select>
            </label>
            <label className="check">
              <input type="checkbox" checked={settings.members_can_create_projects} onChange={(e) => change({ members_can_create_projects: e.target.checked })} />
              Members (not only admins) may create projects
            </label>
            <label>
              Keep raw webhook payloads for (days)
              <input
                type="number"
                min={1}
                max={365}
                value={settings.webhook_payload_retention_days}
                onChange={(e) => change({ webhook_payload_retention_days: Number(e.target.value) })}
              />
            </label>
            {canEdit && (
              <button type="submit" className="primary" data-testid="save-settings">
                Save
              </button>
            )}
          </fieldset>
          {!canEdit && <p className="empty">Only owners and admins change these.</p>}
          {saved && (
            <p className="marker" data-testid="settings-saved">
              Saved.
            </p>
          )}
        </form>
      )}
      <ErrorLine error={error} />
      {canEdit && <RenameTeam team={team} onRenamed={() => onChanged?.(false)} />}
      {team.role === "owner" && <DeleteTeam team={team} onDeleted={() => onChanged?.(true)} />}
    </section>
  );
}

function RenameTeam({ team, onRenamed }: { team: TeamMembership; onRenamed: () => void }) {
  const [name, setName] = useState(team.name);
  const [error, setError] = useState<string | null>(null);

  async function rename(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await call(commands.renameTeam(team.id, name.trim()));
      onRenamed();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <form className="settings inline-form" onSubmit={rename} data-testid="rename-team">
      <label>
        Team name
        <input value={name} onChange={(e) => setName(e.target.value)} maxLength={80} required data-testid="team-name" />
      </label>
      <button type="submit" disabled={name.trim() === "" || name.trim() === team.name} data-testid="save-team-name">
        Rename
      </button>
      <ErrorLine error={error} />
    </form>
  );
}

function DeleteTeam({ team, onDeleted }: { team: TeamMembership; onDeleted: () => void }) {
  const [typed, setTyped] = useState("");
  const [error, setError] = useState<string | null>(null);

  async function remove(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await call(commands.deleteTeam(team.id));
      onDeleted();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <form className="settings danger-zone" onSubmit={remove} data-testid="delete-team">
      <h3>Delete this team</h3>
      <p className="empty">
        Its chat, projects and documents are deleted for everyone, and cannot be brought back. Type <strong>{team.name}</strong> to confirm.
      </p>
      <label>
        Team name
        <input value={typed} onChange={(e) => setTyped(e.target.value)} aria-label={`Type ${team.name} to confirm`} data-testid="delete-team-name" />
      </label>
      <button type="submit" className="danger" disabled={typed !== team.name} data-testid="confirm-delete-team">
        Delete team
      </button>
      <ErrorLine error={error} />
    </form>
  );
}
