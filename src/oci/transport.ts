/**
 * HTTP transport for registries: the only module that talks HTTP to a registry (undici).
 * Keep-alive connection reuse, a concurrency semaphore, retries with exponential backoff + jitter
 * and Retry-After (idempotent requests only), per-request timeouts, manual redirects that never
 * carry Authorization to another origin, and status checking with OCI error bodies in one place.
 */
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { AiboxError, type ErrorCode } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { formatOciErrors, parseOciErrors, redactUrl } from './errors.js';

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** May be retried on 408/429/5xx and connection failures (GET/HEAD/PUT manifest/DELETE). */
  readonly idempotent: boolean;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The URL that produced this response (after redirects). */
  readonly url: URL;
  /** Must be consumed (readBody/stream) or discarded, or the concurrency slot stays taken. */
  readonly body: Dispatcher.ResponseData['body'];
}

export interface TransportOptions {
  readonly logger?: Logger;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  readonly retries?: number;
  /** First backoff step in ms (doubles each attempt, with jitter). */
  readonly retryBaseMs?: number;
  /** Upper bound for any single wait, including Retry-After. */
  readonly maxRetryWaitMs?: number;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRY_ERRNO = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

/** A counting semaphore: bounds in-flight requests per client. */
export class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];
  constructor(n: number) {
    this.#free = Math.max(1, Math.floor(n));
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiters.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiters.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

/** First value of a header (undici gives string | string[]). */
export function header(res: { headers: HttpResponse['headers'] }, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** All values of a header joined with ", " (WWW-Authenticate may repeat). */
export function headerAll(res: { headers: HttpResponse['headers'] }, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Parse Retry-After (delta-seconds or HTTP-date) into ms; undefined when absent or junk. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

function errnoOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof o.code === 'string' && o.code !== 'UND_ERR') return o.code;
  if (Array.isArray(o.errors) && o.errors.length > 0) return errnoOf(o.errors[0]);
  if (o.cause !== undefined && o.cause !== e) return errnoOf(o.cause);
  return undefined;
}

function causeText(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) {
    return [...new Set(e.errors.map((x) => (x instanceof Error ? x.message : String(x))))].join('; ');
  }
  const msg = e instanceof Error ? e.message : String(e);
  const code = errnoOf(e);
  return code && !msg.includes(code) ? `${msg} (${code})` : msg;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Read a whole response body, refusing more than `limit` bytes (the caller names the error). */
export async function readBody(
  res: HttpResponse,
  limit: number,
  tooLarge: (read: number) => AiboxError,
): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > limit) {
        res.body.destroy();
        throw tooLarge(total);
      }
      chunks.push(chunk);
    }
  } catch (e: unknown) {
    if (e instanceof AiboxError) throw e;
    throw new AiboxError({
      code: 'REGISTRY_UNREACHABLE',
      message: `reading response from ${redactUrl(res.url)} failed: ${causeText(e)}`,
      hint: 'the connection broke mid-transfer; retry',
      cause: e,
    });
  }
  const out = Buffer.concat(chunks, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Drop a response body we do not need, freeing the connection and the concurrency slot. */
export async function discard(res: HttpResponse): Promise<void> {
  try {
    await res.body.dump({ limit: 256 * 1024 });
  } catch {
    /* nothing to do: the slot is released on close either way */
  }
}

export interface StatusContext {
  /** What we were doing, e.g. `GET manifest 127.0.0.1:5000/demo/app:v1`. */
  readonly what: string;
  /** Extra text for 401/403, e.g. which credential source was tried. */
  readonly authNote?: string;
  /** Override the code for 404 (default NOT_FOUND). */
  readonly notFoundHint?: string;
}

/** The one place a registry status becomes success or a typed AiboxError (body parsed as OCI errors). */
export async function checkStatus(
  res: HttpResponse,
  expected: readonly number[],
  ctx: StatusContext,
): Promise<void> {
  if (expected.includes(res.status)) return;
  let body: Uint8Array = new Uint8Array();
  try {
    body = await readBody(
      res,
      64 * 1024,
      () => new AiboxError({ code: 'REGISTRY_ERROR', message: 'error body too large' }),
    );
  } catch {
    /* the status alone has to do */
  }
  throw statusError(res.status, res.url, body, ctx);
}

/** Build the error for an unexpected status; exported so callers that already read the body share it. */
export function statusError(status: number, url: URL, body: Uint8Array, ctx: StatusContext): AiboxError {
  const entries = parseOciErrors(body);
  let detail = formatOciErrors(entries);
  if (!detail && body.byteLength > 0 && body.byteLength < 300) {
    detail = new TextDecoder().decode(body).trim().replace(/\s+/g, ' ');
  }
  const where = redactUrl(url);
  const base = `${ctx.what} failed: HTTP ${status} from ${where}${detail ? ` (${detail})` : ''}`;
  let code: ErrorCode = 'REGISTRY_ERROR';
  let hint: string | undefined;
  let message = base;
  if (status === 401 || status === 403) {
    code = 'REGISTRY_AUTH';
    message = `${base}${ctx.authNote ? ` ${ctx.authNote}` : ''}`;
    hint =
      status === 401
        ? 'log in (podman login / docker login) or set REGISTRY_AUTH_FILE to an auth.json with credentials for this registry'
        : 'the credentials are valid but lack permission for this repository or action';
  } else if (status === 404) {
    code = 'NOT_FOUND';
    hint = ctx.notFoundHint ?? 'check the repository, tag or digest exists on this registry';
  } else if (status === 429) {
    hint = 'the registry is rate-limiting; wait and retry, or authenticate for a higher limit';
  } else if (status >= 500) {
    hint = 'the registry reported a server error; retry later or check its logs';
  }
  return new AiboxError({
    code,
    message,
    ...(hint !== undefined ? { hint } : {}),
    details: { status, url: where, errors: entries.map((e) => e.code) },
  });
}

/** Transport bound to one undici Agent; shared by all requests of one RegistryClient. */
export class Transport {
  readonly #agent: Agent;
  readonly #sem: Semaphore;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #baseMs: number;
  readonly #maxWaitMs: number;

  constructor(opts: TransportOptions = {}) {
    const concurrency = opts.concurrency ?? 16;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#retries = Math.max(0, opts.retries ?? 3);
    this.#baseMs = opts.retryBaseMs ?? 100;
    this.#maxWaitMs = opts.maxRetryWaitMs ?? 30_000;
    this.#log = opts.logger ?? silentLogger;
    this.#sem = new Semaphore(concurrency);
    this.#agent = new Agent({
      connections: concurrency,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: { timeout: this.#timeoutMs },
    });
  }

  /** Send with retries and redirects; the returned body holds a concurrency slot until consumed. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    let attempt = 0;
    for (;;) {
      const release = await this.#sem.acquire();
      let res: HttpResponse;
      try {
        res = await this.#sendFollowing(req);
      } catch (e: unknown) {
        release();
        if (e instanceof AiboxError) throw e;
        const code = errnoOf(e);
        if (req.idempotent && code !== undefined && RETRY_ERRNO.has(code) && attempt < this.#retries) {
          const wait = this.#backoff(attempt++);
          this.#log.debug(`${req.method} ${redactUrl(req.url)}: ${causeText(e)}; retrying in ${wait}ms`);
          await sleep(wait);
          continue;
        }
        throw this.#networkError(req, e, attempt + 1);
      }
      const body = res.body;
      body.once('close', release);
      body.once('end', release);
      body.once('error', release);
      if (req.method === 'HEAD') void discard(res);
      if (req.idempotent && RETRY_STATUS.has(res.status) && attempt < this.#retries) {
        const after = parseRetryAfter(header(res, 'retry-after'), Date.now());
        await discard(res);
        const wait = Math.min(after ?? this.#backoff(attempt), this.#maxWaitMs);
        attempt++;
        this.#log.debug(`${req.method} ${redactUrl(req.url)}: HTTP ${res.status}; retrying in ${wait}ms`);
        await sleep(wait);
        continue;
      }
      return res;
    }
  }

  /** Release the pooled connections. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#baseMs * 2 ** attempt, 5_000);
    return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
  }

  async #sendFollowing(req: HttpRequest): Promise<HttpResponse> {
    const origin = req.url.origin;
    let url = req.url;
    let method: HttpMethod = req.method;
    let body = req.body;
    let headers: Record<string, string> = { ...req.headers };
    for (let hop = 0; ; hop++) {
      const started = performance.now();
      const r = await undiciRequest(url, {
        dispatcher: this.#agent,
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        // undici closes the connection after every HEAD unless told otherwise (nodejs/undici#258);
        // registries answer HEAD correctly, and thousands of tag HEADs need keep-alive reuse.
        reset: false,
      });
      const res: HttpResponse = { status: r.statusCode, headers: r.headers, url, body: r.body };
      if (this.#log !== silentLogger) {
        this.#log.debug(
          `${method} ${redactUrl(url)} -> ${r.statusCode} (${Math.round(performance.now() - started)}ms)`,
        );
      }
      const location = header(res, 'location');
      if (!REDIRECTS.has(r.statusCode) || location === undefined) return res;
      await discard(res);
      if (hop >= MAX_REDIRECTS) {
        throw new AiboxError({
          code: 'REGISTRY_ERROR',
          message: `${req.method} ${redactUrl(req.url)}: more than ${MAX_REDIRECTS} redirects`,
          hint: 'the registry or its storage backend is redirecting in a loop',
        });
      }
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new AiboxError({
          code: 'REGISTRY_ERROR',
          message: `${req.method} ${redactUrl(req.url)}: redirect to unsupported scheme ${next.protocol}`,
        });
      }
      if (next.origin !== origin) {
        // Never carry registry credentials to another host (e.g. blob storage).
        headers = Object.fromEntries(
          Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'),
        );
      }
      if (r.statusCode === 303 || ((r.statusCode === 301 || r.statusCode === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  #networkError(req: HttpRequest, e: unknown, attempts: number): AiboxError {
    const code = errnoOf(e);
    const where = redactUrl(req.url);
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    if (
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT' ||
      code === 'UND_ERR_CONNECT_TIMEOUT'
    ) {
      return new AiboxError({
        code: 'TIMEOUT',
        message: `registry at ${where} did not answer within ${this.#timeoutMs}ms${tries}`,
        hint: 'check the registry is healthy, or raise the timeout',
        cause: e,
      });
    }
    const tls =
      req.url.protocol === 'https:' && /SSL|TLS|EPROTO|wrong version/i.test(`${code ?? ''} ${causeText(e)}`);
    return new AiboxError({
      code: 'REGISTRY_UNREACHABLE',
      message: `cannot reach registry at ${where}: ${causeText(e)}${tries}`,
      hint: tls
        ? `the registry may be answering over plain HTTP; add "${req.url.host}" to insecureHosts if that is intended`
        : 'check the registry host and port, that it is running, and your network/proxy settings',
      cause: e,
      details: { url: where, errno: code },
    });
  }
}
