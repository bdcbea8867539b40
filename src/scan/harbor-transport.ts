/**
 * The one module that talks HTTP to Harbor's REST API (/api/v2.0). Basic auth on every request, no
 * cookies (so CSRF never applies, harbor.md §1), no redirects followed (credentials never travel to
 * another origin), retries of 408/429/5xx and network errors for GETs, status checked in one place
 * with Harbor's `{"errors":[…]}` body turned into a message. The password never appears in logs or
 * errors.
 */
import { AiboxError, describeError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { isIdempotentMethod, nextRetry, type RetryPolicy } from '../core/retry.js';

export interface HarborCredentials {
  readonly username: string;
  readonly password: string;
}

export interface HarborTransportOptions {
  /** Harbor's base URL, e.g. https://harbor.internal (no path, no credentials). */
  readonly baseUrl: string;
  readonly credentials: HarborCredentials;
  readonly logger?: Logger;
  /** Per-request limit; default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Extra attempts for retryable GET failures; default 2. */
  readonly retries?: number;
  /** Injected for tests; default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface HarborRequest {
  readonly query?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Statuses the caller handles; anything else throws. */
  readonly expect: readonly number[];
  /** What to grant when Harbor answers 403 (default: the scanning permissions). */
  readonly permissions?: string;
}

export interface HarborResponse {
  readonly status: number;
  readonly body: unknown;
  readonly requestId: string | undefined;
  /** The `Location` header of a create (e.g. /api/v2.0/retentions/3), when Harbor sent one. */
  readonly location?: string | undefined;
}

export type HarborMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Backoff 250 ms, 500 ms, …; a Retry-After over 10 s is not waited for (core/retry). */
const RETRY: Omit<RetryPolicy, 'attempts'> = {
  baseMs: 250,
  capMs: 10_000,
  maxRetryAfterMs: 10_000,
  jitter: false,
};

/** Permissions a robot account needs for scanning (harbor.md §1), quoted in hints. */
export const HARBOR_SCAN_PERMISSIONS =
  'scan:create, scan:read, artifact:read and artifact-addition:read on the project';

function sleepReal(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Harbor's in-URL repository name: encoded twice, so "team/app" becomes "team%252Fapp" (harbor.md §0). */
export function harborRepositorySegment(repository: string): string {
  return encodeURIComponent(encodeURIComponent(repository));
}

/** Normalise and check a base URL: http(s), no credentials, no query; trailing slash dropped. */
export function harborBaseUrl(input: string): string {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `invalid Harbor URL "${input.replace(/\/\/[^/@]*@/, '//***@').slice(0, 200)}": not a URL`,
      hint: 'Use e.g. https://harbor.internal',
    });
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.search || u.hash) {
    throw new AiboxError({
      code: 'CONFIG_INVALID',
      message: `invalid Harbor URL "${u.protocol}//${u.host}${u.pathname}": must be http(s) without credentials, query or fragment`,
      hint: 'Use e.g. https://harbor.internal; credentials come from the HARBOR_USERNAME / HARBOR_PASSWORD environment variables',
    });
  }
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

function harborErrors(body: unknown): string {
  const errs = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errs)) return '';
  return errs
    .map((e: unknown) => {
      const { code, message } = (e ?? {}) as { code?: unknown; message?: unknown };
      return [typeof code === 'string' ? code : '', typeof message === 'string' ? message : '']
        .filter(Boolean)
        .join(': ');
    })
    .filter(Boolean)
    .join('; ')
    .slice(0, 500);
}

