import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  RETRY_STATUSES,
  backoffMs,
  isIdempotentMethod,
  nextRetry,
  parseRetryAfter,
  type RetryPolicy,
} from '../retry.js';

const policy: RetryPolicy = { attempts: 4, baseMs: 100, capMs: 1000, maxRetryAfterMs: 5000, jitter: false };
const NOW = Date.parse('2026-02-21T12:00:00Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('2', NOW)).toBe(2000);
    expect(parseRetryAfter(' 0 ', NOW)).toBe(0);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter('Sat, 21 Feb 2026 12:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Sat, 21 Feb 2026 11:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores absent and junk values (signs, fractions, words, absurdly long numbers)', () => {
    for (const v of [undefined, null, '', 'soon', '-1', '1.5', '99999999999']) {
      expect(parseRetryAfter(v, NOW), String(v)).toBeUndefined();
    }
  });
});

describe('backoffMs', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([0, 1, 2, 3, 4, 10].map((r) => backoffMs(policy, r))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('with jitter stays between half and all of the step', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 30 }), fc.double({ min: 0, max: 1, noNaN: true }), (r, rnd) => {
        const step = Math.min(100 * 2 ** r, 1000);
        const w = backoffMs({ ...policy, jitter: true }, r, () => rnd);
        expect(w).toBeGreaterThanOrEqual(Math.floor(step / 2));
        expect(w).toBeLessThanOrEqual(step);
      }),
    );
  });
});

describe('nextRetry', () => {
  it('retries exactly the transient statuses', () => {
    for (let status = 200; status < 600; status++) {
      const d = nextRetry(policy, 1, true, { kind: 'status', status }, NOW);
      expect(d.retry, String(status)).toBe(RETRY_STATUSES.has(status));
    }
  });

  it('never retries a request that is not idempotent', () => {
    expect(nextRetry(policy, 1, false, { kind: 'status', status: 503 }, NOW)).toEqual({
      retry: false,
      reason: 'not-idempotent',
    });
    expect(nextRetry(policy, 1, false, { kind: 'network', transient: true }, NOW).retry).toBe(false);
  });

  it('stops after the attempt budget', () => {
    expect(nextRetry(policy, 3, true, { kind: 'status', status: 500 }, NOW)).toEqual({
      retry: true,
      waitMs: 400,
    });
    expect(nextRetry(policy, 4, true, { kind: 'status', status: 500 }, NOW)).toEqual({
      retry: false,
      reason: 'attempts-exhausted',
    });
  });

  it("honours the server's Retry-After, and gives up when it asks for more than the policy waits", () => {
    expect(nextRetry(policy, 1, true, { kind: 'status', status: 429, retryAfter: '3' }, NOW)).toEqual({
      retry: true,
      waitMs: 3000,
    });
    expect(nextRetry(policy, 1, true, { kind: 'status', status: 429, retryAfter: '3600' }, NOW)).toEqual({
      retry: false,
      reason: 'retry-after-too-long',
    });
  });

  it('retries transient network failures only', () => {
    expect(nextRetry(policy, 1, true, { kind: 'network', transient: true }, NOW).retry).toBe(true);
    expect(nextRetry(policy, 1, true, { kind: 'network', transient: false }, NOW).retry).toBe(false);
  });
});

describe('isIdempotentMethod', () => {
  it('follows RFC 9110: POST and PATCH are not', () => {
    expect(['GET', 'head', 'PUT', 'DELETE'].every(isIdempotentMethod)).toBe(true);
    expect(['POST', 'PATCH'].some(isIdempotentMethod)).toBe(false);
  });
});
