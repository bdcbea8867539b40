/**
 * SlackNotifier over real loopback HTTP against the Slack webhook double: the posted body, bounded
 * retries honouring Retry-After, permanent failures, and the webhook URL never leaking.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AiboxError } from '../../src/core/errors.js';
import { streamLogger } from '../../src/core/log.js';
import { registerSecret } from '../../src/core/redact.js';
import {
  emergencyNotice,
  pipelineFailedNotice,
  renderRollbackText,
  rollbackNotice,
} from '../../src/notify/messages.js';
import { runEmergency } from '../../src/cve/emergency.js';
import { newWorld, OLD, rebuild } from '../../src/pipeline/__tests__/world.js';
import { SlackNotifier } from '../../src/notify/slack.js';
import { startSlackDouble, type SlackDouble } from '../doubles/slack.js';

const SECRET_PATH = '/services/T0AIBOX00/B0AIBOX00/s3cretW3bhookT0ken';
let slack: SlackDouble;
let logs: string[];
let waits: number[];

beforeAll(async () => {
  slack = await startSlackDouble(SECRET_PATH);
});
afterAll(async () => {
  await slack.stop();
});
beforeEach(() => {
  logs = [];
  waits = [];
  slack.script([]);
});

function notifier(url = slack.webhookUrl, maxAttempts = 3): SlackNotifier {
  return new SlackNotifier({
    webhookUrl: url,
    maxAttempts,
    logger: streamLogger('debug', (l) => logs.push(l)),
    // records the requested delays instead of waiting (no timing in tests)
    sleep: async (ms) => void waits.push(ms),
  });
}

async function failure(p: Promise<unknown>): Promise<AiboxError> {
  try {
    await p;
  } catch (e: unknown) {
    if (e instanceof AiboxError) return e;
    throw e;
  }
  throw new Error('expected the notice to fail');
}

function leakCheck(e: AiboxError): void {
  const all = JSON.stringify({ m: e.message, h: e.hint, d: e.details, c: String(e.cause) }) + logs.join('');
  expect(all).not.toContain('s3cretW3bhookT0ken');
  expect(all).not.toContain('B0AIBOX00');
}

describe('SlackNotifier against the webhook double', () => {
  it('posts the rollback notice as JSON with the exact runbook text', async () => {
    const before = slack.posts.length;
    await notifier().notify(rollbackNotice('24.04-20260214', 'a broken apt mirror'));
    const post = slack.posts[before]!;
    expect(post.contentType).toBe('application/json');
    expect((post.body as { text: string }).text).toBe(
      renderRollbackText('24.04-20260214', 'a broken apt mirror'),
    );
    expect(Array.isArray((post.body as { blocks: unknown }).blocks)).toBe(true);
    expect(logs.join('')).not.toContain('s3cretW3bhookT0ken');
  });

  it('answers 429 once: waits Retry-After seconds, then delivers', async () => {
    slack.script([{ status: 429, body: 'rate_limited', retryAfter: '2' }]);
    const before = slack.posts.length;
    await notifier().notify(
      pipelineFailedNotice({ variant: 'java', step: 'scan', reason: 'CVE-2026-0001', runId: '7' }),
    );
    expect(waits).toEqual([2000]);
    expect(slack.posts.length).toBe(before + 1);
  });

  it('retries 5xx with backoff, a bounded number of times, then fails with NOTIFY_FAILED', async () => {
    slack.script([{ status: 500 }, { status: 503 }, { status: 500 }, { status: 500 }]);
    const attempts = slack.attempts;
    const e = await failure(notifier(slack.webhookUrl, 3).notify(rollbackNotice('t', 'd')));
    expect(e.code).toBe('NOTIFY_FAILED');
    expect(slack.attempts - attempts).toBe(3);
    expect(waits).toEqual([1000, 2000]);
    expect(e.message).toBe(
      `Slack webhook ${slack.origin}/*** refused "Image rollback" with 500 after 3 attempt(s)`,
    );
    leakCheck(e);
  });

  it('gives up at once when Retry-After exceeds the limit', async () => {
    slack.script([{ status: 429, retryAfter: '3600' }]);
    const e = await failure(notifier().notify(rollbackNotice('t', 'd')));
    expect(e.code).toBe('NOTIFY_FAILED');
    expect(waits).toEqual([]);
  });

  it('a revoked webhook (404 no_service) fails without retry, URL redacted', async () => {
    const attempts = slack.attempts;
    const e = await failure(
      notifier(`${slack.origin}/services/T0AIBOX00/B0AIBOX00/s3cretW3bhookT0kenX`).notify(
        rollbackNotice('t', 'd'),
      ),
    );
    expect(e.code).toBe('NOTIFY_FAILED');
    expect(e.message).toContain('404 no_service');
    expect(e.hint).toMatch(/revoked/);
    expect(slack.attempts - attempts).toBe(1);
    leakCheck(e);
  });

  it('an unreachable webhook fails after the bounded attempts, URL redacted', async () => {
    const e = await failure(
      notifier('http://127.0.0.1:1/services/T0AIBOX00/B0AIBOX00/s3cretW3bhookT0ken', 2).notify(
        rollbackNotice('t', 'd'),
      ),
    );
    expect(e.code).toBe('NOTIFY_FAILED');
    expect(e.message).toMatch(
      /could not post to Slack webhook http:\/\/127\.0\.0\.1:1\/\*\*\* after 2 attempt\(s\)/,
    );
    leakCheck(e);
  });

  it('refuses a non-https webhook off loopback without showing it', () => {
    let err: unknown;
    try {
      notifier('http://hooks.example.com/services/T0AIBOX00/B0AIBOX00/s3cretW3bhookT0ken');
    } catch (e: unknown) {
      err = e;
    }
    expect((err as AiboxError).code).toBe('CONFIG_INVALID');
    leakCheck(err as AiboxError);
  });

  it('scrubs every registered secret and escape code from a notice before it is posted', async () => {
    registerSecret('vault-token-in-a-reason-42');
    const before = slack.posts.length;
    await notifier().notify(
      pipelineFailedNotice({
        variant: 'java',
        step: 'preflight',
        reason: `Vault at http://u:pw-in-url-7@vault:8200 said: bad token vault-token-in-a-reason-42 \u001b[32mOK\u001b[0m ${slack.webhookUrl}`,
        runId: '8',
      }),
    );
    const body = JSON.stringify(slack.posts[before]!.body);
    expect(body).toContain('bad token ***');
    for (const s of ['vault-token-in-a-reason-42', 'pw-in-url-7', 's3cretW3bhookT0ken'])
      expect(body).not.toContain(s);
    expect(body).not.toMatch(/\\u001b/);
  });
});

describe('emergency rebuild notices through the Slack webhook (issue 9 §5)', () => {
  it('the floor-raised notice is Block Kit JSON carrying CVE, CVSS, variants, new tags and the deadline', async () => {
    slack.script([{ status: 503 }]);
    const before = slack.posts.length;
    await notifier().notify(
      emergencyNotice({
        phase: 'floor-raised',
        cves: [{ id: 'CVE-2026-12345', cvss: 9.8 }],
        variants: ['base', 'java'],
        tags: { base: '24.04-20260221-cve-2026-12345', java: '21-24.04-20260221-cve-2026-12345' },
        runId: '20260221T091403-abc123',
        floor: '2026-02-21T09:14:03Z',
        deadline: { at: '2026-02-21T12:00:00Z', met: true },
      }),
    );
    expect(waits.length).toBe(1); // the 503 was retried
    const body = slack.posts[before]!.body as { text: string; blocks: Record<string, unknown>[] };
    expect(body.text).toMatch(
      /Security floor raised for base, java to 2026-02-21T09:14:03Z because of CVE-2026-12345 \(CVSS 9\.8\)/,
    );
    const all = JSON.stringify(body.blocks);
    for (const s of [
      'CVE-2026-12345 (CVSS 9.8)',
      'base: 24.04-20260221-cve-2026-12345',
      '2026-02-21T12:00:00Z (met)',
    ])
      expect(all).toContain(s);
    expect(body.blocks.every((b) => typeof b.type === 'string')).toBe(true);
    expect(logs.join('')).not.toContain('s3cretW3bhookT0ken');
  });

  it('a webhook that keeps failing never fails the emergency rebuild: reported, the URL never logged', async () => {
    const w = await newWorld();
    try {
      expect((await rebuild(w, OLD)).record.result).toBe('success');
      w.scanner.store = w.store;
      w.scanner.advisories = [
        { id: 'CVE-2026-12345', pkg: 'openssl', severity: 'CRITICAL', cvss: 9.8, in: ['/tool'] },
      ];
      slack.script(Array.from({ length: 12 }, () => ({ status: 500 })));
      const r = await runEmergency(
        { ...w.deps, notifier: notifier() },
        { cves: ['CVE-2026-12345'], packages: [], variants: [], full: false, revision: 't' },
      );
      expect(r.outcome).toBe('published');
      expect(r.notices.map((n) => [n.phase, n.delivered])).toEqual([
        ['started', false],
        ['completed', false],
        ['floor-raised', false],
      ]);
      const out = JSON.stringify(r) + logs.join('') + w.warnings.join('');
      expect(out).not.toContain('s3cretW3bhookT0ken');
      expect(out).not.toContain('B0AIBOX00');
    } finally {
      slack.script([]);
      await w.dispose();
    }
  });
});
