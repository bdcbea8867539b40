/**
 * Slack incoming-webhook adapter for the Notifier port, and the only module that calls fetch() for
 * Slack. POSTs `{text, blocks}` (https://api.slack.com/messaging/webhooks); retries 429 (honouring
 * Retry-After) and 5xx a bounded number of times. The webhook URL is a secret: it is registered
 * with core/redact, never logged, and redacted from every error; every notice is sanitised
 * (core/redact) before it is posted, so a secret quoted in a failure reason never reaches Slack.
 */
import { AiboxError, describeError } from '../core/errors.js';
import { registerSecret, registerUrlCredentials, sanitize } from '../core/redact.js';
import { silentLogger, type Logger } from '../core/log.js';
import { RETRY_STATUSES, nextRetry, type RetryPolicy } from '../core/retry.js';
import { isLoopbackRegistry } from '../oci/reference.js';
import type { Notice, Notifier } from './notifier.js';

export interface SlackNotifierOptions {
  /** Incoming webhook URL (config `notify.slackWebhook`), e.g. https://hooks.slack.com/services/T…/B…/… */
  readonly webhookUrl: string;
  readonly logger?: Logger;
  /** Total attempts, including the first; default 4. */
  readonly maxAttempts?: number;
  /** Longest Retry-After honoured before giving up; default 60 s. */
  readonly maxRetryAfterMs?: number;
  /** Per-request limit; default 10 s. */
  readonly requestTimeoutMs?: number;
  /** Injected for tests; default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Block Kit message: `text` is the notification fallback, `blocks` the rendered layout. */
export interface SlackPayload {
  readonly text: string;
  readonly blocks: readonly Record<string, unknown>[];
}

/** Slack's mrkdwn needs &, < and > escaped (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escapeSlack(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

const SEVERITY_MARK = {
  info: ':information_source:',
  warning: ':warning:',
  critical: ':rotating_light:',
} as const;

/** The notice with every string passed through core/redact's `sanitize` (secrets, controls). */
export function sanitizeNotice(n: Notice): Notice {
  return {
    title: sanitize(n.title),
    text: sanitize(n.text),
    severity: n.severity,
    ...(n.fields
      ? { fields: n.fields.map((f) => ({ label: sanitize(f.label), value: sanitize(f.value) })) }
      : {}),
  };
}

/**
 * Build the webhook body for a notice (Block Kit limits: header 150, section 3000, 10 fields of
 * 2000). The notice is sanitised first: this is the last step before it leaves the process.
 */
export function toSlackPayload(raw: Notice): SlackPayload {
  const notice = sanitizeNotice(raw);
  const blocks: Record<string, unknown>[] = [
    // The severity mark goes in the header so the message itself stays exactly as rendered.
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: clip(`${SEVERITY_MARK[notice.severity]} ${notice.title}`, 150),
        emoji: true,
      },
    },
    { type: 'section', text: { type: 'mrkdwn', text: clip(escapeSlack(notice.text), 3000) } },
  ];
  const fields = (notice.fields ?? []).slice(0, 10);
  if (fields.length > 0) {
    blocks.push({
      type: 'section',
      fields: fields.map((f) => ({
        type: 'mrkdwn',
        text: clip(`*${escapeSlack(f.label)}*\n${escapeSlack(f.value)}`, 2000),
      })),
    });
  }
  return { text: escapeSlack(notice.text), blocks };
}

