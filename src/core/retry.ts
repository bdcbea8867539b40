/**
 * The one retry policy for every remote (registry, Harbor, Slack): which answers are worth another
 * try, how long to wait (capped exponential backoff, or the server's `Retry-After` in either of its
 * two forms), when to give up, and the idempotency rule. Pure: callers pass `now` and, for jitter,
 * a random source; the loop and the sleeping stay in each transport.
 * Retry-After: https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */

/** Statuses that mean "try again later": timeout, rate limit, and the transient server errors. */
export const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Socket-level failures that are transient (connection reset/refused/timed out, DNS try-again). */
const TRANSIENT_ERRNO: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

export interface RetryPolicy {
  /** Total attempts, the first one included (1 = never retry). */
  readonly attempts: number;
  /** First backoff step in ms; doubles each attempt. */
  readonly baseMs: number;
  /** Upper bound of one backoff step. */
  readonly capMs: number;
  /**
   * The longest `Retry-After` we honour. A server asking for more is not served by an earlier
   * retry (it would only be refused again), so the caller gives up at once.
   */
  readonly maxRetryAfterMs: number;
  /** Equal jitter (half fixed, half random) so many clients do not retry in lockstep. */
  readonly jitter: boolean;
}

/** What the last attempt produced. */
export type AttemptOutcome =
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string | undefined }
  /** No answer: `transient` says whether the failure may go away (see `isTransientErrno`). */
  | { readonly kind: 'network'; readonly transient: boolean };

export type RetryDecision =
  | { readonly retry: true; readonly waitMs: number }
  | {
      readonly retry: false;
      readonly reason: 'final' | 'not-idempotent' | 'attempts-exhausted' | 'retry-after-too-long';
    };

/** Whether a method may be sent twice with the same effect (RFC 9110 §9.2.2); POST and PATCH may not. */
export function isIdempotentMethod(method: string): boolean {
  return ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'].includes(method.toUpperCase());
}

/** Whether a Node socket error code names a transient failure worth another attempt. */
export function isTransientErrno(code: string | undefined): boolean {
  return code !== undefined && TRANSIENT_ERRNO.has(code);
}

/** Parse Retry-After (delta-seconds or HTTP-date) into ms from `now`; undefined when absent or junk. */
export function parseRetryAfter(value: string | undefined | null, now: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  // An HTTP-date always names a weekday and GMT (IMF-fixdate, or the obsolete RFC 850/asctime forms).
  if (!/[A-Za-z]{3}/.test(v)) return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** The wait before retry number `retry` (0 = first retry): base·2^retry, capped, optionally jittered. */
export function backoffMs(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.baseMs * 2 ** Math.max(0, retry), policy.capMs);
  if (!policy.jitter) return Math.round(ceiling);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Decide whether to try again after attempt number `attempt` (1-based) ended in `outcome`.
 * Only idempotent requests are retried; a 2xx-4xx answer other than 408/429 is final.
 */
export function nextRetry(
  policy: RetryPolicy,
  attempt: number,
  idempotent: boolean,
  outcome: AttemptOutcome,
  now: number,
  random: () => number = Math.random,
): RetryDecision {
  const retryable = outcome.kind === 'status' ? RETRY_STATUSES.has(outcome.status) : outcome.transient;
  if (!retryable) return { retry: false, reason: 'final' };
  if (!idempotent) return { retry: false, reason: 'not-idempotent' };
  if (attempt >= policy.attempts) return { retry: false, reason: 'attempts-exhausted' };
  if (outcome.kind === 'status') {
    const after = parseRetryAfter(outcome.retryAfter, now);
    if (after !== undefined) {
      if (after > policy.maxRetryAfterMs) return { retry: false, reason: 'retry-after-too-long' };
      return { retry: true, waitMs: after };
    }
  }
  return { retry: true, waitMs: backoffMs(policy, attempt - 1, random) };
}
