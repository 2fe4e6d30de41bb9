// Team settings: what members see, project defaults, webhook retention. Owners and admins change them.
import { type FormEvent, useEffect, useState } from "react";
import { commands, type ProjectStatus, type TeamMembership, type TeamSettings as Settings } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";

const STATUSES: ProjectStatus[] = ["planned", "active", "paused", "completed", "archived"];

export function TeamSettings({ team }: { team: TeamMembership }) {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const canEdit = team.role === "owner" || team.role === "admin";

  useEffect(() => {
    call(commands.teamSettings(team.id)).then(setSettings, (e) => setError(messageOf(e)));
  }, [team.id]);

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
    </section>
  );
}
