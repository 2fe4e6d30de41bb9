// What to do at each provider with a new integration's webhook URL and secret, in the provider's own words,
// and what each needs from the person when connecting.
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