/** HTTP client for Harbor's REST API. */
export class HarborTransport {
  readonly #base: string;
  readonly #auth: string;
  readonly #user: string;
  readonly #secrets: string[];
  readonly #logger: Logger;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(o: HarborTransportOptions) {
    this.#base = harborBaseUrl(o.baseUrl);
    const token = Buffer.from(`${o.credentials.username}:${o.credentials.password}`, 'utf8').toString(
      'base64',
    );
    this.#auth = `Basic ${token}`;
    this.#user = o.credentials.username;
    this.#secrets = [o.credentials.password, token].filter((s) => s.length >= 1);
    this.#logger = o.logger ?? silentLogger;
    this.#timeoutMs = o.requestTimeoutMs ?? 30_000;
    this.#retries = o.retries ?? 2;
    this.#sleep = o.sleep ?? sleepReal;
  }

  /** Base URL (for messages; carries no credentials). */
  get baseUrl(): string {
    return this.#base;
  }

  #redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) out = out.split(s).join('***');
    return out;
  }

  /** Send one request to `/api/v2.0${path}` and return the parsed JSON body (undefined when empty). */
  async request(method: HarborMethod, path: string, req: HarborRequest): Promise<HarborResponse> {
    const qs = req.query ? `?${new URLSearchParams(req.query).toString()}` : '';
    const url = `${this.#base}/api/v2.0${path}${qs}`;
    const shown = `${method} ${url}`;
    const policy: RetryPolicy = { ...RETRY, attempts: 1 + this.#retries };
    // Only idempotent methods (GET, PUT, DELETE) are retried: a POST (start a scan, create) is not.
    const idempotent = isIdempotentMethod(method);
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          redirect: 'manual',
          headers: {
            accept: 'application/json',
            authorization: this.#auth,
            // an all-digit project name must not be taken as a project id (harbor.md §0)
            'x-is-resource-name': 'true',
            ...(req.body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...req.headers,
          },
          ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
      } catch (e: unknown) {
        const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
        const next = nextRetry(policy, attempt, idempotent, { kind: 'network', transient: true }, Date.now());
        if (next.retry) {
          this.#logger.debug(`${shown} failed (${this.#redact(describeError(e))}); retrying`);
          await this.#sleep(next.waitMs);
          continue;
        }
        throw new AiboxError({
          code: timedOut ? 'TIMEOUT' : 'REGISTRY_UNREACHABLE',
          message: timedOut
            ? `${shown} got no answer within ${Math.round(this.#timeoutMs / 1000)} s`
            : `cannot reach Harbor at ${this.#base}: ${this.#redact(describeError(e))}`,
          hint: 'Check the Harbor URL (scan.harbor.url) and that this machine can reach it',
        });
      }
      const text = await res.text();
      const requestId = res.headers.get('x-request-id') ?? undefined;
      this.#logger.debug(`${shown} → ${res.status} (${Math.round(performance.now() - started)} ms)`);
      let body: unknown;
      if (text.trim() !== '') {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          body = undefined;
          if (req.expect.includes(res.status)) {
            throw new AiboxError({
              code: 'REGISTRY_ERROR',
              message: `${shown} answered ${res.status} with a body that is not JSON`,
              hint: "Is the URL Harbor's? aibox expects the Harbor v2.0 REST API",
            });
          }
        }
      }
      if (req.expect.includes(res.status)) {
        const location = res.headers.get('location') ?? undefined;
        return { status: res.status, body, requestId, ...(location ? { location } : {}) };
      }
      const next = nextRetry(
        policy,
        attempt,
        idempotent,
        { kind: 'status', status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined },
        Date.now(),
      );
      if (next.retry) {
        this.#logger.debug(`${shown} → ${res.status}; retrying in ${next.waitMs} ms`);
        await this.#sleep(next.waitMs);
        continue;
      }
      throw this.#statusError(shown, res.status, body, requestId, req.permissions);
    }
  }

  #statusError(
    shown: string,
    status: number,
    body: unknown,
    requestId: string | undefined,
    permissions = HARBOR_SCAN_PERMISSIONS,
  ): AiboxError {
    const detail = this.#redact(harborErrors(body));
    const suffix = `${detail ? `: ${detail}` : ''}${requestId ? ` (X-Request-Id ${requestId})` : ''}`;
    const details = { status, ...(requestId ? { requestId } : {}) };
    if (status === 401) {
      return new AiboxError({
        code: 'REGISTRY_AUTH',
        message: `Harbor rejected the credentials of "${this.#user}" (401) on ${shown}${suffix}`,
        hint: 'Check HARBOR_USERNAME / HARBOR_PASSWORD (a robot account logs in as robot$<project>+<name>)',
        details,
      });
    }
    if (status === 403) {
      return new AiboxError({
        code: 'REGISTRY_AUTH',
        message: `"${this.#user}" may not do ${shown} (403)${suffix}`,
        hint: `Grant the robot account ${permissions}`,
        details,
      });
    }
    if (status === 404) {
      return new AiboxError({
        code: 'NOT_FOUND',
        message: `Harbor has no such resource: ${shown} (404)${suffix}`,
        hint: 'Check that the image was pushed to this Harbor project, and the project name',
        details,
      });
    }
    if (status >= 300 && status < 400) {
      return new AiboxError({
        code: 'REGISTRY_ERROR',
        message: `${shown} answered with a redirect (${status}); aibox does not follow redirects with credentials`,
        hint: 'Set scan.harbor.url to the final Harbor URL (e.g. https:// instead of http://)',
        details,
      });
    }
    return new AiboxError({
      code: 'REGISTRY_ERROR',
      message: `${shown} failed with ${status}${suffix}`,
      hint:
        status >= 500
          ? 'Harbor had an internal error; check its core and jobservice logs'
          : 'See the Harbor message above',
      details,
    });
  }
}
