/**
 * Test double for a Slack incoming webhook on a loopback port
 * (https://api.slack.com/messaging/webhooks): POST JSON to the secret path → 200 "ok"; a wrong path
 * → 404 "no_service"; a body that is not JSON → 400 "invalid_payload"; neither text nor blocks →
 * 400 "no_text". Scripted answers (e.g. one 429 with Retry-After) are served first, in order.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ScriptedAnswer {
  readonly status: number;
  readonly body?: string;
  /** Retry-After header value (seconds). */
  readonly retryAfter?: string;
}

export interface SlackPost {
  readonly path: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

export interface SlackDouble {
  /** The full webhook URL, secret path included. */
  readonly webhookUrl: string;
  readonly origin: string;
  /** Accepted posts (200 answers), parsed. */
  readonly posts: SlackPost[];
  /** Every request, accepted or not. */
  readonly attempts: number;
  script(answers: readonly ScriptedAnswer[]): void;
  stop(): Promise<void>;
}

/** Start the double; `secretPath` is the path part of the webhook URL. */
export async function startSlackDouble(
  secretPath = '/services/T0AIBOX00/B0AIBOX00/s3cretW3bhookT0ken',
): Promise<SlackDouble> {
  const posts: SlackPost[] = [];
  let queue: ScriptedAnswer[] = [];
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      attempts += 1;
      const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'text/html', ...headers });
        res.end(text);
      };
      if (req.method !== 'POST' || req.url !== secretPath) {
        answer(404, 'no_service');
        return;
      }
      const next = queue.shift();
      if (next) {
        answer(next.status, next.body ?? '', next.retryAfter ? { 'retry-after': next.retryAfter } : {});
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        answer(400, 'invalid_payload');
        return;
      }
      const b = body as { text?: unknown; blocks?: unknown } | null; // JSON.parse can return null
      if (typeof b?.text !== 'string' && !Array.isArray(b?.blocks)) {
        answer(400, 'no_text');
        return;
      }
      posts.push({ path: req.url, contentType: req.headers['content-type'], body });
      answer(200, 'ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    webhookUrl: `${origin}${secretPath}`,
    origin,
    posts,
    get attempts() {
      return attempts;
    },
    script(answers) {
      queue = [...answers];
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