/** What may be shown of a webhook URL: its origin only (the path is the credential). */
export function redactWebhook(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/***`;
  } catch {
    return '***';
  }
}

function sleepReal(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Posts notices to a Slack incoming webhook. */
export class SlackNotifier implements Notifier {
  readonly #url: string;
  readonly #shown: string;
  readonly #logger: Logger;
  readonly #attempts: number;
  readonly #maxRetryAfterMs: number;
  readonly #timeoutMs: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(o: SlackNotifierOptions) {
    registerSecret(o.webhookUrl);
    let u: URL;
    try {
      u = new URL(o.webhookUrl);
    } catch {
      throw new AiboxError({
        code: 'CONFIG_INVALID',
        message: 'invalid notify.slackWebhook: not a URL',
        hint: 'Paste the incoming webhook URL from the Slack app settings (https://hooks.slack.com/services/…)',
      });
    }
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackRegistry(u.host))) {
      throw new AiboxError({
        code: 'CONFIG_INVALID',
        message: `invalid notify.slackWebhook ${redactWebhook(o.webhookUrl)}: must be https`,
        hint: 'Slack webhooks are https://hooks.slack.com/services/…',
      });
    }
    this.#url = u.toString();
    this.#shown = redactWebhook(o.webhookUrl);
    // The whole URL, its normalised form and its path are each enough to post: all are secrets.
    for (const s of [o.webhookUrl, this.#url, `${u.pathname}${u.search}`])
      if (s.length > 1) registerSecret(s);
    registerUrlCredentials(o.webhookUrl);
    this.#logger = o.logger ?? silentLogger;
    this.#attempts = Math.max(1, o.maxAttempts ?? 4);
    this.#maxRetryAfterMs = o.maxRetryAfterMs ?? 60_000;
    this.#timeoutMs = o.requestTimeoutMs ?? 10_000;
    this.#sleep = o.sleep ?? sleepReal;
  }

  #redact(text: string): string {
    return sanitize(text);
  }

  #fail(message: string, hint: string, details?: Record<string, unknown>): AiboxError {
    return new AiboxError({
      code: 'NOTIFY_FAILED',
      message: this.#redact(message),
      hint,
      ...(details ? { details } : {}),
    });
  }

  /** Post one notice, retrying 429/5xx/network errors up to the attempt limit. */
  async notify(notice: Notice): Promise<void> {
    const body = JSON.stringify(toSlackPayload(notice));
    const policy: RetryPolicy = {
      attempts: this.#attempts,
      baseMs: 1000,
      capMs: 60_000,
      maxRetryAfterMs: this.#maxRetryAfterMs,
      jitter: false,
    };
    // A webhook POST is not idempotent, but a notice posted twice beats an on-call page lost, so
    // the notifier opts in to retries (core/retry's idempotency rule is the caller's statement).
    const idempotent = true;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(this.#url, {
          method: 'POST',
          redirect: 'error',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (e: unknown) {
        // undici may name the URL in its message; never pass the raw error on.
        const why = this.#redact(describeError(e));
        const next = nextRetry(policy, attempt, idempotent, { kind: 'network', transient: true }, Date.now());
        if (next.retry) {
          this.#logger.debug(`Slack webhook ${this.#shown}: ${why}; retrying`);
          await this.#sleep(next.waitMs);
          continue;
        }
        throw this.#fail(
          `could not post to Slack webhook ${this.#shown} after ${attempt} attempt(s): ${why}`,
          'Check network access to hooks.slack.com',
        );
      }
      const text = clip((await res.text()).trim(), 200);
      if (res.ok) {
        this.#logger.debug(`Posted "${notice.title}" to Slack webhook ${this.#shown}`);
        return;
      }
      const retryable = RETRY_STATUSES.has(res.status);
      const next = nextRetry(
        policy,
        attempt,
        idempotent,
        { kind: 'status', status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined },
        Date.now(),
      );
      if (next.retry) {
        this.#logger.debug(
          `Slack webhook ${this.#shown} answered ${res.status}; retrying in ${next.waitMs} ms`,
        );
        await this.#sleep(next.waitMs);
        continue;
      }
      throw this.#fail(
        `Slack webhook ${this.#shown} refused "${notice.title}" with ${res.status}${text ? ` ${text}` : ''}${
          retryable ? ` after ${attempt} attempt(s)` : ''
        }`,
        res.status === 404 || res.status === 403 || res.status === 410
          ? 'The webhook was revoked or its channel archived; create a new incoming webhook and update notify.slackWebhook'
          : res.status === 400
            ? 'Slack rejected the message format (invalid_payload); report this as an aibox bug'
            : 'Slack is rate limiting or unavailable; the notice can be re-sent later',
        { status: res.status },
      );
    }
  }
}
