// A team's integrations for its owners and admins: connect GitHub, Slack or Trello in a dialog that shows the
// webhook URL and the secret once, with copy buttons and the provider's steps; list them with their state
// (paused, refusing deliveries and why, the last delivery; a URL no provider can reach warned about),
// rotate a secret (shown once again), remove one, and see the events the relay gave up on and why.
import { type FormEvent, useEffect, useState } from "react";
import { commands, type Integration, type IntegrationCreated, type Service, type TeamMembership, type WebhookFailure } from "../../bindings";
import { call, messageOf } from "../../lib/call";
import { ErrorLine } from "../../lib/ErrorLine";
import { useLatest } from "../../lib/latest";
import { useReconnects } from "../../lib/reconnects";
import { dateTime } from "../../lib/dates";
import { needsSecret, refusalAdvice, refusalCode, SERVICES, serviceName, steps, unreachableFromOutside } from "./steps";

function Copy({ text, label }: { text: string; label: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <span className="link-box">
      <input readOnly value={text} aria-label={label} onFocus={(e) => e.currentTarget.select()} />
      <button
        type="button"
        onClick={() =>
          navigator.clipboard.writeText(text).then(
            () => setCopied(true),
            () => setCopied(false),
          )
        }
        aria-label={`Copy ${label.toLowerCase()}`}
      >
        Copy
      </button>
      {copied && <span className="copied">Copied</span>}
    </span>
  );
}

const When = ({ at }: { at: string }) => <time dateTime={at}>{dateTime(at)}</time>;

/** Said beside a webhook URL that the provider could not reach, with what would fix it. */
function Unreachable({ url, service }: { url: string; service: Service }) {
  if (!unreachableFromOutside(url)) return null;
  return (
    <p className="warning" role="note" data-testid="integration-unreachable">
      {serviceName(service)} cannot reach this address: the relay was started without its public address. Ask whoever runs it to
      restart it with <code>--public-url https://relay.example.com</code> (its address on the internet), then remove this integration and connect
      again.
    </p>
  );
}

/** The webhook URL and secret, shown once, with what to do at the provider. */
export function Shown({ created, onDone }: { created: IntegrationCreated; onDone: () => void }) {
  return (
    <div className="fields" data-testid="integration-secret">
      <p>
        Paste these into {serviceName(created.service)}. <strong>The secret is shown only now</strong>: keep it there, not here.
      </p>
      <Copy text={created.webhook_url} label="Webhook URL" />
      <Unreachable url={created.webhook_url} service={created.service} />
      <Copy text={created.secret} label="Secret" />
      <ol className="steps">
        {steps(created.service).map((step) => (
          <li key={step}>{step}</li>
        ))}
      </ol>
      <button type="button" className="primary" onClick={onDone} data-testid="integration-done">
        Done
      </button>
    </div>
  );
}

function Connect({ team, onClose, onConnected }: { team: TeamMembership; onClose: () => void; onConnected: () => void }) {
  const [service, setService] = useState<Service>("github");
  const [secret, setSecret] = useState("");
  const [mirror, setMirror] = useState(false);
  const [created, setCreated] = useState<IntegrationCreated | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function connect(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const input = { service, secret: needsSecret(service) ? secret.trim() : null, mirror_to_chat: service === "slack" && mirror };
      setCreated(await call(commands.createIntegration(team.id, input)));
      onConnected();
    } catch (e) {
      setError(messageOf(e));
    }
  }

  // Escape closes it wherever the focus is, as the other dialogs do.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);

  return (
    <div className="overlay" onMouseDown={onClose}>
      <div className="dialog" role="dialog" aria-modal="true" aria-label="Connect a service" onMouseDown={(e) => e.stopPropagation()} data-testid="connect-dialog">
        <header>
          <h2>Connect a service</h2>
          <button type="button" className="close" onClick={onClose} aria-label="Close">
            ×
          </button>
        </header>
        {created ? (
          <Shown created={created} onDone={onClose} />
        ) : (
          <form className="fields" onSubmit={connect}>
            <label>
              Service
              <select value={service} onChange={(e) => setService(e.target.value as Service)} autoFocus data-testid="integration-service">
                {SERVICES.map((s) => (
                  <option key={s.service} value={s.service}>
                    {s.name}
                  </option>
                ))}
              </select>
            </label>
            {needsSecret(service) ? (
              <label>
                {service === "slack" ? "Slack signing secret" : "Trello API secret"}
                <input value={secret} onChange={(e) => setSecret(e.target.value)} required autoComplete="off" data-testid="integration-secret-input" />
              </label>
            ) : (
              <small>A secret is made for you and shown once.</small>
            )}
            {service === "slack" && (
              <label className="check">
                <input type="checkbox" checked={mirror} onChange={(e) => setMirror(e.target.checked)} />
                Also post Slack messages into this team's chat
              </label>
            )}
            <button type="submit" className="primary" data-testid="integration-connect">
              Connect {serviceName(service)}
            </button>
            <ErrorLine error={error} />
          </form>
        )}
      </div>
    </div>
  );
}

