// What to do at each provider with a new integration's webhook URL and secret, in the provider's own words,
// what each needs from the person when connecting, which webhook URLs no provider could reach, and what a
// refused delivery tells the admin.
import type { Service } from "../../bindings";

export const SERVICES: { service: Service; name: string }[] = [
  { service: "github", name: "GitHub" },
  { service: "slack", name: "Slack" },
  { service: "trello", name: "Trello" },
];

export const serviceName = (service: Service) => SERVICES.find((s) => s.service === service)?.name ?? service;

/** Whether connecting needs the provider's secret typed in (GitHub's is made here). */
export const needsSecret = (service: Service) => service !== "github";

/** The provider's steps, in order. */
export function steps(service: Service): string[] {
  switch (service) {
    case "github":
      return [
        "In the repository (or organisation) on GitHub, open Settings → Webhooks → Add webhook.",
        "Paste the webhook URL into Payload URL and choose Content type application/json.",
        "Paste the secret into Secret, choose the events to send, and click Add webhook.",
      ];
    case "slack":
      return [
        "At api.slack.com/apps, open your app → Event Subscriptions and turn Enable Events on.",
        "Paste the webhook URL into Request URL; Slack checks it at once.",
        "Subscribe to the bot events you want (message.channels, for instance) and save. The secret is your app's Signing Secret (Basic Information).",
      ];
    case "trello":
      return [
        "Create a webhook with Trello's API: POST https://api.trello.com/1/webhooks with callbackURL set to the webhook URL and idModel set to the board's id.",
        "The secret is your Power-Up's API secret (trello.com/power-ups/admin), which Trello signs every delivery with.",
      ];
  }
}

/**
 * Whether a provider on the internet could not reach `url`: the relay, started without `--public-url`,
 * names the address it bound (`0.0.0.0`, a loopback address, a private network's) or a name only its own
 * machine knows.
 */
export function unreachableFromOutside(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return true;
  }
  if (host === "localhost" || host.endsWith(".localhost") || host === "::" || host === "::1") return true;
  // Unique local and link-local IPv6 (fc00::/7, fe80::/10).
  if (host.includes(":")) return /^f[cd]/.test(host) || /^fe[89ab]/.test(host);
  const v4 = host.match(/^(\d+)\.(\d+)\.\d+\.\d+$/);
  if (!v4) return false;
  const [a, b] = [Number(v4[1]), Number(v4[2])];
  // Unspecified, loopback, private (RFC 1918) and link-local.
  return a === 0 || a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
}

/** The stable code a refusal's reason starts with (`invalid_signature`, `validation_failed`). */
export const refusalCode = (reason: string) => reason.split(": ")[0];

/** What a refused delivery means for the admin, from the relay's reason (`code: detail`). */
export function refusalAdvice(service: Service, reason: string): string {
  const name = serviceName(service);
  const [code, ...rest] = reason.split(": ");
  if (code === "invalid_signature") {
    return `${name} is sending, but its signature does not match this integration's secret. Paste the secret again at ${name}, or rotate it here and paste the new one.`;
  }
  return `${name} is sending something the relay cannot read${rest.length > 0 ? `: ${rest.join(": ")}` : ""}.`;
}
