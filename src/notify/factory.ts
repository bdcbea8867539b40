/** Builds the configured Notifier (the edge where the Slack adapter is constructed). */
import type { Logger } from '../core/log.js';
import type { Notifier } from './notifier.js';
import { SlackNotifier } from './slack.js';

/** The Notifier for `notify.slackWebhook`, or undefined when no webhook is configured. */
export function notifierFromConfig(
  notify: { readonly slackWebhook: string | null },
  deps: { readonly logger?: Logger } = {},
): Notifier | undefined {
  if (!notify.slackWebhook) return undefined;
  return new SlackNotifier({
    webhookUrl: notify.slackWebhook,
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
}