function Row({ team, integration, onChanged }: { team: TeamMembership; integration: Integration; onChanged: () => void }) {
  const name = serviceName(integration.service);
  const [shown, setShown] = useState<IntegrationCreated | null>(null);
  const [failures, setFailures] = useState<WebhookFailure[] | null>(null);
  const [removing, setRemoving] = useState(false);
  const [rotating, setRotating] = useState(false);
  const [newSecret, setNewSecret] = useState("");
  const [error, setError] = useState<string | null>(null);
  const rotated = (created: IntegrationCreated) => {
    setRotating(false);
    setNewSecret("");
    setShown(created);
    onChanged();
  };

  async function run<T>(what: Promise<T>, then: (value: T) => void) {
    setError(null);
    try {
      then(await what);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <li data-testid="integration">
      <div className="integration-head">
        <span className={`service ${integration.service}`}>{serviceName(integration.service)}</span>
        <span className="who">{integration.webhook_url}</span>
        {integration.disabled ? (
          <span className="state bad" data-testid="integration-disabled">
            Paused: {integration.disabled === "creator_removed" ? "whoever connected it left the team; rotate the secret to take it over" : integration.disabled}
          </span>
        ) : integration.refusing ? (
          <span className="state bad" data-testid="integration-refusing">
            Refusing deliveries
          </span>
        ) : (
          <span className="state ok" data-testid="integration-active">
            Active
          </span>
        )}
        {rotating ? (
          <form
            className="confirm"
            onSubmit={(e) => {
              e.preventDefault();
              void run(call(commands.rotateIntegration(team.id, integration.id, newSecret.trim())), rotated);
            }}
          >
            <input value={newSecret} onChange={(e) => setNewSecret(e.target.value)} required placeholder={`New ${serviceName(integration.service)} secret`} aria-label="New secret" data-testid="integration-new-secret" />
            <button type="submit">Save secret</button>
            <button type="button" onClick={() => setRotating(false)}>
              Cancel
            </button>
          </form>
        ) : (
          <button
            onClick={() =>
              // GitHub's secret is made here; Slack's and Trello's are the provider's, pasted after rotating there.
              needsSecret(integration.service) ? setRotating(true) : void run(call(commands.rotateIntegration(team.id, integration.id, null)), rotated)
            }
            data-testid="integration-rotate"
          >
            Rotate secret
          </button>
        )}
        <button onClick={() => void run(call(commands.integrationFailures(team.id, integration.id)), setFailures)} data-testid="integration-failures">
          Failed events
        </button>
        {removing ? (
          <span className="confirm">
            Remove it? Deliveries stop.
            <button className="danger" onClick={() => void run(call(commands.deleteIntegration(team.id, integration.id)), onChanged)} data-testid="integration-confirm-remove">
              Remove
            </button>
            <button onClick={() => setRemoving(false)}>Cancel</button>
          </span>
        ) : (
          <button onClick={() => setRemoving(true)} data-testid="integration-remove">
            Remove
          </button>
        )}
      </div>
      {!integration.disabled && (
        <p className="delivery-state" data-testid="integration-delivery">
          {integration.refusing && integration.last_delivery_at ? (
            // Deliveries are taken too: a second sender (an old webhook, or anyone who knows the URL) is
            // refused, not the provider, so the advice is not to rotate a secret that works.
            <>
              Some requests were refused (<When at={integration.refusing.at} />: {refusalCode(integration.refusing.reason).replace("_", " ")}), but {name}'s
              deliveries arrive (last <When at={integration.last_delivery_at} />). If {name} shows failed deliveries, paste the secret there again;
              otherwise something else is sending to this address.
            </>
          ) : integration.refusing ? (
            <>
              {refusalAdvice(integration.service, integration.refusing.reason)} Last refused <When at={integration.refusing.at} />.
            </>
          ) : integration.last_delivery_at ? (
            <>
              Last delivery <When at={integration.last_delivery_at} />.
            </>
          ) : (
            `Nothing delivered yet: ${serviceName(integration.service)} sends once its webhook is set up.`
          )}
        </p>
      )}
      {!shown && <Unreachable url={integration.webhook_url} service={integration.service} />}
      {shown && <Shown created={shown} onDone={() => setShown(null)} />}
      {failures && (
        <ul className="failures" data-testid="failure-list">
          {failures.length === 0 && <li className="empty">No failed events.</li>}
          {failures.map((f) => (
            <li key={f.event_id}>
              <strong>{f.event_type}</strong> {f.reason} <time dateTime={f.failed_at}>{dateTime(f.failed_at)}</time>
            </li>
          ))}
        </ul>
      )}
      <ErrorLine error={error} />
    </li>
  );
}

export function Integrations({ team }: { team: TeamMembership }) {
  const [list, setList] = useState<Integration[] | null>(null);
  const [connecting, setConnecting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // Only the latest read says whether the list could be read; a success clears what a failed one said.
  const latest = useLatest();
  const load = () =>
    latest(call(commands.integrations(team.id))).then(
      (read) => {
        setList(read);
        setError(null);
      },
      (e) => setError(messageOf(e)),
    );

  // Read again when the relay is back: the list may never have been read on this device.
  const reconnects = useReconnects();
  useEffect(() => {
    void load();
  }, [team.id, reconnects]);

  return (
    <section className="integrations" data-testid="integrations">
      <header className="panel-head">
        <h3>Integrations</h3>
        <button className="primary" onClick={() => setConnecting(true)} data-testid="connect-service">
          Connect a service
        </button>
      </header>
      {list?.length === 0 && <p className="empty">None yet: connect GitHub, Slack or Trello to see their events here.</p>}
      <ul className="integration-list">{list?.map((i) => <Row key={i.id} team={team} integration={i} onChanged={() => void load()} />)}</ul>
      <ErrorLine error={error} />
      {connecting && <Connect team={team} onClose={() => setConnecting(false)} onConnected={() => void load()} />}
    </section>
  );
}
